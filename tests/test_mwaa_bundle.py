"""``make mwaa``'s plugins.zip and requirements.txt, installed as MWAA installs them: into a
fresh environment holding the Airflow version they were made for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deployment import ROOT, find_uv

# slow: a wheel build and a fresh environment with Airflow, made once on one xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mwaa_bundle")]

MWAA_AIRFLOW = "3.1.8"  # the oldest supported minor's newest patch, as in the Makefile
sys.path.insert(0, str(ROOT / "tools"))
import mwaa_bundle  # noqa: E402


def clean_env(**extra: str) -> dict[str, str]:
    prefixes = ("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "AWS_", "UV_")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, Path]:
    if find_uv() is None:
        pytest.fail("uv is needed: run `make install` (it installs .local/tools/bin/uv)")
    return mwaa_bundle.write_bundle(MWAA_AIRFLOW, tmp_path_factory.mktemp("mwaa") / "out")


def test_plugins_zip_holds_the_wheel_and_an_airflowignore(bundle):
    plugins, _ = bundle
    with zipfile.ZipFile(plugins) as archive:
        names = sorted(archive.namelist())
        ignore = archive.read(".airflowignore").decode()
    assert len(names) == 2 and names[0] == ".airflowignore"
    assert names[1].startswith("airflow_license_tracking-") and names[1].endswith(".whl")
    assert "*.whl" in ignore.splitlines()


def test_requirements_install_the_wheel_from_the_plugins_folder_under_the_constraints(bundle):
    plugins, requirements = bundle
    with zipfile.ZipFile(plugins) as archive:
        wheel = next(n for n in archive.namelist() if n.endswith(".whl"))
    assert requirements.read_text().splitlines() == [
        "--constraint "
        f'"https://raw.githubusercontent.com/apache/airflow/constraints-{MWAA_AIRFLOW}/'
        'constraints-3.11.txt"',
        f"/usr/local/airflow/plugins/{wheel}",
    ]


def test_the_bundle_installs_into_a_fresh_environment_of_that_airflow(bundle, tmp_path):
    plugins, requirements = bundle
    unpacked = tmp_path / "plugins"
    with zipfile.ZipFile(plugins) as archive:
        archive.extractall(unpacked)
    lines = requirements.read_text().splitlines()
    # The tests reach PyPI but no other host, so the constraints URL cannot be read here: the
    # line is dropped, and pinning apache-airflow below stands in for it (the resolver may not
    # move Airflow, as under MWAA's constraints). The plugins path is the unpacked folder.
    local = [
        line.replace(mwaa_bundle.MWAA_PLUGINS_FOLDER, str(unpacked))
        for line in lines
        if not line.startswith("--constraint")
    ]
    (tmp_path / "requirements.txt").write_text("\n".join(local) + "\n")
    uv, venv = find_uv(), tmp_path / "venv"
    python = venv / "bin" / "python"
    run([uv, "venv", "--quiet", "--python", "python3.11", venv], env=clean_env())
    install = ["pip", "install", "--quiet", "--python", python, f"apache-airflow=={MWAA_AIRFLOW}"]
    run([uv, *install, "-r", tmp_path / "requirements.txt"], env=clean_env())

    code = "import importlib.metadata as m; print(m.version('apache-airflow'))"
    assert run([python, "-c", code], env=clean_env()).stdout.split()[-1] == MWAA_AIRFLOW
    home = tmp_path / "airflow-home"
    env = clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(unpacked),
        AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )
    result = run([venv / "bin" / "airflow", "plugins", "--output", "json"], env=env, cwd=tmp_path)
    listing = next(line for line in result.stdout.splitlines() if line.startswith("["))
    (plugin,) = [p for p in json.loads(listing) if p["name"] == "license_manager"]
    assert "EntryPoint(name='license_manager'" in plugin["source"]
