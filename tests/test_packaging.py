"""The sdist and the wheel that ``uv build`` makes: their metadata, as PyPI and pip read it, and
what the wheel holds (the ``license_manager`` package and nothing else of the repository)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.deployment import ROOT, find_uv

# slow: builds both distributions; one xdist worker builds them once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("packaging")]

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DIST_INFO = f"airflow_license_tracking-{PYPROJECT['version']}.dist-info"
ENTRY_POINT = "license_manager = license_manager.plugin:LicenseManagerPlugin"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    uv = find_uv()
    if uv is None:
        pytest.fail("uv is needed: run `make install` (it installs .local/tools/bin/uv)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([uv, "build", "--out-dir", str(out)], cwd=ROOT, check=True, capture_output=True)
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def metadata(built) -> Message:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        return HeaderParser().parsestr(wheel.read(f"{DIST_INFO}/METADATA").decode())


def test_twine_check_passes_for_both(built):
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", built["wheel"], built["sdist"]],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_name_version_license_and_python(metadata):
    assert metadata["Name"] == "airflow-license-tracking"
    assert metadata["Version"] == PYPROJECT["version"]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert SpecifierSet(metadata["Requires-Python"]) == SpecifierSet(">=3.11,<3.13")
    assert metadata["Summary"] == PYPROJECT["description"]


def test_the_readme_renders_as_markdown(metadata):
    from readme_renderer.markdown import render

    assert metadata["Description-Content-Type"] == "text/markdown"
    html = render(metadata.get_payload(), variant="GFM")
    assert html and "<h1" in html and "<table>" in html  # rendered, tables included


def test_classifiers_are_pypis_and_name_airflow_and_the_python_versions(metadata):
    from trove_classifiers import classifiers as known

    classifiers = metadata.get_all("Classifier")
    assert set(classifiers) <= known, set(classifiers) - known  # PyPI refuses unknown ones
    assert "Framework :: Apache Airflow" in classifiers
    for python in ("3.11", "3.12"):
        assert f"Programming Language :: Python :: {python}" in classifiers


def test_the_supported_airflow_range_and_no_pins_beyond_the_providers(metadata):
    requirements = {
        r.name: r for r in map(Requirement, metadata.get_all("Requires-Dist")) if not r.marker
    }
    assert set(requirements) == {"apache-airflow", "apache-airflow-providers-amazon"}
    airflow = requirements["apache-airflow"].specifier
    assert {"3.1.0", "3.1.8", "3.2.2", "3.3.2"} <= set(
        airflow.filter(["3.1.0", "3.1.8", "3.2.2", "3.3.2"])
    )
    assert not list(airflow.filter(["3.0.6", "4.0.0"]))
    assert str(requirements["apache-airflow-providers-amazon"].specifier) == ">=9.6.0"


def test_the_airflow_plugins_entry_point(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        entry_points = wheel.read(f"{DIST_INFO}/entry_points.txt").decode()
    assert "[airflow.plugins]" in entry_points
    assert ENTRY_POINT in entry_points


def test_the_wheel_holds_the_package_only(built):
    assert built["wheel"].name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = wheel.namelist()
    outside = [n for n in names if not n.startswith(("license_manager/", f"{DIST_INFO}/"))]
    assert outside == []
    package = {
        n.removeprefix("license_manager/") for n in names if n.startswith("license_manager/")
    }
    expected = {
        str(path.relative_to(ROOT / "plugins" / "license_manager"))
        for path in (ROOT / "plugins" / "license_manager").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert package == expected  # every module and the page's assets, nothing more
    assert not [n for n in names if n.endswith((".pyc", ".pyo"))]


def test_the_sdist_builds_the_same_package(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = sdist.getnames()
    top = built["sdist"].name.removesuffix(".tar.gz")
    for name in ("pyproject.toml", "README.md", "plugins/license_manager/plugin.py", "PKG-INFO"):
        assert f"{top}/{name}" in names
    assert not [n for n in names if "/.local/" in n or "/.venv/" in n or "__pycache__" in n]
