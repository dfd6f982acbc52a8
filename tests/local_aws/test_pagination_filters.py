"""Pagination through botocore's paginators, filters, Region isolation and account listing."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local_aws import make_config_arn, make_configuration
from tests.local_aws.helpers import ACCOUNT_A, ACCOUNT_B

WIN_USE1 = make_config_arn("us-east-1", ACCOUNT_A, "demo-win-dc-use1")


def _usage(client, arn, **kwargs):
    paginator = client.get_paginator("list_usage_for_license_configuration")
    pages = list(paginator.paginate(LicenseConfigurationArn=arn, **kwargs))
    return pages, [r for page in pages for r in page["LicenseConfigurationUsageList"]]


def _records(n, region="us-east-1"):
    return [
        {
            "ResourceArn": f"arn:aws:ec2:{region}:{ACCOUNT_A}:instance/i-{i:017x}",
            "ResourceType": "EC2_INSTANCE" if i % 3 else "EC2_HOST",
            "ResourceStatus": "running",
            "ResourceOwnerId": ACCOUNT_A if i % 2 else ACCOUNT_B,
            "AssociationTime": 1_700_000_000 + i,
            "ConsumedLicenses": 2,
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("generated", [False, True])
def test_paginator_returns_every_record_once(lm, emulator, generated):
    arn = make_config_arn("us-east-1", ACCOUNT_A, "paged")
    seed = (
        make_configuration(arn, usage_count=257)
        if generated
        else make_configuration(arn, usage=_records(257))
    )
    emulator.seed([seed], replace=False)
    pages, records = _usage(lm(), arn)
    assert [len(p["LicenseConfigurationUsageList"]) for p in pages] == [100, 100, 57]
    assert "NextToken" not in pages[-1]
    arns = [r["ResourceArn"] for r in records]
    assert len(arns) == 257 == len(set(arns))
    if not generated:
        assert arns == [r["ResourceArn"] for r in _records(257)]


def test_demo_configuration_pages_at_100(lm, emulator):
    pages, records = _usage(lm(), WIN_USE1)
    assert len(pages) == 3 and len(records) == 260


def test_page_size_cap_and_clamping(lm, emulator):
    client = lm()
    page = client.list_usage_for_license_configuration(
        LicenseConfigurationArn=WIN_USE1, MaxResults=1000
    )
    assert len(page["LicenseConfigurationUsageList"]) == 100
    emulator.update_settings(page_size_cap=40)
    pages, records = _usage(client, WIN_USE1)
    assert [len(p["LicenseConfigurationUsageList"]) for p in pages] == [40] * 6 + [20]
    pages, _ = _usage(client, WIN_USE1, PaginationConfig={"PageSize": 25})
    assert len(pages) == 11


def test_paginator_max_items_resumes(lm, emulator):
    client = lm()
    paginator = client.get_paginator("list_usage_for_license_configuration")
    first = paginator.paginate(
        LicenseConfigurationArn=WIN_USE1, PaginationConfig={"MaxItems": 150}
    ).build_full_result()
    rest = paginator.paginate(
        LicenseConfigurationArn=WIN_USE1, PaginationConfig={"StartingToken": first["NextToken"]}
    ).build_full_result()
    seen = [r["ResourceArn"] for r in first["LicenseConfigurationUsageList"]]
    seen += [r["ResourceArn"] for r in rest["LicenseConfigurationUsageList"]]
    assert len(seen) == 260 == len(set(seen))


def test_token_is_bound_to_its_request(lm, emulator):
    client = lm()
    page = client.list_usage_for_license_configuration(LicenseConfigurationArn=WIN_USE1)
    other = make_config_arn("us-east-1", ACCOUNT_A, "demo-sql-ent-use1")
    with pytest.raises(ClientError) as info:
        client.list_usage_for_license_configuration(
            LicenseConfigurationArn=other, NextToken=page["NextToken"]
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_usage_filters(lm, emulator):
    arn = make_config_arn("us-east-1", ACCOUNT_A, "filtered")
    records = _records(300)
    emulator.seed([make_configuration(arn, usage=records)], replace=False)
    client = lm()

    def arns(filters):
        return [r["ResourceArn"] for r in _usage(client, arn, Filters=filters)[1]]

    hosts = arns([{"Name": "resourceType", "Values": ["EC2_HOST"]}])
    assert hosts == [r["ResourceArn"] for r in records if r["ResourceType"] == "EC2_HOST"]
    owned_b = arns([{"Name": "resourceAccount", "Values": [ACCOUNT_B]}])
    assert len(owned_b) == 150
    both = arns(
        [
            {"Name": "resourceType", "Values": ["EC2_HOST"]},
            {"Name": "resourceAccount", "Values": [ACCOUNT_B]},
        ]
    )
    assert set(both) == set(hosts) & set(owned_b)
    one = records[123]["ResourceArn"]
    assert arns([{"Name": "resourceArn", "Values": [one]}]) == [one]
    assert arns([{"Name": "resourceArn", "Values": ["arn:aws:ec2:x"]}]) == []


def test_filters_over_generated_usage(lm, emulator):
    arn = make_config_arn("us-east-1", ACCOUNT_A, "generated-filtered")
    emulator.seed(
        [make_configuration(arn, usage_count=2000, owner_accounts=[ACCOUNT_A, ACCOUNT_B])],
        replace=False,
    )
    client = lm()
    rds = _usage(client, arn, Filters=[{"Name": "resourceType", "Values": ["RDS"]}])[1]
    assert len(rds) == 100 and {r["ResourceType"] for r in rds} == {"RDS"}
    owned = _usage(client, arn, Filters=[{"Name": "resourceAccount", "Values": [ACCOUNT_B]}])[1]
    assert len(owned) == 1000
    config = client.get_license_configuration(LicenseConfigurationArn=arn)
    summary = {
        s["ResourceType"]: s["AssociationCount"] for s in config["ManagedResourceSummaryList"]
    }
    assert summary["RDS"] == 100 and sum(summary.values()) == 2000
    everything = _usage(client, arn)[1]
    assert config["ConsumedLicenses"] == sum(r["ConsumedLicenses"] for r in everything)


def test_region_isolation(lm, emulator):
    for region in ("eu-west-1", "ap-southeast-2", "us-west-2"):
        with pytest.raises(ClientError) as info:
            lm(region).get_license_configuration(LicenseConfigurationArn=WIN_USE1)
        assert info.value.response["Error"]["Code"] == "InvalidParameterValueException"
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
        listed = lm(region).list_license_configurations()["LicenseConfigurations"]
        assert listed and {c["LicenseConfigurationArn"].split(":")[3] for c in listed} == {region}
    assert lm("us-west-2").list_license_configurations()["LicenseConfigurations"] == []


def test_partition_follows_region(lm, emulator):
    cn = make_config_arn("cn-north-1", ACCOUNT_A, "china")
    gov = make_config_arn("us-gov-west-1", ACCOUNT_A, "gov")
    assert cn.startswith("arn:aws-cn:") and gov.startswith("arn:aws-us-gov:")
    emulator.seed([make_configuration(cn, usage_count=3), make_configuration(gov)], replace=False)
    record = lm("cn-north-1").list_usage_for_license_configuration(LicenseConfigurationArn=cn)
    assert record["LicenseConfigurationUsageList"][0]["ResourceArn"].startswith("arn:aws-cn:ec2:")
    assert lm("us-gov-west-1").get_license_configuration(LicenseConfigurationArn=gov)["Name"]
    with pytest.raises(ValueError):
        emulator.seed(
            [
                make_configuration(cn).copy()
                | {"LicenseConfigurationArn": cn.replace("aws-cn", "aws")}
            ]
        )


def test_account_listing(lm, emulator):
    def names(account, **kwargs):
        listed = lm("us-east-1", account).list_license_configurations(**kwargs)
        return {c["OwnerAccountId"] for c in listed["LicenseConfigurations"]}, len(
            listed["LicenseConfigurations"]
        )

    assert names(ACCOUNT_A) == ({ACCOUNT_A}, 3)
    assert names(ACCOUNT_B) == ({ACCOUNT_B}, 2)
    assert names("testing") == ({"123456789012"}, 1)  # non-12-digit key: account 123456789012
    emulator.update_settings(default_account=ACCOUNT_B)
    assert names("testing") == ({ACCOUNT_B}, 2)
    # Without account isolation (the default), any caller may read another account's by ARN.
    arn_b = make_config_arn("us-east-1", ACCOUNT_B, "demo-ora-ee-use1")
    assert lm("us-east-1", ACCOUNT_A).get_license_configuration(LicenseConfigurationArn=arn_b)
    assert names(ACCOUNT_A, LicenseConfigurationArns=[arn_b]) == ({ACCOUNT_B}, 1)


def test_list_configuration_filters_and_pages(lm, emulator):
    client = lm("us-east-1", ACCOUNT_A)

    def listed(filters):
        paginator = client.get_paginator("list_license_configurations")
        result = paginator.paginate(Filters=filters, PaginationConfig={"PageSize": 1})
        return [c["Name"] for c in result.build_full_result()["LicenseConfigurations"]]

    assert listed([]) == [
        "Windows Server Datacenter - vCPU",
        "SQL Server Enterprise - Core",
        "RHEL - Instance (unused)",
    ]
    assert listed([{"Name": "licenseCountingType", "Values": ["Core"]}]) == [
        "SQL Server Enterprise - Core"
    ]
    assert listed([{"Name": "enforceLicenseCount", "Values": ["true"]}]) == [
        "SQL Server Enterprise - Core"
    ]
    exceeded = lm("us-east-1", ACCOUNT_B).list_license_configurations(
        Filters=[{"Name": "usagelimitExceeded", "Values": ["true"]}]
    )["LicenseConfigurations"]
    assert [c["Name"] for c in exceeded] == ["RHEL - Instance"]
