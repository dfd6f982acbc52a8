"""Every emulator answer parses through botocore and validates against the model's shapes."""

from __future__ import annotations

import json
import urllib.request

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

from local_aws import make_config_arn, make_configuration
from local_aws.api import OPERATIONS
from tests.local_aws.helpers import ACCOUNT_A, ACCOUNT_B, assert_valid_output

WIN_USE1 = make_config_arn("us-east-1", ACCOUNT_A, "demo-win-dc-use1")
ORA_SPARSE = make_config_arn("eu-west-1", ACCOUNT_A, "demo-ora-euw1")
RHEL_EMPTY = make_config_arn("us-east-1", ACCOUNT_A, "demo-rhel-use1-empty")
MISSING = make_config_arn("us-east-1", ACCOUNT_A, "no-such-configuration")

USAGE_CASES = [
    {},
    {"MaxResults": 5},
    {"MaxResults": 1000},
    {"Filters": [{"Name": "resourceType", "Values": ["SYSTEMS_MANAGER_MANAGED_INSTANCE"]}]},
    {"Filters": [{"Name": "resourceAccount", "Values": [ACCOUNT_B]}], "MaxResults": 7},
    {"Filters": [{"Name": "resourceType", "Values": ["RDS"]}]},  # no match: empty list
    {
        "Filters": [
            {"Name": "resourceType", "Values": ["EC2_INSTANCE"]},
            {"Name": "resourceAccount", "Values": [ACCOUNT_A, ACCOUNT_B]},
        ]
    },
]
LIST_CASES = [
    {},
    {"MaxResults": 1},
    {"Filters": [{"Name": "licenseCountingType", "Values": ["Core"]}]},
    {"Filters": [{"Name": "enforceLicenseCount", "Values": ["true"]}]},
    {"Filters": [{"Name": "usagelimitExceeded", "Values": ["false"]}]},
    {"LicenseConfigurationArns": [WIN_USE1, RHEL_EMPTY, MISSING]},
]


def test_get_every_demo_configuration(lm, emulator, demo_seed):
    for entry in demo_seed:
        region = entry["LicenseConfigurationArn"].split(":")[3]
        client = lm(region)
        response = client.get_license_configuration(
            LicenseConfigurationArn=entry["LicenseConfigurationArn"]
        )
        assert_valid_output(client, "GetLicenseConfiguration", response)
        expected = {k for k in entry if not k.startswith("usage")}
        assert set(client.raw.last[1]) == expected  # absent in the seed = absent in the answer


def test_get_sparse_configuration_omits_absent_members(lm, emulator):
    response = lm("eu-west-1").get_license_configuration(LicenseConfigurationArn=ORA_SPARSE)
    assert "Description" not in response and "Tags" not in response
    assert "AutomatedDiscoveryInformation" not in response


def test_get_timestamps_are_epoch_numbers(lm, emulator, demo_seed):
    client = lm()
    response = client.get_license_configuration(LicenseConfigurationArn=WIN_USE1)
    assert_valid_output(client, "GetLicenseConfiguration", response)
    raw = client.raw.last[1]
    assert isinstance(raw["AutomatedDiscoveryInformation"]["LastRunTime"], int | float)
    assert response["AutomatedDiscoveryInformation"]["LastRunTime"].year == 2024


@pytest.mark.parametrize("params", USAGE_CASES)
def test_list_usage_shapes(lm, emulator, params):
    client = lm()
    response = client.list_usage_for_license_configuration(
        LicenseConfigurationArn=WIN_USE1, **params
    )
    assert_valid_output(client, "ListUsageForLicenseConfiguration", response)
    for record in client.raw.last[1]["LicenseConfigurationUsageList"]:
        assert isinstance(record["AssociationTime"], int | float)
    if "NextToken" in response:  # the continuation page validates too
        again = client.list_usage_for_license_configuration(
            LicenseConfigurationArn=WIN_USE1, NextToken=response["NextToken"], **params
        )
        assert_valid_output(client, "ListUsageForLicenseConfiguration", again)


def test_list_usage_empty_and_generated(lm, emulator):
    client = lm()
    empty = client.list_usage_for_license_configuration(LicenseConfigurationArn=RHEL_EMPTY)
    assert_valid_output(client, "ListUsageForLicenseConfiguration", empty)
    assert empty["LicenseConfigurationUsageList"] == [] and "NextToken" not in empty

    arn = make_config_arn("us-east-1", ACCOUNT_A, "generated")
    emulator.seed([make_configuration(arn, usage_count=150)], replace=False)
    got = client.get_license_configuration(LicenseConfigurationArn=arn)
    assert_valid_output(client, "GetLicenseConfiguration", got)
    usage = client.list_usage_for_license_configuration(LicenseConfigurationArn=arn)
    assert_valid_output(client, "ListUsageForLicenseConfiguration", usage)


@pytest.mark.parametrize("params", LIST_CASES)
@pytest.mark.parametrize("account", [ACCOUNT_A, ACCOUNT_B])
def test_list_configurations_shapes(lm, emulator, params, account):
    client = lm("us-east-1", account)
    response = client.list_license_configurations(**params)
    assert_valid_output(client, "ListLicenseConfigurations", response)
    # LicenseConfiguration has no Tags member, unlike GetLicenseConfiguration's answer.
    assert all("Tags" not in item for item in client.raw.last[1]["LicenseConfigurations"])
    if "NextToken" in response:
        again = client.list_license_configurations(NextToken=response["NextToken"], **params)
        assert_valid_output(client, "ListLicenseConfigurations", again)


ERROR_CASES = [
    ("get_license_configuration", {"LicenseConfigurationArn": "arn:aws:nope"}, "us-east-1"),
    ("get_license_configuration", {"LicenseConfigurationArn": MISSING}, "us-east-1"),
    ("get_license_configuration", {"LicenseConfigurationArn": WIN_USE1}, "eu-west-1"),
    ("list_usage_for_license_configuration", {"LicenseConfigurationArn": MISSING}, "us-east-1"),
    (
        "list_usage_for_license_configuration",
        {"LicenseConfigurationArn": WIN_USE1, "Filters": [{"Name": "tag", "Values": ["x"]}]},
        "us-east-1",
    ),
    (
        "list_usage_for_license_configuration",
        {"LicenseConfigurationArn": WIN_USE1, "MaxResults": 0},
        "us-east-1",
    ),
    (
        "list_usage_for_license_configuration",
        {"LicenseConfigurationArn": WIN_USE1, "NextToken": "garbage"},
        "us-east-1",
    ),
    ("list_license_configurations", {"LicenseConfigurationArns": ["bad"]}, "us-east-1"),
    (
        "list_license_configurations",
        {"Filters": [{"Name": "resourceType", "Values": ["EC2_HOST"]}]},
        "us-east-1",
    ),
]


def _expect_error(client, method, params, code, status):
    with pytest.raises(ClientError) as info:
        getattr(client, method)(**params)
    error = info.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == code
    raw_status, raw = client.raw.last
    assert raw_status == status and raw == {"__type": code, "Message": error["Error"]["Message"]}
    # the modeled exception class is what botocore raises
    assert isinstance(info.value, getattr(client.exceptions, code))


@pytest.mark.parametrize(("method", "params", "region"), ERROR_CASES)
def test_invalid_parameter_errors(lm, emulator, method, params, region):
    _expect_error(lm(region), method, params, "InvalidParameterValueException", 400)


def test_filter_limit_errors(lm, emulator):
    client = lm()
    emulator.update_settings(max_filters=2, max_filter_values=2)
    three = [{"Name": "resourceType", "Values": ["EC2_HOST"]}] * 3
    many_values = [{"Name": "resourceAccount", "Values": ["1", "2", "3"]}]
    for filters in (three, many_values):
        _expect_error(
            client,
            "list_usage_for_license_configuration",
            {"LicenseConfigurationArn": WIN_USE1, "Filters": filters},
            "FilterLimitExceededException",
            400,
        )
    _expect_error(
        client,
        "list_license_configurations",
        {"Filters": [{"Name": "licenseCountingType", "Values": ["Core"]}] * 3},
        "FilterLimitExceededException",
        400,
    )


INJECTABLE = [
    ("AccessDeniedException", 400),
    ("AuthorizationException", 400),
    ("RateLimitExceededException", 400),
    ("ServerInternalException", 500),
    ("InvalidParameterValueException", 400),
]
CALLS = [
    ("get_license_configuration", {"LicenseConfigurationArn": WIN_USE1}),
    ("list_usage_for_license_configuration", {"LicenseConfigurationArn": WIN_USE1}),
    ("list_license_configurations", {}),
]


@pytest.mark.parametrize(("code", "status"), INJECTABLE)
@pytest.mark.parametrize(("method", "params"), CALLS)
def test_injected_errors_parse(lm, emulator, code, status, method, params):
    emulator.set_faults(permanent_errors={"*": code})
    _expect_error(lm(), method, params, code, status)


def test_every_emulated_operation_is_a_model_operation(lm):
    assert set(OPERATIONS) <= set(lm().meta.service_model.operation_names)


def test_model_operation_not_emulated(lm, emulator):
    client = lm()
    with pytest.raises(ClientError) as info:
        client.list_licenses()
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def _raw_post(emulator, target, body=b"{}"):
    request = urllib.request.Request(
        emulator.url + "/",
        data=body,
        method="POST",
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.mark.parametrize(
    ("target", "body", "code"),
    [
        ("AWSLicenseManager.NoSuchOperation", b"{}", "UnknownOperationException"),
        ("SomethingElse.GetLicenseConfiguration", b"{}", "UnknownOperationException"),
        ("AWSLicenseManager.GetLicenseConfiguration", b"{not json", "SerializationException"),
    ],
)
def test_protocol_errors_parse_through_botocore(emulator, lm, target, body, code):
    status, headers, raw = _raw_post(emulator, target, body)
    assert status == 400
    assert json.loads(raw)["__type"] == code
    model = lm().meta.service_model.operation_model("GetLicenseConfiguration")
    parsed = create_parser("json").parse(
        {"status_code": status, "headers": headers, "body": raw}, model.output_shape
    )
    assert parsed["Error"]["Code"] == code
