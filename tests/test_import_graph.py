"""The package's import graph, read from its source: every import, at module level or inside a
function (a function-level import hides a loop from Python, not from a reader)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.airflow_home import ROOT

PACKAGE = ROOT / "plugins" / "license_manager"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """The modules ``path`` imports, by absolute name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def package_graph() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {imported for imported in imported_modules(path) if imported in modules} - {name}
        for name, path in modules.items()
    }


def test_the_package_s_imports_have_no_circle():
    graph = package_graph()
    assert "license_manager.report_writer" in graph["license_manager.operators"]  # it reads
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        raise AssertionError(f"modules that import each other: {error.args[1]}") from None


def test_the_package_never_imports_the_local_aws_or_the_tests():
    outside = {
        f"{name} imports {imported}"
        for name, path in {module_name(p): p for p in PACKAGE.rglob("*.py")}.items()
        for imported in imported_modules(path)
        if imported.split(".")[0] in {"local_aws", "local_airflow", "tests", "benchmarks"}
    }
    assert not outside
