"""The keys of a report set and of staging: one module, importable without AWS or Airflow."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from license_manager.report_layout import (
    manifest_key,
    outcome_key,
    run_folder,
    run_settings_key,
    run_timestamp,
    staged_usage_key,
    staging_folder,
    summary_key,
    usage_key,
)

from tests.airflow_home import ROOT

ID = "lic-0123456789abcdef0123456789abcdef"


def test_folders_are_zero_padded_utc_without_spaces_or_colons():
    moment = datetime(2026, 3, 7, 23, 4, 9, tzinfo=timezone(timedelta(hours=-5)))
    assert run_timestamp(moment) == "20260308T040409Z"
    assert run_folder("", moment) == "2026/03/08/20260308T040409Z/"
    assert run_folder("reports/", moment.astimezone(UTC)) == "reports/2026/03/08/20260308T040409Z/"
    assert staging_folder("reports/", moment) == "reports/_staging/20260308T040409Z/"


def test_the_files_of_a_report_folder():
    folder = "reports/2026/11/29/20261129T000000Z/"
    assert summary_key(folder) == folder + "license-consumption-summary.csv"
    assert manifest_key(folder) == folder + "manifest.json"
    assert usage_key(folder, ID) == f"{folder}{ID}-usage.csv"


def test_the_files_of_staging():
    staging = "_staging/20261129T000000Z/"
    assert run_settings_key(staging) == "_staging/20261129T000000Z/run.json"
    assert outcome_key(staging, ID) == f"{staging}{ID}/outcome.json"
    assert staged_usage_key(staging, ID) == f"{staging}{ID}/{ID}-usage.csv"


def test_layout_schema_and_outcomes_import_without_aws_or_airflow():
    """A reader of report sets (the UI, a notebook) can use them without boto3 or Airflow."""
    code = (
        "import sys\n"
        "import license_manager.report_layout, license_manager.csv_schema\n"
        "import license_manager.outcomes\n"
        "heavy = [m for m in ('boto3', 'botocore', 'airflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "plugins")},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
