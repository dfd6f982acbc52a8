from datetime import timedelta

import pytest
from license_manager.settings import (
    ScheduleError,
    SettingsError,
    parse_schedule,
    resolve_settings,
)

ARN = (
    "arn:aws:license-manager:us-east-1:111111111111:"
    "license-configuration:lic-0123456789abcdef0123456789abcdef"
)


def variables(**values):
    return lambda name: values.get(name)


def test_trigger_params_win_over_variables():
    settings = resolve_settings(
        {"license_config_arns": ARN, "license_report_bucket": "from-param"},
        variables(license_report_bucket="from-variable", license_report_prefix="reports/"),
    )
    assert settings.license_report_bucket == "from-param"
    assert settings.license_report_prefix == "reports/"
    assert settings.license_config_arns == [ARN]


def test_variables_then_defaults():
    settings = resolve_settings(
        {"license_config_arns": None, "license_report_bucket": ""},
        variables(license_config_arns=f'["{ARN}"]', license_report_bucket="bucket"),
    )
    assert settings.license_config_arns == [ARN]
    assert settings.aws_conn_id == "aws_default"
    assert settings.license_report_prefix == ""
    assert settings.license_alert_sns_topic_arn is None


def test_prefix_gets_one_trailing_slash():
    settings = resolve_settings(
        {
            "license_config_arns": ARN,
            "license_report_bucket": "b",
            "license_report_prefix": "/reports",
        },
        variables(),
    )
    assert settings.license_report_prefix == "reports/"


@pytest.mark.parametrize("empty", [None, "", " \n ", "[]", []])
def test_no_arns_is_an_error_naming_the_setting(empty):
    with pytest.raises(SettingsError, match="license_config_arns"):
        resolve_settings({"license_config_arns": empty, "license_report_bucket": "b"}, variables())


def test_no_bucket_is_an_error_naming_the_setting():
    with pytest.raises(SettingsError, match="license_report_bucket"):
        resolve_settings({"license_config_arns": ARN}, variables())


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
    ],
)
def test_unconvertible_schedules_name_the_variable(expression):
    with pytest.raises(ScheduleError, match="LICENSE_TRACKING_SCHEDULE") as error:
        parse_schedule(expression)
    assert expression in str(error.value)
