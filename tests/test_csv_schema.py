"""Cells, computed columns, and the README's promises about the columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from license_manager.csv_schema import (
    SUMMARY_COLUMNS,
    USAGE_COLUMNS,
    csv_text,
    format_cell,
    usage_row,
    utilization_percent,
)

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


def test_usage_rows_carry_their_configuration_and_keep_the_column_order():
    record = {
        "ConsumedLicenses": 2,
        "ResourceArn": "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
        "AssociationTime": datetime(2026, 11, 1, 10, tzinfo=UTC),
        "Unknown": "dropped",
    }
    row = usage_row("arn:config", record)
    assert dict(zip(USAGE_COLUMNS, row, strict=True)) == {
        "LicenseConfigurationArn": "arn:config",
        "ResourceArn": "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
        "ResourceType": "",
        "ResourceStatus": "",
        "ResourceOwnerId": "",
        "AssociationTime": "2026-11-01T10:00:00Z",
        "ConsumedLicenses": "2",
    }


def test_csv_is_rfc_4180():
    assert csv_text([["a", 'say "hi"', "x,y"], ["line\nbreak", "", "z"]]) == (
        'a,"say ""hi""","x,y"\r\n"line\nbreak",,z\r\n'
    )


def test_readme_documents_the_columns():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert ",".join(SUMMARY_COLUMNS) in lines
    assert ",".join(USAGE_COLUMNS) in lines
