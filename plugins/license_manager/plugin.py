"""The Airflow plugin entry point of the package.

Airflow 3 plugins no longer register operators or hooks (those are imported like any Python
module: ``from license_manager.operators import LicenseManagerOperator``), so the plugin makes
the installed package visible under its name in ``airflow plugins`` and the UI, and offers one
opt-in: ``[license_manager] preload``. It also adds the "License consumption" page to the UI:
a FastAPI app that the api-server mounts at ``/license-consumption``, linked in the navigation.

Loaded either from the ``airflow.plugins`` entry point of the installed distribution, or from
the plugins folder when ``plugins/`` is copied or mounted there. Importing it stays cheap: the
scheduler, API server and every worker load plugins, so nothing but Airflow's base class is
imported unless the preload is switched on.
"""

from __future__ import annotations

from typing import Any

from license_manager.compat import AirflowPlugin

PRELOAD_SECTION, PRELOAD_OPTION = "license_manager", "preload"
PAGE_URL_PREFIX = "/license-consumption"


class LazyApp:
    """An ASGI app that imports the page's FastAPI app on its first request.

    Only the api-server serves it; every other process loads the plugin without FastAPI.
    """

    def __init__(self, factory: str) -> None:
        self.factory = factory
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            import importlib

            module, name = self.factory.split(":")
            self._app = getattr(importlib.import_module(module), name)
        await self._app(scope, receive, send)


class LicenseManagerPlugin(AirflowPlugin):
    """AWS License Manager reporting: ``LicenseManagerOperator`` and ``LicenseManagerHook``."""

    name = "license_manager"
    fastapi_apps = [
        {
            "name": "License consumption",
            "app": LazyApp("license_manager.ui.app:app"),
            "url_prefix": PAGE_URL_PREFIX,
        }
    ]
    external_views = [
        {
            "name": "License consumption",
            "href": f"{PAGE_URL_PREFIX}/",
            "destination": "nav",
            "url_route": "license-consumption",
        }
    ]

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
