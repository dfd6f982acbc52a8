"""Generated usage: deterministic, pageable at 1,000,000 records with flat memory."""

from __future__ import annotations

import tracemalloc

from local_aws import make_config_arn, make_configuration
from local_aws.seeding import build_configuration
from local_aws.usage import GeneratedUsage
from tests.local_aws.helpers import ACCOUNT_A, ACCOUNT_B, assert_valid_output

N = 1_000_000


def test_million_records_first_and_last_page(lm, emulator):
    arn = make_config_arn("eu-west-1", ACCOUNT_A, "million")
    entry = make_configuration(arn, usage_count=N, owner_accounts=[ACCOUNT_A, ACCOUNT_B])
    tracemalloc.start()
    try:
        emulator.seed([entry], replace=False)
        client = lm("eu-west-1")
        first = client.list_usage_for_license_configuration(LicenseConfigurationArn=arn)
        last = client.list_usage_for_license_configuration(
            LicenseConfigurationArn=arn, NextToken=emulator.usage_token(arn, N - 100)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # a materialised list of 1M records would be ~1 GB
    assert_valid_output(client, "ListUsageForLicenseConfiguration", last)
    assert len(first["LicenseConfigurationUsageList"]) == 100 and "NextToken" in first
    assert len(last["LicenseConfigurationUsageList"]) == 100 and "NextToken" not in last

    usage = build_configuration(entry).usage  # what the store keeps for the entry
    assert isinstance(usage, GeneratedUsage) and len(usage) == N
    assert not any(isinstance(v, list | dict) for v in vars(usage).values())
    expected_last = usage.record(N - 1)
    got_last = last["LicenseConfigurationUsageList"][-1]
    assert got_last["ResourceArn"] == expected_last["ResourceArn"]
    assert int(got_last["AssociationTime"].timestamp()) == expected_last["AssociationTime"]

    again = client.list_usage_for_license_configuration(LicenseConfigurationArn=arn)
    assert again["LicenseConfigurationUsageList"] == first["LicenseConfigurationUsageList"]
    config = client.get_license_configuration(LicenseConfigurationArn=arn)
    managed = sum(s["AssociationCount"] for s in config["ManagedResourceSummaryList"])
    assert managed == N


def test_generation_is_deterministic_and_unique():
    def make():
        return GeneratedUsage(
            5000, region="us-east-1", partition="aws", owner_accounts=[ACCOUNT_A], id_offset=7
        )

    a, b = make(), make()
    assert [a.record(i) for i in range(5000)] == [b.record(i) for i in range(5000)]
    assert len({a.record(i)["ResourceArn"] for i in range(5000)}) == 5000
    consumed, managed, total = a.summaries()
    assert total == sum(a.record(i)["ConsumedLicenses"] for i in range(5000))
    assert sum(m["AssociationCount"] for m in managed) == 5000
    assert sum(c["ConsumedLicenses"] for c in consumed) == total
