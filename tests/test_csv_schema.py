"""Cells, computed columns, and the README's promises about the columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from license_manager.csv_schema import (
    NUMERIC_COLUMNS,
    SUMMARY_COLUMNS,
    USAGE_COLUMNS,
    csv_text,
    format_cell,
    usage_row,
    utilization_percent,
)

from tests.airflow_home import ROOT


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


@pytest.mark.parametrize(
    ("value", "column", "cell"),
    [
        (" =1+1", "Name", "' =1+1"),
        ("  @SUM(A1)", "Description", "'  @SUM(A1)"),
        ("\t=1", "Name", "'\t=1"),
        ("\u3000+1", "Name", "'\u3000+1"),
        ("\u00a0-1", "Name", "'\u00a0-1"),
        ("\n=1", "Name", "'\n=1"),
        ("\nx", "Description", "'\nx"),
        ("\r\nx", "Description", "'\r\nx"),
        ("\u2028x", "Description", "'\u2028x"),
        ("\uff1d1+1", "Name", "'\uff1d1+1"),
        ("\uff0b1", "Name", "'\uff0b1"),
        ("\uff0d1", "Name", "'\uff0d1"),
        ("\uff20SUM(A1)", "Name", "'\uff20SUM(A1)"),
        (" plain", "Name", " plain"),
        ("a=b", "Name", "a=b"),
        ("line\n=1", "Description", "line\n=1"),
    ],
)
def test_white_space_full_width_and_line_breaks_before_a_formula_are_escaped(value, column, cell):
    assert format_cell(value, column) == cell


@pytest.mark.parametrize(
    ("value", "column", "cell"),
    [
        ("=1+1", "ConsumedLicenses", "'=1+1"),
        ("@SUM(A1)", "LicenseCount", "'@SUM(A1)"),
        ("+cmd|' /C calc'!A0", "UtilizationPercent", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "ConsumedLicensesChange", "'-2+3+cmd|' /C calc'!A0"),
        (" -3", "ConsumedLicensesChange", "' -3"),
        ("\uff0d3", "PreviousConsumedLicenses", "'\uff0d3"),
        (["=x"], "UsageRecordCount", '["=x"]'),
        ("many", "LicenseCount", "many"),
    ],
)
def test_a_numeric_column_that_holds_no_number_is_escaped_like_text(value, column, cell):
    assert format_cell(value, column) == cell


@pytest.mark.parametrize(
    ("value", "column", "cell"),
    [
        (-3, "ConsumedLicensesChange", "-3"),
        ("-3", "ConsumedLicensesChange", "-3"),
        ("-12.50", "UtilizationPercent", "-12.50"),
        (Decimal("-0.25"), "UtilizationPercent", "-0.25"),
        (-1.5e-05, "UtilizationPercent", "-1.5e-05"),
        (-7, "Description", "-7"),
    ],
)
def test_numbers_are_never_altered(value, column, cell):
    assert format_cell(value, column) == cell


def _runs_as_formula(cell: str) -> bool:
    """What a spreadsheet may run as a formula, defined apart from the code under test."""
    starts_a_formula = cell.lstrip()[:1] in tuple("=+-@\uff1d\uff0b\uff0d\uff20")
    return starts_a_formula or cell[:1] in ("\t", "\r", "\n")


_TRICKY = st.text(st.sampled_from(list("=+-@\uff1d\uff0b\uff0d\uff20 \t\r\n\u3000\u00a0x1.'")))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_TRICKY, st.text()), st.sampled_from(sorted({*SUMMARY_COLUMNS, *USAGE_COLUMNS})))
@example(" =1", "Name")
@example("=1", "ConsumedLicenses")
def test_no_text_cell_runs_as_a_formula_and_escaping_only_prepends_a_quote(text, column):
    cell = format_cell(text, column)
    assert cell in (text, "'" + text)
    if _runs_as_formula(cell):
        assert column in NUMERIC_COLUMNS
        assert Decimal(cell) == Decimal(text)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.integers(),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    st.sampled_from(sorted(NUMERIC_COLUMNS)),
)
def test_numbers_round_trip_through_numeric_columns(number, column):
    cell = format_cell(number, column)
    assert cell == str(number)
    assert Decimal(cell) == Decimal(str(number))
    assert format_cell(cell, column) == cell  # the same number read back as text


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


def test_the_output_page_documents_the_columns():
    lines = (ROOT / "docs" / "output.md").read_text().splitlines()
    assert ",".join(SUMMARY_COLUMNS) in lines
    assert ",".join(USAGE_COLUMNS) in lines
