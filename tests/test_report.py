"""Cells, keys and the README's promises about them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from license_manager.report import (
    SUMMARY_COLUMNS,
    USAGE_COLUMNS,
    format_cell,
    run_folder,
    staging_folder,
    utilization_percent,
)
from license_manager.settings import SETTINGS

from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("value", "column", "cell"),
    [
        (None, "Name", ""),
        (True, "LicenseCountHardLimit", "true"),
        (False, "LicenseCountHardLimit", "false"),
        (-5, "ConsumedLicenses", "-5"),
        ("-5", "ConsumedLicenses", "-5"),
        ("=1+1", "Name", "'=1+1"),
        ("+1", "Description", "'+1"),
        ("-1", "Description", "'-1"),
        ("@SUM(A1)", "Name", "'@SUM(A1)"),
        ("\tx", "Name", "'\tx"),
        ("\rx", "Name", "'\rx"),
        ("plain, with comma", "Name", "plain, with comma"),
        (["#minimumVcpus=2"], "LicenseRules", '["#minimumVcpus=2"]'),
        ([{"Key": "k", "Value": "=v"}], "Tags", '[{"Key":"k","Value":"=v"}]'),
        ({"é": 1}, "Tags", '{"é":1}'),
        (
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "",
            "2026-01-02T01:04:05Z",
        ),
    ],
)
def test_cells(value, column, cell):
    assert format_cell(value, column) == cell


def test_json_cells_that_look_like_formulas_are_protected():
    assert format_cell(["=x"], "LicenseRules") == '["=x"]'
    assert format_cell("=x", "LicenseRules") == "'=x"


@pytest.mark.parametrize(
    ("consumed", "count", "percent"),
    [
        (2056, 2400, "85.67"),
        (1, 8, "12.50"),
        (1, 200, "0.50"),
        (25, 20, "125.00"),
        (0, 50, "0.00"),
        (5, None, None),
        (5, 0, None),
        (None, 10, None),
    ],
)
def test_utilization(consumed, count, percent):
    assert utilization_percent(consumed, count) == percent


def test_folders_are_zero_padded_utc_without_spaces_or_colons():
    moment = datetime(2026, 3, 7, 23, 4, 9, tzinfo=timezone(timedelta(hours=-5)))
    assert run_folder("", moment) == "2026/03/08/20260308T040409Z/"
    assert run_folder("reports/", moment.astimezone(UTC)) == "reports/2026/03/08/20260308T040409Z/"
    assert staging_folder("reports/", moment) == "reports/_staging/20260308T040409Z/"


def test_readme_documents_the_columns_and_every_setting():
    readme = (ROOT / "README.md").read_text()
    assert ",".join(SUMMARY_COLUMNS) in readme.splitlines()
    assert ",".join(USAGE_COLUMNS) in readme.splitlines()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in readme


def test_staged_files_are_copied_whole_small_ones_without_head_requests(
    local_aws_servers,
):
    import uuid

    from license_manager.hooks import ReportBucketHook
    from license_manager.report import StagedCopy, copy_staged_files

    s3 = ReportBucketHook(aws_conn_id=None)
    bucket = f"copies-{uuid.uuid4().hex[:8]}"
    s3.conn.create_bucket(Bucket=bucket)
    bodies = {"small": b"a,b\r\n", "large": bytes(range(256)) * (9 * 4096)}  # 9 MiB: in parts
    for name, body in bodies.items():
        s3.conn.put_object(Bucket=bucket, Key=f"_staging/{name}", Body=body)

    operations: list[str] = []
    s3.conn.meta.events.register(
        "before-call.s3.*", lambda model, **_: operations.append(model.name)
    )

    copy_staged_files(
        s3,
        bucket,
        [
            StagedCopy(f"_staging/{name}", f"report/{name}", len(body))
            for name, body in bodies.items()
        ],
    )

    assert operations.count("CopyObject") == 1  # the small file, its size known: no HeadObject
    assert operations.count("HeadObject") == 1  # the large one, copied in parts
    assert "UploadPartCopy" in operations
    for name, body in bodies.items():
        assert s3.conn.get_object(Bucket=bucket, Key=f"report/{name}")["Body"].read() == body
