"""The plugins folder as Airflow scans it: every process runs each .py file it finds there.

A task process loads plugins through the Task SDK, which executes every unignored .py file of
the plugins folder as a top-level module. ``plugins/.airflowignore`` leaves only the plugin's
entry module to that scan, so no task process imports the UI's FastAPI app or runs the
package's modules a second time under stray names.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.deployment import ROOT

PLUGINS = ROOT / "plugins"


def test_the_scan_runs_only_the_plugin_module():
    from airflow.sdk._shared.plugins_manager.plugins_manager import (
        _load_plugins_from_plugin_directory,
    )

    package_modules = {path.stem for path in PLUGINS.rglob("*.py")}
    assert {"app", "data", "operators", "hooks"} <= package_modules  # what the scan could run
    stray = package_modules - {"plugin"}
    before = {name for name in stray if name in sys.modules}
    try:
        plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=str(PLUGINS))
        executed = {name for name in stray if name in sys.modules} - before
    finally:
        sys.modules.pop("plugin", None)
    assert errors == {}
    assert [type(plugin).__name__ for plugin in plugins] == ["LicenseManagerPlugin"]
    assert [Path(plugin.source.path) for plugin in plugins] == [Path("license_manager/plugin.py")]
    assert executed == set()
