"""The Airflow plugin entry point of the package.

Airflow 3 plugins no longer register operators or hooks (those are imported like any Python
module: ``from license_manager.operators import LicenseManagerOperator``), so the plugin makes
the installed package visible under its name in ``airflow plugins`` and the UI, and offers one
opt-in: ``[license_manager] preload``.

Loaded either from the ``airflow.plugins`` entry point of the installed distribution, or from
the plugins folder when ``plugins/`` is copied or mounted there. Importing it stays cheap: the
scheduler, API server and every worker load plugins, so nothing but Airflow's base class is
imported unless the preload is switched on.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.plugins_manager import AirflowPlugin

PRELOAD_SECTION, PRELOAD_OPTION = "license_manager", "preload"


class LicenseManagerPlugin(AirflowPlugin):
    """AWS License Manager reporting: ``LicenseManagerOperator`` and ``LicenseManagerHook``."""

    name = "license_manager"

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        """With ``[license_manager] preload = True``, import ``license_manager.preload`` now.

        Together with ``[core] lazy_load_plugins = False`` this happens when each Airflow
        process starts, so the executor's workers and every task process they fork inherit
        boto3, the hooks and botocore's parsed data instead of loading them per task.
        """
        from airflow.configuration import conf

        if conf.getboolean(PRELOAD_SECTION, PRELOAD_OPTION, fallback=False):
            import license_manager.preload  # noqa: F401
