"""The CSV schema of the report set: column lists, cell formatting, and computed cells.

The columns are data, declared once and read by the writer, docs/output.md and the tests.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TextIO

SUMMARY_COLUMNS = (
    "Region",
    "AccountId",
    "LicenseConfigurationArn",
    "LicenseConfigurationId",
    "Name",
    "Description",
    "LicenseCountingType",
    "LicenseCount",
    "LicenseCountHardLimit",
    "ConsumedLicenses",
    "UtilizationPercent",
    "Status",
    "LicenseRules",
    "ConsumedLicenseSummaryList",
    "ManagedResourceSummaryList",
    "ProductInformationList",
    "Tags",
    "UsageRecordCount",
    "UsageFile",
    "CollectedAt",
    "Error",
    "Source",
    "ComplianceStatus",
    "PreviousConsumedLicenses",
    "ConsumedLicensesChange",
)
USAGE_COLUMNS = (
    "LicenseConfigurationArn",
    "ResourceArn",
    "ResourceType",
    "ResourceStatus",
    "ResourceOwnerId",
    "AssociationTime",
    "ConsumedLicenses",
)
#: The Content-Type of every CSV file the package writes.
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
NUMERIC_COLUMNS = frozenset(
    {
        "LicenseCount",
        "ConsumedLicenses",
        "UtilizationPercent",
        "UsageRecordCount",
        "PreviousConsumedLicenses",
        "ConsumedLicensesChange",
    }
)
#: Characters that start a formula in a spreadsheet, ASCII and full-width.
FORMULA_CHARACTERS = "=+-@\uff1d\uff0b\uff0d\uff20"
#: A tab, and every line break of ``str.splitlines``.
_TAB_OR_LINE_BREAK = "\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
#: A cell a spreadsheet may run: a formula character, after white space or not (spreadsheets
#: trim it), or a tab or line break first.
_FORMULA_START = re.compile(
    rf"\s*[{re.escape(FORMULA_CHARACTERS)}]|[{re.escape(_TAB_OR_LINE_BREAK)}]"
)
#: A number as Python writes one: a cell of a numeric column that is one is never altered.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(value: Any) -> str:
    """Compact JSON, times as ``iso_utc``: the encoding of list and map cells."""
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def format_cell(value: Any, column: str = "") -> str:
    """One CSV cell: JSON for lists and maps, true/false, ISO times, formula-safe text.

    A number is written as it is (a negative one too); anything else, in any column, is text.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso_utc(value)
    text = to_json(value) if isinstance(value, list | dict) else str(value)
    is_number = isinstance(value, int | float | Decimal) or column in NUMERIC_COLUMNS
    if is_number and _NUMBER.fullmatch(text):
        return text
    return formula_safe(text)


def formula_safe(text: str) -> str:
    """The text with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + text if _FORMULA_START.match(text) else text


def format_row(record: Mapping[str, Any], columns: Iterable[str]) -> list[str]:
    return [format_cell(record.get(column), column) for column in columns]


def usage_row(arn: str, record: Mapping[str, Any]) -> list[str]:
    """One row of a usage file: a ListUsageForLicenseConfiguration record and its configuration."""
    return format_row({**record, "LicenseConfigurationArn": arn}, USAGE_COLUMNS)


def utilization_percent(consumed: Any, count: Any) -> str | None:
    """ConsumedLicenses / LicenseCount x 100, two decimals; None without a LicenseCount."""
    if not count or consumed is None:
        return None
    ratio = Decimal(consumed) * 100 / Decimal(count)
    return str(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def csv_writer(stream: TextIO) -> Any:
    """A writer of RFC 4180 CSV (CRLF line ends, quotes only where needed) to a text stream."""
    return csv.writer(stream, lineterminator="\r\n")


def csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv_writer(buffer).writerows(rows)
    return buffer.getvalue()
