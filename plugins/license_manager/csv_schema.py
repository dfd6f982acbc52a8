"""The CSV schema of the report set: column lists, cell formatting, and computed cells.

The columns are data, declared once and read by the writer, the README and the tests.
"""

from __future__ import annotations

import csv
import io
import json
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
NUMERIC_COLUMNS = frozenset(
    {"LicenseCount", "ConsumedLicenses", "UtilizationPercent", "UsageRecordCount"}
)
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


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
    """One CSV cell: JSON for lists and maps, true/false, ISO times, formula-safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, list | dict):
        text = to_json(value)
    else:
        text = str(value)
    if column not in NUMERIC_COLUMNS and text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


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
