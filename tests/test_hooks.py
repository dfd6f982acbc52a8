"""LicenseManagerHook through botocore against the emulator: paging and back-off."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from license_manager.hooks import Backoff, LicenseManagerHook

from local_aws.seeding import make_configuration
from tests.support import config_arn

FAST = Backoff(max_attempts=30, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def emulator(local_aws_servers):
    local_aws_servers.emulator.reset()
    return local_aws_servers.emulator


def hook_for(arn: str, backoff: Backoff = FAST) -> LicenseManagerHook:
    return LicenseManagerHook(aws_conn_id=None, region_name=arn.split(":")[3], backoff=backoff)


def test_throttled_pages_resume_from_their_token_without_loss_or_repeats(emulator):
    arn = config_arn("eu-west-1")
    emulator.seed([make_configuration(arn, usage_count=1000)], replace=False)
    emulator.set_faults({"throttle_rate": 0.4, "throttle_seed": 7})

    records = [r["ResourceArn"] for page in hook_for(arn).iter_usage_pages(arn) for r in page]

    assert len(records) == 1000 == len(set(records))
    calls = emulator.call_count("ListUsageForLicenseConfiguration", arn)
    assert calls > 10  # ten pages were served, and some calls were throttled


def test_get_configuration_drops_response_metadata(emulator):
    arn = config_arn("ap-southeast-2")
    emulator.seed([make_configuration(arn, name="Oracle", usage_count=0)], replace=False)
    configuration = hook_for(arn).get_license_configuration(arn)
    assert configuration["Name"] == "Oracle"
    assert "ResponseMetadata" not in configuration


def test_permanent_errors_are_not_retried(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults({"permanent_errors": {arn: "AccessDeniedException"}})
    with pytest.raises(ClientError, match="AccessDeniedException"):
        hook_for(arn).get_license_configuration(arn)
    assert emulator.call_count("GetLicenseConfiguration", arn) == 1


def test_retries_are_bounded(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 10, "error": "ServerInternalException"}}}
    )
    bounded = Backoff(max_attempts=3, base_delay=0.001, max_delay=0.01)
    with pytest.raises(ClientError, match="ServerInternalException"):
        hook_for(arn, bounded).get_license_configuration(arn)
    assert emulator.call_count("GetLicenseConfiguration", arn) == 3


def test_backoff_delays_grow_exponentially_with_full_jitter():
    policy = Backoff(max_attempts=6, base_delay=0.5, max_delay=4.0)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= delay <= cap for delay in delays)
        assert max(delays) > cap / 2
