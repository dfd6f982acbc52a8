"""The Airflow plugin entry point of the package.

Airflow 3 plugins no longer register operators or hooks (those are imported like any Python
module: ``from license_manager.operators import LicenseManagerOperator``), so the plugin only
makes the installed package visible under its name in ``airflow plugins`` and the UI.

Loaded either from the ``airflow.plugins`` entry point of the installed distribution, or from
the plugins folder when ``plugins/`` is copied or mounted there. Importing it must stay cheap:
the scheduler, API server and every worker load plugins, so nothing but Airflow's base class
is imported here.
"""

from __future__ import annotations

from airflow.sdk.plugins_manager import AirflowPlugin


class LicenseManagerPlugin(AirflowPlugin):
    """AWS License Manager reporting: ``LicenseManagerOperator`` and ``LicenseManagerHook``."""

    name = "license_manager"
