"""Compliance status of a configuration against its license count, and change since last run.

Pure functions of the numbers of one summary row: the writer, the alert and the UI page read
their statuses here and nowhere else.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

OVER_LIMIT = "OVER_LIMIT"
AT_LIMIT = "AT_LIMIT"
NEAR_LIMIT = "NEAR_LIMIT"
OK = "OK"
NO_LIMIT = "NO_LIMIT"
#: Most severe first: the order of the alert's table and of the page's status filter.
STATUSES = (OVER_LIMIT, AT_LIMIT, NEAR_LIMIT, OK, NO_LIMIT)
#: Statuses that the compliance alert reports.
ALERTING = frozenset({OVER_LIMIT, AT_LIMIT, NEAR_LIMIT})
DEFAULT_ALERT_UTILIZATION_PERCENT = Decimal(90)


def parse_threshold(value: Any) -> Decimal:
    """A utilization percent from 0 to 100; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise ValueError(f"{value!r} is not a number from 0 to 100")
    return number


def _number(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def compliance_status(consumed: Any, count: Any, threshold: Decimal) -> str:
    """OVER_LIMIT, AT_LIMIT, NEAR_LIMIT (utilization >= threshold), OK, or NO_LIMIT.

    Without a LicenseCount (absent or 0, as for UtilizationPercent) there is no limit.
    """
    limit = _number(count)
    used = _number(consumed) or Decimal(0)
    if not limit:
        return NO_LIMIT
    if used > limit:
        return OVER_LIMIT
    if used == limit:
        return AT_LIMIT
    if used * 100 / limit >= threshold:
        return NEAR_LIMIT
    return OK


def consumed_change(consumed: Any, previous: Any) -> int | None:
    """This run's ConsumedLicenses minus the previous run's; None when either is unknown."""
    now, before = _number(consumed), _number(previous)
    if now is None or before is None:
        return None
    return int(now - before)


def compliance_cells(
    record: dict[str, Any], collected: bool, previous: Any, threshold: Decimal
) -> dict[str, Any]:
    """The summary's ComplianceStatus, PreviousConsumedLicenses and ConsumedLicensesChange.

    All empty for a configuration that was not collected in this run.
    """
    if not collected:
        return {
            "ComplianceStatus": None,
            "PreviousConsumedLicenses": None,
            "ConsumedLicensesChange": None,
        }
    consumed = record.get("ConsumedLicenses")
    return {
        "ComplianceStatus": compliance_status(consumed, record.get("LicenseCount"), threshold),
        "PreviousConsumedLicenses": previous,
        "ConsumedLicensesChange": consumed_change(consumed, previous),
    }
