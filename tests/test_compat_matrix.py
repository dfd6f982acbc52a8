"""What a compatibility cell installs beside the Airflow it tests (tools/compat_matrix.py)."""

from __future__ import annotations

import sys

from tests.deployment import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import compat_matrix  # noqa: E402


def test_a_test_tool_the_airflow_already_holds_keeps_the_environment_s_version():
    constraints = "apache-airflow==3.1.8\nDuckDB==1.5.0\nsagemaker-studio==1.1.8\n"

    requirements = compat_matrix.test_tool_requirements(constraints)

    assert "duckdb" in requirements
    assert not any(r.startswith("duckdb==") for r in requirements)
    assert any(r.startswith("moto[server]==") for r in requirements)  # not held: the dev pin
    assert len(requirements) == len(compat_matrix.TEST_TOOLS)


def test_requirement_names_are_compared_as_the_package_index_does():
    assert compat_matrix.requirement_name("moto[server]==5.2.5") == "moto"
    assert compat_matrix.requirement_name("Pytest_XDist==3.8.0") == "pytest-xdist"
