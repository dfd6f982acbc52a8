"""Accounts as AWS keeps them apart: isolation by caller, STS AssumeRole through the local AWS,
denied roles, and Regions that answer an error for one account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import make_config_arn, make_configuration
from local_aws.arns import DEFAULT_ACCOUNT
from local_aws.servers import LocalAWS
from tests.local_aws.helpers import ACCOUNT_A, ACCOUNT_B, NO_RETRIES

HOME = DEFAULT_ACCOUNT
HOME_ARN = make_config_arn("us-east-1", HOME, "home")
A_ARN = make_config_arn("us-east-1", ACCOUNT_A, "member-a")
B_ARN = make_config_arn("eu-west-1", ACCOUNT_B, "member-b")


@pytest.fixture(scope="module")
def local() -> Iterator[LocalAWS]:
    with LocalAWS(isolate_accounts=True) as servers:
        yield servers


@pytest.fixture
def aws(local: LocalAWS) -> LocalAWS:
    local.emulator.reset()
    local.emulator.seed([make_configuration(arn) for arn in (HOME_ARN, A_ARN, B_ARN)])
    return local


def _session(local: LocalAWS, **credentials: str) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials.get("AccessKeyId", "testing"),
        aws_secret_access_key=credentials.get("SecretAccessKey", "testing"),
        aws_session_token=credentials.get("SessionToken"),
    )


def _lm(local: LocalAWS, region: str, **credentials: str):
    return _session(local, **credentials).client(
        "license-manager", region, endpoint_url=local.emulator_url, config=NO_RETRIES
    )


def _assume(local: LocalAWS, account: str, **extra: Any) -> dict[str, str]:
    sts = _session(local).client("sts", "us-east-1", endpoint_url=local.env["AWS_ENDPOINT_URL_STS"])
    role = f"arn:aws:iam::{account}:role/LicenseTrackingReader"
    return sts.assume_role(RoleArn=role, RoleSessionName="test", **extra)["Credentials"]


def _code(call, **kwargs) -> str | None:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


def test_a_caller_reads_only_its_own_account(aws):
    home = _lm(aws, "us-east-1")
    assert home.get_license_configuration(LicenseConfigurationArn=HOME_ARN)["Name"]
    assert _code(home.get_license_configuration, LicenseConfigurationArn=A_ARN) == (
        "AccessDeniedException"
    )
    assert _code(home.list_usage_for_license_configuration, LicenseConfigurationArn=A_ARN) == (
        "AccessDeniedException"
    )
    listed = home.list_license_configurations()["LicenseConfigurations"]
    assert [c["LicenseConfigurationArn"] for c in listed] == [HOME_ARN]
    by_arn = home.list_license_configurations(LicenseConfigurationArns=[HOME_ARN, A_ARN])
    assert [c["LicenseConfigurationArn"] for c in by_arn["LicenseConfigurations"]] == [HOME_ARN]


def test_assumed_role_credentials_are_the_target_accounts(aws):
    credentials = _assume(aws, ACCOUNT_A)
    member = _lm(aws, "us-east-1", **credentials)
    assert member.get_license_configuration(LicenseConfigurationArn=A_ARN)["Name"]
    listed = member.list_license_configurations()["LicenseConfigurations"]
    assert [c["LicenseConfigurationArn"] for c in listed] == [A_ARN]
    assert _code(member.get_license_configuration, LicenseConfigurationArn=HOME_ARN) == (
        "AccessDeniedException"
    )
    sts = _session(aws, **credentials).client(
        "sts", "us-east-1", endpoint_url=aws.env["AWS_ENDPOINT_URL_STS"]
    )
    assert sts.get_caller_identity()["Account"] == ACCOUNT_A


def test_the_sts_front_remembers_the_credentials_it_issued_until_reset(aws):
    first, second = _assume(aws, ACCOUNT_A), _assume(aws, ACCOUNT_B, DurationSeconds=900)

    issued = aws.emulator.issued_credentials()

    assert [c.duration_seconds for c in issued] == [3600, 900]  # asked for, or STS's default

    assert [(c.role_arn, *c.secrets) for c in issued] == [
        (
            f"arn:aws:iam::{account}:role/LicenseTrackingReader",
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )
        for account, credentials in ((ACCOUNT_A, first), (ACCOUNT_B, second))
    ]
    aws.emulator.reset()
    assert aws.emulator.issued_credentials() == []
    # forgotten as issued, still the member account's keys
    sts = _session(aws, **first).client("sts", "us-east-1", endpoint_url=aws.emulator_url)
    assert sts.get_caller_identity()["Account"] == ACCOUNT_A


def test_a_denied_role_cannot_be_assumed(aws):
    role = f"arn:aws:iam::{ACCOUNT_B}:role/LicenseTrackingReader"
    aws.emulator.update_settings(denied_roles=[role])
    with pytest.raises(ClientError) as raised:
        _assume(aws, ACCOUNT_B)
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert role in raised.value.response["Error"]["Message"]
    assert _assume(aws, ACCOUNT_A)["AccessKeyId"]
    aws.emulator.reset()
    assert _assume(aws, ACCOUNT_B)["AccessKeyId"]


def test_a_scope_error_answers_for_that_account_and_region_only(aws):
    aws.emulator.update_settings(
        scope_errors={f"{ACCOUNT_B}/eu-west-1": "UnrecognizedClientException"}
    )
    member_b = _assume(aws, ACCOUNT_B)
    assert _code(_lm(aws, "eu-west-1", **member_b).list_license_configurations) == (
        "UnrecognizedClientException"
    )
    assert _code(_lm(aws, "us-east-1", **member_b).list_license_configurations) is None
    assert _code(_lm(aws, "eu-west-1").list_license_configurations) is None


def test_isolation_is_a_setting(aws):
    aws.emulator.update_settings(isolate_accounts=False)
    home = _lm(aws, "us-east-1")
    assert home.get_license_configuration(LicenseConfigurationArn=A_ARN)["Name"]
    with pytest.raises(ValueError, match="scope_errors"):
        aws.emulator.update_settings(scope_errors={"x/y": "Nope"})
