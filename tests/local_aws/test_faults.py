"""Fault injection and call counting, in-process."""

from __future__ import annotations

import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import make_config_arn
from tests.local_aws.helpers import ACCOUNT_A

WIN = make_config_arn("us-east-1", ACCOUNT_A, "demo-win-dc-use1")
SQL = make_config_arn("us-east-1", ACCOUNT_A, "demo-sql-ent-use1")
GET = "GetLicenseConfiguration"
USAGE = "ListUsageForLicenseConfiguration"


def _code(call, **params):
    try:
        call(**params)
        return None
    except ClientError as exc:
        return exc.response["Error"]["Code"]


def test_latency(lm, emulator):
    client = lm()
    emulator.set_faults(latency_ms=300)
    started = time.monotonic()
    client.get_license_configuration(LicenseConfigurationArn=WIN)
    elapsed = time.monotonic() - started
    assert 0.29 <= elapsed < 10


def test_throttle_rate_is_roughly_honoured_and_deterministic(lm, emulator):
    client = lm()

    def outcomes():
        emulator.set_faults(throttle_rate=0.3, throttle_seed=42)
        return [
            _code(client.get_license_configuration, LicenseConfigurationArn=WIN) for _ in range(200)
        ]

    first, second = outcomes(), outcomes()
    assert first == second
    throttled = first.count("RateLimitExceededException")
    assert set(first) == {None, "RateLimitExceededException"}
    assert 30 <= throttled <= 90
    emulator.set_faults(throttle_rate=0.3, throttle_seed=7)
    assert outcomes() == first  # same seed again
    assert emulator.call_count(GET, WIN) == 600


def test_failures_then_success_counted_per_arn_across_operations(lm, emulator):
    client = lm()
    emulator.set_faults(
        fail_then_succeed={WIN: {"failures": 3, "error": "RateLimitExceededException"}}
    )
    assert _code(client.get_license_configuration, LicenseConfigurationArn=WIN)
    assert _code(client.list_usage_for_license_configuration, LicenseConfigurationArn=WIN)
    assert _code(client.get_license_configuration, LicenseConfigurationArn=SQL) is None
    assert _code(client.get_license_configuration, LicenseConfigurationArn=WIN)
    assert _code(client.list_usage_for_license_configuration, LicenseConfigurationArn=WIN) is None
    assert _code(client.get_license_configuration, LicenseConfigurationArn=WIN) is None
    assert emulator.faults()["fail_then_succeed"][WIN]["remaining"] == 0


def test_botocore_retries_server_errors_but_not_rate_limit(lm, emulator):
    """ServerInternalException is a 500, which botocore retries by itself;
    RateLimitExceededException is a modeled 400 that botocore does not see as throttling."""
    retrying = lm(config=Config(retries={"mode": "standard", "max_attempts": 5}))
    emulator.set_faults(
        fail_then_succeed={
            WIN: {"failures": 2, "error": "ServerInternalException"},
            SQL: {"failures": 2, "error": "RateLimitExceededException"},
        }
    )
    response = retrying.get_license_configuration(LicenseConfigurationArn=WIN)
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert _code(retrying.get_license_configuration, LicenseConfigurationArn=SQL) == (
        "RateLimitExceededException"
    )
    assert emulator.call_count(GET, SQL) == 1


def test_permanent_errors(lm, emulator):
    client = lm()
    emulator.set_faults(permanent_errors={WIN: "AccessDeniedException"})
    for _ in range(3):
        assert _code(client.get_license_configuration, LicenseConfigurationArn=WIN) == (
            "AccessDeniedException"
        )
        assert _code(client.list_usage_for_license_configuration, LicenseConfigurationArn=WIN)
    assert _code(client.get_license_configuration, LicenseConfigurationArn=SQL) is None
    assert _code(client.list_license_configurations) is None
    emulator.set_faults(permanent_errors={"*": "AuthorizationException"})
    assert _code(client.list_license_configurations) == "AuthorizationException"
    emulator.clear_faults()
    assert _code(client.get_license_configuration, LicenseConfigurationArn=WIN) is None


def test_call_counts_include_errors_and_reset(lm, emulator):
    client = lm()
    emulator.set_faults(permanent_errors={SQL: "AccessDeniedException"})
    client.get_license_configuration(LicenseConfigurationArn=WIN)
    _code(client.get_license_configuration, LicenseConfigurationArn=SQL)
    _code(client.get_license_configuration, LicenseConfigurationArn="arn:bad")
    client.list_usage_for_license_configuration(LicenseConfigurationArn=WIN)
    client.list_license_configurations()
    client.list_license_configurations()
    snapshot = emulator.calls()
    assert snapshot["total"] == 6
    assert snapshot["by_operation"] == {GET: 3, USAGE: 1, "ListLicenseConfigurations": 2}
    assert snapshot["by_operation_arn"][GET] == {WIN: 1, SQL: 1, "arn:bad": 1}
    assert emulator.call_count(arn=WIN) == 2
    emulator.reset_calls()
    assert emulator.calls() == {"total": 0, "by_operation": {}, "by_operation_arn": {}}


@pytest.mark.parametrize(
    "spec",
    [
        {"latency_ms": -1},
        {"throttle_rate": 1.5},
        {"permanent_errors": {WIN: "NoSuchError"}},
        {"fail_then_succeed": {WIN: {"failures": "two"}}},
        {"surprise": True},
    ],
)
def test_invalid_fault_specs(emulator, spec):
    with pytest.raises(ValueError):
        emulator.set_faults(spec)
