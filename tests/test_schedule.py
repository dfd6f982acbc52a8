"""LICENSE_TRACKING_SCHEDULE: Airflow's and EventBridge's expressions, and what cannot be used."""

from datetime import timedelta

import pytest
from license_manager.schedule import ScheduleError, parse_schedule, schedule_from_environment


@pytest.mark.parametrize(
    ("expression", "schedule"),
    [
        ("rate(1 day)", timedelta(days=1)),
        ("rate(6 hours)", timedelta(hours=6)),
        ("rate(30 minutes)", timedelta(minutes=30)),
        ("rate(1 minute)", timedelta(minutes=1)),
        ("cron(0 12 * * ? *)", "0 12 * * *"),
        ("cron(15 10 ? * 2-6 *)", "15 10 * * 1-5"),
        ("cron(0 8 ? * MON-FRI *)", "0 8 * * MON-FRI"),
        ("cron(0 0 ? * 1,7 *)", "0 0 * * 0,6"),
        ("@hourly", "@hourly"),
        ("@daily", "@daily"),
        ("*/10 * * * *", "*/10 * * * *"),
        ("None", None),
    ],
)
def test_schedule_expressions(expression, schedule):
    assert parse_schedule(expression) == schedule


@pytest.mark.parametrize(
    "expression",
    [
        "rate(banana)",
        "rate(0 days)",
        "rate(2 weeks)",
        "cron(0 12 * * ? 2027)",
        "cron(0 12 * *)",
        "cron(0 12 15W * ? *)",
        "@fortnightly",
        "every day",
        "61 * * * *",
        "rate(\u0663 days)",  # an Arabic-Indic three: ASCII digits only
    ],
)
def test_unconvertible_schedules_name_the_variable(expression):
    with pytest.raises(ScheduleError, match="LICENSE_TRACKING_SCHEDULE") as error:
        parse_schedule(expression)
    assert expression in str(error.value)


def test_default_and_empty_variable_mean_daily():
    assert schedule_from_environment({}) == "@daily"
    assert schedule_from_environment({"LICENSE_TRACKING_SCHEDULE": ""}) == "@daily"
    assert schedule_from_environment({"LICENSE_TRACKING_SCHEDULE": "rate(2 hours)"}) == timedelta(
        hours=2
    )
