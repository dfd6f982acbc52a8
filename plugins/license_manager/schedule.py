"""The DAG's schedule: LICENSE_TRACKING_SCHEDULE, in Airflow's or EventBridge's syntax.

Read once, when the DAG file is parsed. Airflow presets and cron strings pass through;
EventBridge ``rate()`` becomes a timedelta and ``cron()`` a five-field cron string.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta

SCHEDULE_VARIABLE = "LICENSE_TRACKING_SCHEDULE"
DEFAULT_SCHEDULE = "@daily"
AIRFLOW_PRESETS = (
    "@once",
    "@continuous",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "@quarterly",
    "@yearly",
)

_RATE = re.compile(
    r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)", re.IGNORECASE | re.ASCII
)
_EVENTBRIDGE_CRON = re.compile(r"cron\((.*)\)", re.IGNORECASE | re.ASCII)
_NUMBER_NOT_AFTER_HASH = re.compile(r"(?<![#\d])(\d+)", re.ASCII)


class ScheduleError(ValueError):
    """The schedule expression cannot be converted; the message names the variable."""


def _rate_to_timedelta(amount: str, unit: str) -> timedelta:
    value = int(amount)
    if value < 1:
        raise ValueError("the rate must be at least 1")
    return timedelta(**{unit.lower().rstrip("s") + "s": value})


def _eventbridge_day_of_week(field_text: str) -> str:
    """EventBridge counts days 1-7 from Sunday; cron counts 0-6 from Sunday."""

    def shift(match: re.Match) -> str:
        day = int(match.group(1))
        if not 1 <= day <= 7:
            raise ValueError(f"day of week {day} is outside 1-7")
        return str(day - 1)

    return _NUMBER_NOT_AFTER_HASH.sub(shift, field_text)


def _eventbridge_cron_to_cron(body: str) -> str:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError("an EventBridge cron() has 6 fields: minutes hours day month weekday year")
    minutes, hours, day, month, weekday, year = fields
    if year not in ("*", "?"):
        raise ValueError("a year other than '*' cannot be scheduled by Airflow")
    if "W" in day.upper():
        raise ValueError("the 'W' (nearest weekday) option has no Airflow equivalent")
    day = "*" if day == "?" else day
    weekday = "*" if weekday == "?" else _eventbridge_day_of_week(weekday)
    return " ".join((minutes, hours, day, month, weekday))


def _check_cron(expression: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(expression):
        raise ValueError(f"{expression!r} is not a valid cron expression")
    return expression


def parse_schedule(expression: str) -> str | timedelta | None:
    """Convert an Airflow or EventBridge schedule expression to what ``DAG(schedule=...)`` takes."""
    text = expression.strip()
    try:
        if text.lower() == "none":
            return None
        if text.startswith("@"):
            if text not in AIRFLOW_PRESETS:
                raise ValueError(f"unknown preset; Airflow knows {', '.join(AIRFLOW_PRESETS)}")
            return text
        if rate := _RATE.fullmatch(text):
            return _rate_to_timedelta(*rate.groups())
        if cron := _EVENTBRIDGE_CRON.fullmatch(text):
            return _check_cron(_eventbridge_cron_to_cron(cron.group(1)))
        if text.lower().startswith("rate("):
            raise ValueError("expected rate(<number> minute(s)|hour(s)|day(s))")
        return _check_cron(text)
    except ValueError as error:
        raise ScheduleError(
            f"{SCHEDULE_VARIABLE}={expression!r} cannot be used as a schedule: {error}"
        ) from None


def schedule_from_environment(environ: Mapping[str, str] = os.environ) -> str | timedelta | None:
    """The DAG's schedule, read from LICENSE_TRACKING_SCHEDULE (default @daily) at parse time."""
    return parse_schedule(environ.get(SCHEDULE_VARIABLE) or DEFAULT_SCHEDULE)
