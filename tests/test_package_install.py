"""The package installed the way a managed Airflow or a plain virtualenv gets it.

A fresh virtual environment receives the locked runtime requirements (requirements/docker.txt,
what the image installs; through uv and its cache, so that the test stays fast and offline
for them), then the project with ``pip install --no-deps .``: pip builds the wheel with
hatchling and installs the ``airflow.plugins`` entry point. ``airflow plugins`` must then list
the plugin from that entry point, with an empty plugins folder and away from the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.deployment import ROOT, find_uv

DISTRIBUTION = "airflow-license-tracking"
# slow: a fresh virtual environment and a wheel build, made once on one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("package_install")]

ENTRY_POINT = (
    "EntryPoint(name='license_manager', value='license_manager.plugin:LicenseManagerPlugin', "
    "group='airflow.plugins')"
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "AWS_", "UV_"))
    }
    env.update(extra)
    return env


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    uv = find_uv()
    if uv is None:
        pytest.fail("uv is needed: run `make install` (it installs .local/tools/bin/uv)")
    base = tmp_path_factory.mktemp("package-install")
    venv = base / "venv"
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "venv", str(venv)], env=clean_env())
    run(
        [uv, "pip", "install", "--python", str(python), "-r", "requirements/docker.txt"],
        cwd=ROOT,
        env=clean_env(UV_PYTHON_DOWNLOADS="never"),
    )
    run(
        [str(python), "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "."],
        cwd=ROOT,
        env=clean_env(),
    )
    home = base / "airflow-home"
    plugins = base / "empty-plugins-folder"
    plugins.mkdir()
    env = clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins),
        AIRFLOW__CORE__DAGS_FOLDER=str(plugins),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    return venv, env, base


def test_airflow_plugins_lists_the_entry_point_plugin(installed):
    venv, env, cwd = installed
    result = run([str(venv / "bin" / "airflow"), "plugins", "--output", "json"], env=env, cwd=cwd)
    listing = next(line for line in result.stdout.splitlines() if line.startswith("["))
    plugins = {plugin["name"]: plugin for plugin in json.loads(listing)}
    assert list(plugins) == ["license_manager"]
    assert plugins["license_manager"]["source"] == f"{DISTRIBUTION}==0.1.0: {ENTRY_POINT}"


def test_the_package_imports_from_the_environment(installed):
    venv, env, cwd = installed
    code = (
        "import license_manager, license_manager.operators, license_manager.hooks;"
        "from license_manager.operators import LicenseManagerOperator;"
        "print(license_manager.__file__)"
    )
    location = run([str(venv / "bin" / "python"), "-c", code], env=env, cwd=cwd).stdout.strip()
    assert location.startswith(str(venv)), location
    assert not location.startswith(str(ROOT / "plugins"))
