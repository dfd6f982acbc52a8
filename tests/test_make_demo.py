"""`make demo` (``python -m demo``) as a new user runs it: two runs through Airflow against the
local AWS, and the report set, its copy and the history answer printed as the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.deployment  # two `airflow dags test` runs in processes of their own

ROOT = Path(__file__).resolve().parents[1]


def test_make_demo_prints_the_report_set_and_copies_it():
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )

    out = result.stdout
    assert result.returncode == 0, f"{out}\n{result.stderr}"
    folder = re.search(r"^Report set: s3://[a-z0-9.-]+/(\S+/)$", out, re.MULTILINE)
    assert folder, out
    assert "12 demo configurations in 3 accounts and 4 Regions" in out
    assert "license-consumption-summary.csv" in out and "manifest.json" in out
    assert "RHEL - Instance" in out  # the summary table
    # the first run (yesterday's midnight) is the second run's previous set, under the same prefix
    prefix = folder[1].split("/", 1)[0]
    previous = re.search(
        rf"^Change: consumption since the previous report set, "
        rf"({prefix}/\d{{4}}/\d{{2}}/\d{{2}}/\d{{8}}T000000Z/)$",
        out,
        re.MULTILINE,
    )
    assert previous and previous[1] < folder[1], out
    assert "History from the tables" in out
    copied = re.search(r"^Copied to (\S+)/$", out, re.MULTILINE)
    assert copied, out
    copy = ROOT / copied[1]
    assert (copy / "license-consumption-summary.csv").is_file()
    assert (copy / "manifest.json").is_file()
