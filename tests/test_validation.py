"""The bad-input corpus: every setting either works as documented or fails naming itself.

Property-based where the input space is large (ARN lists, prefixes, bucket names); the cases
the README's table of rejected inputs lists are spelled out. Each SettingsError is an
AirflowFailException: the task fails at once, without retries.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from license_manager import discovery, validation
from license_manager.arns import parse_license_configuration_arn
from license_manager.compat import AirflowFailException
from license_manager.report_layout import (
    run_folder,
    staged_usage_key,
    staging_folder,
)
from license_manager.settings import DEPLOYMENT_SETTINGS, SettingsError, resolve_settings

CORPUS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEX = "0123456789abcdef"
UNITS = ["minute", "minutes", "hour", "hours", "day", "days", "week", "seconds"]
ARN = (
    "arn:aws:license-manager:us-east-1:111111111111:"
    "license-configuration:lic-0123456789abcdef0123456789abcdef"
)


def resolve(**given_values):
    """Run settings given at trigger time, deployment settings as Variables."""
    values = {"license_config_arns": ARN, "license_report_bucket": "reports", **given_values}
    params = {name: value for name, value in values.items() if name not in DEPLOYMENT_SETTINGS}
    variables = {name: value for name, value in values.items() if name in DEPLOYMENT_SETTINGS}
    return resolve_settings(params, variables.get)


def resolve_variables(**variables):
    return resolve_settings({}, lambda name: variables.get(name))


def test_a_settings_error_is_never_retried():
    assert issubclass(SettingsError, AirflowFailException)


# --- license_config_arns -----------------------------------------------------------------------

configuration_ids = st.text(HEX, min_size=32, max_size=32).map(lambda text: f"lic-{text}")
valid_arns = st.builds(
    "arn:{}:license-manager:{}:{}:license-configuration:{}".format,
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1", "ap-southeast-2"]),
    st.text(string.digits, min_size=12, max_size=12),
    configuration_ids,
)


@CORPUS
@given(st.lists(valid_arns, min_size=1, max_size=8), st.sampled_from(["json", ",", " ", "\n"]))
def test_every_accepted_list_form_gives_the_arns_in_order(arns, form):
    text = json.dumps(arns) if form == "json" else form.join(f" {arn} " for arn in arns)
    assert resolve(license_config_arns=text).license_config_arns == list(dict.fromkeys(arns))
    assert resolve(license_config_arns=arns).license_config_arns == list(dict.fromkeys(arns))


@CORPUS
@given(st.text(max_size=300))
def test_any_text_is_a_list_of_arns_or_a_failure_naming_the_setting(text):
    try:
        settings = resolve(license_config_arns=text)
    except SettingsError as error:
        assert "license_config_arns" in str(error)
        assert len(str(error)) < 2_000
    else:
        assert any(_valid(arn) for arn in settings.license_config_arns)


def _valid(text: str) -> bool:
    try:
        parse_license_configuration_arn(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "variable",
    [
        '{"a": 1}',
        "12345",
        "x" * 100_000,
        "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-" + "a" * 2_000,
        "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-0123",
        ARN.replace("lic-0", "lic-G"),
        ARN.replace("us-east-1", "us_east_1"),
        ARN.replace("us-east-1", "u" * 2_000),
        ARN.replace("111111111111", "1111"),
        ARN.replace("license-manager", "s3"),
        "\x00\x01\x1b[31m",
        "[1, 2]",
        '["not an arn"]',
        "[not json",
        "ℓic-☃ 🙂",
    ],
)
def test_input_without_a_valid_arn_fails_naming_the_setting(variable):
    with pytest.raises(SettingsError, match="license_config_arns") as failure:
        resolve_variables(license_config_arns=variable, license_report_bucket="reports")
    assert len(str(failure.value)) < 2_000


@pytest.mark.parametrize("value", [{"a": 1}, 12345, 1.5, True])
def test_a_value_of_the_wrong_type_fails_naming_the_setting(value):
    with pytest.raises(SettingsError, match="license_config_arns"):
        resolve(license_config_arns=value)


def test_invalid_entries_next_to_a_valid_one_are_kept_for_their_rows():
    settings = resolve(license_config_arns=f"{ARN}, 12345")
    assert settings.license_config_arns == [ARN, "12345"]


# --- license_report_bucket ---------------------------------------------------------------------

bucket_names = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,61}[a-z0-9]\Z")


@CORPUS
@given(bucket_names)
def test_bucket_names_by_s3_rules_are_accepted(name):
    if name.startswith(("xn--", "sthree-", "amzn-s3-demo-")) or name.endswith(
        ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
    ):
        with pytest.raises(ValueError, match="license_report_bucket"):
            validation.bucket_name(name)
    else:
        assert validation.bucket_name(name) == name


@CORPUS
@given(st.text(max_size=80))
def test_any_text_is_a_bucket_name_or_a_failure_naming_the_setting(text):
    try:
        name = validation.bucket_name(text)
    except ValueError as error:
        assert "license_report_bucket" in str(error)
    else:
        assert 3 <= len(name) <= 63 and name == name.lower()


@pytest.mark.parametrize(
    "name",
    [
        "Not_A_Valid_Bucket!",
        "ab",
        "a" * 64,
        "-reports",
        "reports-",
        "re..ports",
        "192.168.1.10",
        "xn--reports",
        "reports-s3alias",
        "Reports",
        "réports",
    ],
)
def test_invalid_bucket_names_fail_naming_the_setting(name):
    with pytest.raises(SettingsError, match="license_report_bucket .*not a valid S3 bucket"):
        resolve(license_report_bucket=name)


# --- license_report_prefix ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_prefix", "prefix"),
    [
        ("", ""),
        ("reports", "reports/"),
        ("/abs/", "abs/"),
        ("a//b/", "a/b/"),
        (" //reports//daily ", "reports/daily/"),
        ("Team-A_(eu)/it's*!.v2", "Team-A_(eu)/it's*!.v2/"),
    ],
)
def test_prefixes_are_normalised(given_prefix, prefix):
    assert resolve(license_report_prefix=given_prefix).license_report_prefix == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        "../escape/",
        "a/../b",
        "./reports",
        "a/./b",
        "tab\there",
        "nul\x00",
        "é" * 600,
        "ünïcode/✓",
        "{{ 7 * 7 }}/",
        "x{{conn.aws_default.password}}/",
        "r{% raw %}x{% endraw %}/",
        "with space/",
        "a%2Fb/",
    ],
)
def test_unsafe_prefixes_fail_naming_the_setting(prefix):
    with pytest.raises(SettingsError, match="license_report_prefix"):
        resolve(license_report_prefix=prefix)


@CORPUS
@given(st.text(max_size=1_200))
def test_every_key_stays_under_the_prefix_and_within_s3s_limit(text):
    try:
        prefix = validation.report_prefix(text)
    except ValueError as error:
        assert "license_report_prefix" in str(error)
        return
    segments = prefix.split("/")[:-1]
    assert all(segment not in ("", ".", "..") for segment in segments)
    assert segments == [segment for segment in text.strip().split("/") if segment]
    from datetime import UTC, datetime

    moment = datetime(2026, 11, 29, tzinfo=UTC)
    longest = staged_usage_key(staging_folder(prefix, moment), "lic-" + "f" * 32)
    assert len(longest.encode()) <= validation.MAX_KEY_BYTES
    assert run_folder(prefix, moment).startswith(prefix)


# --- Topic, key, owner, connection -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        (
            "license_alert_sns_topic_arn",
            [
                "arn:aws:sns:us-east-1:111111111111:alerts",
                "arn:aws-cn:sns:cn-north-1:111111111111:alerts.fifo",
            ],
            ["alerts", "arn:aws:sqs:us-east-1:111111111111:q", "arn:aws:sns:us-east-1:1:t"],
        ),
        (
            "license_report_kms_key_id",
            [
                "1234abcd-12ab-34cd-56ef-1234567890ab",
                "mrk-1234abcd12ab34cd56ef1234567890ab",
                "alias/license-reports",
                "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "arn:aws:kms:us-east-1:111111111111:alias/license-reports",
            ],
            ["my key", "alias/", "arn:aws:kms:us-east-1:111111111111:key/nope", "k" * 3_000],
        ),
        (
            "license_report_bucket_owner",
            ["111111111111"],
            ["11111111111", "1111111111112", "account", "１１１１１１１１１１１１"],
        ),
        ("aws_conn_id", ["aws_default", "aws-reports.prod"], ["bad id", "x" * 251, "a\nb"]),
    ],
)
def test_other_settings_accept_aws_forms_and_reject_the_rest(name, good, bad):
    for value in good:
        assert getattr(resolve(**{name: value}), name) == value
    for value in bad:
        with pytest.raises(SettingsError, match=name):
            resolve(**{name: value})


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("license_alert_sns_topic_arn", "arn:aws:sns:us-east-1\n:111111111111:alerts"),
        ("license_alert_sns_topic_arn", "arn:aws:sns:us-east-123:111111111111:alerts"),
        ("license_alert_sns_topic_arn", "arn:aws:sns:us-east-1:111111111111\n:alerts"),
        ("license_alert_sns_topic_arn", "arn:aws:sns:us-east-1:" + "\uff11" * 12 + ":alerts"),
        ("license_alert_sns_topic_arn", "arn:aws:sns:us-east-1:111111111111:al\nerts"),
        (
            "license_report_kms_key_id",
            "arn:aws:kms:us-east-\u0661:111111111111:alias/license-reports",
        ),
        (
            "license_report_kms_key_id",
            "arn:aws:kms:us-east-1:111111111111\n:alias/license-reports",
        ),
        ("license_report_kms_key_id", "alias/license\n-reports"),
        ("license_report_bucket_owner", "\u0661" * 12),
        ("license_report_bucket_owner", "111111\n111111"),
    ],
)
def test_arn_and_account_fields_are_ascii_without_line_breaks(name, bad):
    with pytest.raises(SettingsError, match=name):
        resolve(**{name: bad})


# One Region and account ID rule (``license_manager.arns``) for every setting that holds one.
_REGION_LIKE = st.from_regex(
    r"[a-z]{2}(-[a-z]{1,9}){1,2}-[0-9\u0661\uff11]{1,3}\n?", fullmatch=True
)


def _region_accepted_by_each_rule(region: str) -> dict[str, bool]:
    arn = f"arn:aws:license-manager:{region}:111111111111:license-configuration:lic-{'a' * 32}"
    return {
        "license_config_arns": _valid(arn),
        "license_discovery_regions": _accepts(discovery.check_regions, [region]),
        "license_alert_sns_topic_arn": _accepts(
            validation.sns_topic_arn, f"arn:aws:sns:{region}:111111111111:alerts"
        ),
        "license_report_kms_key_id": _accepts(
            validation.kms_key_id, f"arn:aws:kms:{region}:111111111111:alias/reports"
        ),
    }


def _accepts(check, value) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


@CORPUS
@given(st.one_of(_REGION_LIKE, st.text(st.characters(exclude_characters=":"), max_size=20)))
@example("us-east-123")
@example("us-east-\u0661")
@example("us-east-1")
def test_every_setting_takes_the_same_regions(region):
    accepted = _region_accepted_by_each_rule(region)
    assert len(set(accepted.values())) == 1, accepted


@CORPUS
@given(
    st.one_of(
        st.from_regex(r"[0-9\u0661\uff11]{11,13}", fullmatch=True),
        st.text(st.characters(exclude_characters=":"), max_size=14),
    ).filter(lambda text: text and text == text.strip())
)
@example("\uff11" * 12)
@example("111111111111")
def test_every_setting_takes_the_same_account_ids(account):
    arn = f"arn:aws:license-manager:us-east-1:{account}:license-configuration:lic-{'a' * 32}"
    accepted = {
        "license_config_arns": _valid(arn),
        "license_discovery_accounts": _accepts(discovery.check_accounts, [account]),
        "license_report_bucket_owner": _accepts(
            lambda text: validation.account_id("license_report_bucket_owner", text), account
        ),
        "license_alert_sns_topic_arn": _accepts(
            validation.sns_topic_arn, f"arn:aws:sns:us-east-1:{account}:alerts"
        ),
    }
    assert len(set(accepted.values())) == 1, accepted


def test_optional_settings_default_to_none():
    settings = resolve()
    assert settings.license_report_kms_key_id is None
    assert settings.license_report_bucket_owner is None
    assert settings.license_alert_sns_topic_arn is None


# --- LICENSE_TRACKING_SCHEDULE (read at parse time) ----------------------------------------------


@CORPUS
@given(
    st.one_of(
        st.text(max_size=60),
        st.builds("rate({} {})".format, st.integers(-5, 10_000), st.sampled_from(UNITS)),
        st.builds(
            "cron({})".format,
            st.lists(
                st.sampled_from(["0", "*", "?", "1-5", "MON", "W", "99", "2027"]), max_size=7
            ).map(" ".join),
        ),
    )
)
def test_any_schedule_converts_or_fails_naming_the_variable(expression):
    from license_manager.schedule import ScheduleError, parse_schedule

    try:
        parse_schedule(expression)
    except ScheduleError as error:
        assert str(error).startswith("LICENSE_TRACKING_SCHEDULE=")
