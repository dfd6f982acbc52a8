"""Scenario 4: the DAG file's parse cost against a minimal DAG file, in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.measure import (
    median,
)
from benchmarks.scenarios.bench import ROOT, Result

# --- 4. Parse cost ----------------------------------------------------------------------------

MINIMAL_DAG = """
from airflow.sdk import DAG

with DAG(dag_id="minimal", schedule=None):
    pass
"""

_COLD = "import runpy, sys; runpy.run_path(sys.argv[1])"
_WARM = textwrap.dedent(
    """
    import runpy, sys, time
    import airflow.sdk
    start = time.perf_counter()
    runpy.run_path(sys.argv[1])
    print(time.perf_counter() - start)
    """
)


def _time_process(code: str, path: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - start, done.stdout.strip()


def parse_cost(env: dict[str, str], smoke: bool) -> Result:
    rounds = 2 if smoke else 9
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal_dag.py"
        minimal.write_text(MINIMAL_DAG)
        files = {"license_tracking": ROOT / "dags" / "license_tracking.py", "minimal": minimal}
        cold: dict[str, list[float]] = {name: [] for name in files}
        warm: dict[str, list[float]] = {name: [] for name in files}
        for _ in range(rounds):
            for name, path in files.items():
                cold[name].append(_time_process(_COLD, path, env)[0])
                warm[name].append(float(_time_process(_WARM, path, env)[1]))
    ratio = round(median(cold["license_tracking"]) / median(cold["minimal"]), 2)
    return Result(
        "parse_cost",
        {"rounds": rounds, "measure": "fresh interpreter running the DAG file, median"},
        {
            "license_tracking_seconds": round(median(cold["license_tracking"]), 3),
            "minimal_seconds": round(median(cold["minimal"]), 3),
            "ratio": ratio,
            "after_airflow_sdk_import": {
                "license_tracking_ms": round(median(warm["license_tracking"]) * 1000, 1),
                "minimal_ms": round(median(warm["minimal"]) * 1000, 1),
            },
        },
        "parse time <= 1.2 x the minimal DAG file's",
        ratio <= 1.2,
        notes=["after_airflow_sdk_import: the file alone, airflow.sdk already imported"],
    )
