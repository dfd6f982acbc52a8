"""Run settings (trigger params, then Airflow Variables, then defaults) and the DAG schedule."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from license_manager.arns import split_arn_list

SCHEDULE_VARIABLE = "LICENSE_TRACKING_SCHEDULE"
DEFAULT_SCHEDULE = "@daily"


@dataclass(frozen=True)
class Setting:
    name: str
    description: str
    default: str | None = None
    required: bool = False


SETTINGS = (
    Setting(
        "license_config_arns",
        "License configuration ARNs: a JSON list, or one string separated by commas, "
        "spaces or newlines.",
        required=True,
    ),
    Setting("license_report_bucket", "S3 bucket that receives the reports.", required=True),
    Setting(
        "license_report_prefix",
        "Key prefix put before the date folders ('reports/' gives 'reports/2026/...').",
        default="",
    ),
    Setting(
        "aws_conn_id",
        "Airflow connection used for License Manager, S3 and SNS.",
        default="aws_default",
    ),
    Setting(
        "license_alert_sns_topic_arn",
        "SNS topic that receives failure alerts; empty sends no alert.",
    ),
)


class SettingsError(AirflowFailException, ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The settings of one run, after trigger params and Variables were merged."""

    license_config_arns: list[str] = field(default_factory=list)
    license_report_bucket: str = ""
    license_report_prefix: str = ""
    aws_conn_id: str = "aws_default"
    license_alert_sns_topic_arn: str | None = None


def _is_given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str | list) and not value)


def lookup_setting(name: str, params: Mapping[str, Any], variable: Callable[[str], Any]) -> Any:
    """A value given at trigger time wins, then the Airflow Variable of the same name."""
    value = params.get(name)
    return value if _is_given(value) else variable(name)


def resolve_settings(params: Mapping[str, Any], variable: Callable[[str], Any]) -> Settings:
    """Merge params, Variables and defaults; raise SettingsError naming a missing setting.

    ``variable(name)`` returns the Variable's value or None; it is only called at run time.
    """
    values = {}
    for setting in SETTINGS:
        value = lookup_setting(setting.name, params, variable)
        if not _is_given(value):
            value = setting.default
        values[setting.name] = value
    try:
        arns = split_arn_list(values["license_config_arns"])
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if not arns:
        raise SettingsError(
            "license_config_arns is empty: give ARNs in the trigger form or set the Airflow "
            "Variable license_config_arns (AIRFLOW_VAR_LICENSE_CONFIG_ARNS)"
        )
    bucket = str(values["license_report_bucket"] or "").strip()
    if not bucket:
        raise SettingsError(
            "license_report_bucket is not set: give it in the trigger form or set the Airflow "
            "Variable license_report_bucket (AIRFLOW_VAR_LICENSE_REPORT_BUCKET)"
        )
    prefix = str(values["license_report_prefix"] or "").strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    topic = str(values["license_alert_sns_topic_arn"] or "").strip() or None
    return Settings(
        license_config_arns=arns,
        license_report_bucket=bucket,
        license_report_prefix=prefix,
        aws_conn_id=str(values["aws_conn_id"]).strip(),
        license_alert_sns_topic_arn=topic,
    )


# --- Schedule -------------------------------------------------------------------------------

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$", re.IGNORECASE)
_EVENTBRIDGE_CRON = re.compile(r"^cron\((.*)\)$", re.IGNORECASE)
_NUMBER_NOT_AFTER_HASH = re.compile(r"(?<![#\d])(\d+)")
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
        if rate := _RATE.match(text):
            return _rate_to_timedelta(*rate.groups())
        if cron := _EVENTBRIDGE_CRON.match(text):
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
