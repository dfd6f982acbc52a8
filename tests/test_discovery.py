"""The rules of the organisation settings, role session names and the merge order."""

from __future__ import annotations

import pytest
from license_manager.discovery import (
    AccountAccess,
    check_accounts,
    check_external_id,
    check_regions,
    check_role_template,
    merge_requested,
    role_session_name,
)
from license_manager.settings import SettingsError, resolve_settings

from tests.support import config_arn


def _settings(**values):
    """The settings from Airflow Variables (deployment settings come from nowhere else)."""
    return resolve_settings({}, {"license_report_bucket": "reports", **values}.get)


def test_discovery_alone_needs_no_arns_and_lists_take_every_form():
    settings = _settings(
        license_discovery_regions='["us-east-1", "eu-west-1", "us-east-1"]',
        license_discovery_accounts="111111111111,\n222222222222 111111111111",
    )
    assert settings.license_config_arns == []
    assert settings.license_discovery_regions == ["us-east-1", "eu-west-1"]
    assert settings.license_discovery_accounts == ["111111111111", "222222222222"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"license_discovery_regions": "US-EAST-1"}, "license_discovery_regions"),
        ({"license_discovery_regions": "[not json"}, "license_discovery_regions"),
        (
            {
                "license_discovery_regions": "us-east-1",
                "license_discovery_accounts": "1234567890123",
            },
            "license_discovery_accounts",
        ),
        (
            {"license_discovery_regions": "us-east-1", "license_account_role_arn_template": "x"},
            "license_account_role_arn_template",
        ),
        (
            {
                "license_discovery_regions": "us-east-1",
                "license_account_role_arn_template": "arn:aws:iam::{account_id}:role/{name}",
            },
            "license_account_role_arn_template",
        ),
        (
            {"license_discovery_regions": "us-east-1", "license_account_role_external_id": "a b"},
            "license_account_role_external_id",
        ),
        ({"license_discovery_regions": "us-east-123"}, "license_discovery_regions"),
        ({"license_discovery_regions": '["us-east-\u0661"]'}, "license_discovery_regions"),
        (
            {
                "license_discovery_regions": "us-east-1",
                "license_discovery_accounts": '["\uff11\uff11\uff11\uff11\uff11\uff11'
                '\uff11\uff11\uff11\uff11\uff11\uff11"]',
            },
            "license_discovery_accounts",
        ),
        (
            {
                "license_discovery_regions": "us-east-1",
                "license_account_role_arn_template": "arn:aws:iam::123456789012:role/{account_id}",
            },
            "license_account_role_arn_template",
        ),
        ({}, "license_discovery_regions"),
    ],
)
def test_malformed_organisation_settings_name_the_setting(values, named):
    with pytest.raises(SettingsError, match=named):
        _settings(**values)


def test_role_template_and_external_id_rules():
    template = "arn:{partition}:iam::{account_id}:role/org/LicenseTrackingReader"
    assert check_role_template(template) == template
    assert check_external_id("tracking-2026:x") == "tracking-2026:x"
    access = AccountAccess("aws_default", "123456789012", template)
    assert access.role_for("123456789012", "aws") is None  # the connection's own account
    assert access.role_for("111111111111", "aws-cn") == (
        "arn:aws-cn:iam::111111111111:role/org/LicenseTrackingReader"
    )
    assert AccountAccess("aws_default").role_for("111111111111", "aws") is None
    assert "role_arn_template" not in AccountAccess("aws_default").kwargs()


@pytest.mark.parametrize(
    "region", ["us-east-123", "us-east-\u0661", "us-east-\uff11", "us-east-1\n", "eu-west-1\r"]
)
def test_regions_are_ascii_with_at_most_two_digits_and_nothing_after(region):
    with pytest.raises(ValueError, match="license_discovery_regions"):
        check_regions(["us-east-1", region])


@pytest.mark.parametrize(
    "account", ["\uff11" * 12, "\u0661" * 12, "\u0967" * 12, "111111111111\n", "11111111111\n"]
)
def test_account_ids_are_twelve_ascii_digits_and_nothing_after(account):
    with pytest.raises(ValueError, match="license_discovery_accounts"):
        check_accounts(["111111111111", account])


@pytest.mark.parametrize(
    "template",
    [
        "arn:aws:iam::123456789012:role/{account_id}",
        "arn:aws:iam::123456789012:role/reader-{account_id}",
        "arn:aws:iam::123456789012:role/{account_id}/LicenseTrackingReader",
    ],
)
def test_a_role_template_must_put_the_account_in_the_account_field(template):
    with pytest.raises(ValueError, match=r"license_account_role_arn_template .* account field"):
        check_role_template(template)


@pytest.mark.parametrize(
    "template",
    [
        "arn:aws:iam::{account_id}:role/LicenseTrackingReader\n",
        "arn:aws:iam::{account_id}:role/License\nTrackingReader",
        "arn:aws:iam::{account_id}:role/Lic\u00e9nseReader",
        "arn:aws:iam::{account_id}:role/Reader\u0661",
        "arn:aws:iam::{account_id}\n:role/LicenseTrackingReader",
    ],
)
def test_a_role_template_gives_an_ascii_role_arn_and_nothing_after(template):
    with pytest.raises(ValueError, match="license_account_role_arn_template"):
        check_role_template(template)


@pytest.mark.parametrize(
    "template",
    [
        "arn:aws:iam::{account_id}:role/LicenseTrackingReader",
        "arn:{partition}:iam::{account_id}:role/org/LicenseTrackingReader",
        "arn:aws:iam::{account_id}:role/reader-{account_id}",
    ],
)
def test_role_templates_that_name_the_account_in_its_field_are_accepted(template):
    assert check_role_template(template) == template


@pytest.mark.parametrize("external_id", ["tracking-2026\n", "tr\u00e4cking", "\u0661\u0662\u0663"])
def test_an_external_id_is_ascii_and_nothing_after(external_id):
    with pytest.raises(ValueError, match="license_account_role_external_id"):
        check_external_id(external_id)


def test_role_session_name_names_the_run_within_sts_rules():
    name = role_session_name("license_tracking", "manual__2026-11-30T04:45:33.123+00:00")
    assert name == "license_tracking.manual__2026-11-30T04-45-33.123+00-00"
    long = role_session_name("license_tracking", "scheduled__" + "x" * 100)
    assert len(long) == 64 and long.startswith("license_tracking.scheduled__")


def test_merge_keeps_listed_first_then_discovered_by_account_region_arn():
    a_use1 = sorted(config_arn("us-east-1", "111111111111") for _ in range(2))
    b_euw1 = config_arn("eu-west-1", "222222222222")
    a_euw1 = config_arn("eu-west-1", "111111111111")
    listed = [
        {"arn": b_euw1, "status": "pending", "source": "listed"},
        {"arn": "bad", "status": "invalid", "source": "listed"},
    ]
    discovered = [
        {"account_id": "222222222222", "region": "eu-west-1", "arns": [b_euw1]},
        {"account_id": "111111111111", "region": "us-east-1", "arns": list(reversed(a_use1))},
        {"account_id": "111111111111", "region": "eu-west-1", "arns": [a_euw1]},
    ]
    merged = merge_requested(listed, discovered)
    assert [entry["arn"] for entry in merged] == [b_euw1, "bad", a_euw1, *a_use1]
    assert [entry["source"] for entry in merged] == ["listed"] * 2 + ["discovered"] * 3


class _Pages:
    """A hook whose ListLicenseConfigurations pages are given (token: the next page's index)."""

    def __init__(self, pages):
        self.pages = pages

    def get_configuration_arn_page(self, page_size=None, next_token=None):
        index = int(next_token or 0)
        following = str(index + 1) if index + 1 < len(self.pages) else None
        return self.pages[index], following


def test_discover_reads_every_page_and_keeps_the_scopes_own_account():
    from license_manager.discovery import discover
    from license_manager.retries import Backoff

    mine = sorted(config_arn("us-east-1", "111111111111") for _ in range(3))
    other = config_arn("us-east-1", "222222222222")
    hook = _Pages([[mine[2]], [other, mine[0]], [mine[1]]])
    scope = {"account_id": "111111111111", "region": "us-east-1"}
    record = discover(lambda account, region: hook, scope, Backoff(max_attempts=1))
    assert record == {**scope, "status": "ok", "error": None, "arns": mine}


def test_discover_records_a_failure_instead_of_raising():
    from botocore.exceptions import ClientError
    from license_manager.discovery import discover
    from license_manager.retries import Backoff

    def denied(account, region):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "AssumeRole")

    scope = {"account_id": "111111111111", "region": "eu-west-1"}
    record = discover(denied, scope, Backoff(max_attempts=1))
    assert record == {**scope, "status": "failed", "error": "AccessDenied: no", "arns": []}
