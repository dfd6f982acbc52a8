"""One cell of the compatibility matrix: the wheel in a fresh environment that holds one Airflow.

    python tools/compat_matrix.py --airflow 3.1.8 [--amazon 9.21.0] [--python python3.12]

1. ``uv build --wheel`` builds the package;
2. ``.local/compat/<airflow>[-amazon-<amazon>]/`` gets a virtual environment holding exactly
   that Airflow (and amazon provider, when given) with the dependency versions of its release
   day, as Airflow's constraints files would give them, then the test tools pinned in
   pyproject's dev group. It is reused while those inputs are unchanged (``compat-inputs.json``);
3. the wheel is installed there under the environment's constraints, so that the resolver
   cannot change Airflow; the installed Airflow (and provider) versions are then checked;
4. ``airflow plugins``, with an empty plugins folder, must list the plugin from the wheel's
   entry point;
5. the DAG-level tests (marker ``dag_run``: ``dag.test`` against the local AWS, and the page's
   tests in tests/test_ui.py) and the checks of the reaches into Airflow and provider internals
   (marker ``provider_seams``) run with that environment's Python, with the installed package
   and without ``plugins/`` on ``sys.path`` (tests/conftest.py checks where ``license_manager``
   was imported from and says so in the report header).

Standard library only: it runs with any Python 3.11. Reaches the package index only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = ROOT / ".local" / "tools" / "bin" / "uv"
COMPAT = ROOT / ".local" / "compat"
DISTRIBUTION = "airflow-license-tracking"
#: The dev-group members a cell needs to run the DAG-level tests (pins from pyproject.toml).
TEST_TOOLS = ("pytest", "pytest-xdist", "moto", "hypothesis", "duckdb")
#: What tests/airflow_home.py reads: run against the installed package, no plugins folder.
INSTALLED_PACKAGE_VARIABLE = "LICENSE_TRACKING_TEST_INSTALLED_PACKAGE"
DEFAULT_PYTHON = "python3.11"


def log(message: str) -> None:
    print(f"[compat] {message}", flush=True)


def run(args: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = [str(arg) for arg in args]
    log("$ " + " ".join(command))
    return subprocess.run(command, check=True, text=True, **kwargs)  # type: ignore[call-overload]


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without Airflow's, Python's and uv's settings."""
    prefixes = ("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "UV_", "PYTEST")
    env = {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
    env.update(UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def test_tool_pins() -> list[str]:
    """The dev group's pins of ``TEST_TOOLS`` (``moto[server]==...`` and so on)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = []
    for item in pyproject["dependency-groups"]["dev"]:
        name = item.split("[")[0].split("=")[0].strip()
        if name in TEST_TOOLS:
            pins.append(item)
    assert len(pins) == len(TEST_TOOLS), f"dev group lacks one of {TEST_TOOLS}: {pins}"
    return pins


def requirement_name(requirement: str) -> str:
    """``moto[server]==5.2.5`` -> ``moto``; ``Foo_Bar==1`` -> ``foo-bar`` (PEP 503)."""
    name = re.split(r"[\[=<>!~; ]", requirement, maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_tool_requirements(constraints: str) -> list[str]:
    """The test tools' pins, less the version of any tool the cell's Airflow already holds.

    Airflow's own dependencies may pull a test tool in (amazon 9.6.0 needs sagemaker-studio,
    which needs duckdb 1.x): there the environment's version is the one the cell tests with.
    """
    held = {requirement_name(line) for line in constraints.splitlines() if "==" in line}
    requirements = []
    for pin in test_tool_pins():
        if requirement_name(pin) in held:
            unpinned = pin.split("==")[0]
            log(f"{unpinned}: the version this Airflow's dependencies hold, not the dev pin")
            requirements.append(unpinned)
        else:
            requirements.append(pin)
    return requirements


def build_wheel() -> Path:
    out = COMPAT / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    run([UV, "build", "--wheel", "--out-dir", out], cwd=ROOT, env=clean_environment())
    (wheel,) = out.glob("*.whl")
    return wheel


def cell_requirements(airflow: str, amazon: str | None) -> list[str]:
    pinned = [f"apache-airflow=={airflow}"]
    if amazon:
        pinned.append(f"apache-airflow-providers-amazon=={amazon}")
    return pinned


def release_cutoff(airflow: str) -> str:
    """The day after ``airflow`` was published: its dependencies as they were then.

    Read from the package index's JSON simple API (PEP 691, upload times of PEP 700).
    """
    request = urllib.request.Request(
        "https://pypi.org/simple/apache-airflow/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - fixed https URL
        files = json.load(answer)["files"]
    prefixes = (f"apache_airflow-{airflow}-", f"apache_airflow-{airflow}.tar.gz")
    published = min(
        datetime.fromisoformat(f["upload-time"])
        for f in files
        if f["filename"].startswith(prefixes)
    )
    return (published + timedelta(days=1)).date().isoformat()


def environment(name: str, python: str, airflow: str, pinned: list[str]) -> Path:
    """The cell's virtual environment, reused while its inputs are unchanged.

    Airflow is installed as its constraints files install it: with the versions of its
    dependencies that were current when it was released (``--exclude-newer``; the constraints
    files themselves are not on the package index). What was installed then constrains every
    later install into the environment (``constraints.txt``): the test tools, and the wheel.
    """
    venv = COMPAT / name
    stamp = venv / "compat-inputs.json"
    inputs = json.dumps(
        {"python": python, "pinned": pinned, "tools": test_tool_pins()}, sort_keys=True
    )
    if stamp.is_file() and stamp.read_text() == inputs:
        log(f"reusing {venv} (inputs unchanged)")
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    env = clean_environment()
    python_path = venv / "bin" / "python"
    run([UV, "venv", "--quiet", "--python", python, venv], env=env)
    cutoff = release_cutoff(airflow)
    log(f"Airflow {airflow} with the dependencies published before {cutoff}")
    install = [UV, "pip", "install", "--quiet", "--python", python_path]
    run([*install, "--exclude-newer", cutoff, *pinned], env=env)
    frozen = run([UV, "pip", "freeze", "--python", python_path], env=env, capture_output=True)
    (venv / "constraints.txt").write_text(frozen.stdout)
    tools = test_tool_requirements(frozen.stdout)
    run([*install, "--constraint", venv / "constraints.txt", *tools], env=env)
    stamp.write_text(inputs)
    return venv


def install_wheel(venv: Path, wheel: Path, pinned: list[str]) -> None:
    """The wheel, under the environment's constraints: Airflow and its dependencies stay."""
    python = venv / "bin" / "python"
    args = ["pip", "install", "--quiet", "--python", python, "--reinstall-package", DISTRIBUTION]
    constraints = ["--constraint", venv / "constraints.txt"]
    run([UV, *args, *constraints, wheel, *pinned], env=clean_environment())


def installed_versions(venv: Path) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in "
        f"('apache-airflow', 'apache-airflow-providers-amazon', {DISTRIBUTION!r})}}))"
    )
    python = venv / "bin" / "python"
    result = run([python, "-c", code], env=clean_environment(), capture_output=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_versions(venv: Path, airflow: str, amazon: str | None) -> dict[str, str]:
    versions = installed_versions(venv)
    log(f"installed: {versions}")
    assert versions["apache-airflow"] == airflow, f"Airflow changed: {versions}"
    if amazon:
        assert versions["apache-airflow-providers-amazon"] == amazon, f"provider: {versions}"
    return versions


def airflow_environment(home: Path) -> dict[str, str]:
    empty = home / "empty-folder"
    empty.mkdir(parents=True, exist_ok=True)
    return clean_environment(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(empty),
        AIRFLOW__CORE__DAGS_FOLDER=str(empty),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
    )


def check_airflow_plugins(venv: Path) -> None:
    """``airflow plugins`` lists the plugin, from the entry point (no plugins folder)."""
    with tempfile.TemporaryDirectory(prefix="compat-airflow-home-") as home:
        result = run(
            [venv / "bin" / "airflow", "plugins", "--output", "json"],
            env=airflow_environment(Path(home)),
            cwd=home,
            capture_output=True,
        )
    listing = next(line for line in result.stdout.splitlines() if line.startswith("["))
    plugins = {plugin["name"]: plugin for plugin in json.loads(listing)}
    assert "license_manager" in plugins, f"airflow plugins lists {sorted(plugins)}"
    log(f"airflow plugins: license_manager from {plugins['license_manager'].get('source')}")


def run_tests(venv: Path, workers: int, pytest_args: list[str]) -> None:
    """The DAG-level tests and the page's tests, with the installed package only."""
    args = [
        venv / "bin" / "python",
        *("-m", "pytest", "-p", "no:cacheprovider"),
        *("-o", "pythonpath=."),  # not plugins/: the installed wheel is what is imported
        *("-m", "dag_run or provider_seams", "tests"),
    ]
    if workers > 1:
        args += ["--numprocesses", str(workers), "--dist", "loadgroup"]
    run([*args, *pytest_args], cwd=ROOT, env=clean_environment(**{INSTALLED_PACKAGE_VARIABLE: "1"}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow", required=True, help="an apache-airflow version, e.g. 3.1.8")
    parser.add_argument("--amazon", help="an apache-airflow-providers-amazon version")
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="an interpreter, name or path")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    options = parser.parse_args(argv)
    started = time.monotonic()
    name = options.airflow + (f"-amazon-{options.amazon}" if options.amazon else "")
    if options.python != DEFAULT_PYTHON:
        name += "-" + Path(options.python).name  # e.g. 3.3.2-python3.12

    pinned = cell_requirements(options.airflow, options.amazon)
    wheel = build_wheel()
    venv = environment(name, options.python, options.airflow, pinned)
    install_wheel(venv, wheel, pinned)
    check_versions(venv, options.airflow, options.amazon)
    installed = time.monotonic()
    log(f"cell {name}: wheel and environment ready in {installed - started:.0f} s")
    check_airflow_plugins(venv)
    run_tests(venv, options.workers, options.pytest_args)
    log(f"cell {name}: passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
