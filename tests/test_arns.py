import pytest
from license_manager import arns
from license_manager.arns import (
    InvalidLicenseConfigurationArn,
    parse_license_configuration_arn,
    split_arn_list,
)

ID = "lic-0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("arn", "partition", "region"),
    [
        (
            f"arn:aws:license-manager:us-east-1:111111111111:license-configuration:{ID}",
            "aws",
            "us-east-1",
        ),
        (
            f"arn:aws-cn:license-manager:cn-north-1:111111111111:license-configuration:{ID}",
            "aws-cn",
            "cn-north-1",
        ),
        (
            f"arn:aws-us-gov:license-manager:us-gov-west-1:111111111111:license-configuration:{ID}",
            "aws-us-gov",
            "us-gov-west-1",
        ),
    ],
)
def test_accepts_every_supported_partition(arn, partition, region):
    parsed = parse_license_configuration_arn(f"  {arn}\n")
    assert (parsed.arn, parsed.partition, parsed.region) == (arn, partition, region)
    assert parsed.account_id == "111111111111"
    assert parsed.configuration_id == ID


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not-an-arn", "not an ARN"),
        (
            f"arn:aws-iso:license-manager:us-iso-east-1:111111111111:license-configuration:{ID}",
            "partition",
        ),
        (f"arn:aws:ec2:us-east-1:111111111111:license-configuration:{ID}", "service"),
        (f"arn:aws:license-manager::111111111111:license-configuration:{ID}", "Region"),
        (f"arn:aws:license-manager:us-east-1:1111:license-configuration:{ID}", "12 digits"),
        ("arn:aws:license-manager:us-east-1:111111111111:license:l-123", "license-configuration"),
        ("arn:aws:license-manager:us-east-1:111111111111:license-configuration:abc", "lic-"),
    ],
)
def test_rejects_what_is_not_a_license_configuration_arn(text, reason):
    with pytest.raises(InvalidLicenseConfigurationArn, match=reason):
        parse_license_configuration_arn(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (f"arn:aws:license-manager:us-east-1\n:111111111111:license-configuration:{ID}", "control"),
        (f"arn:aws:license-manager:us-east-1:111111111111\n:license-configuration:{ID}", "control"),
        (f"arn:aws:license-manager:us-east-1:111111111111:license-configuration\r:{ID}", "control"),
        (
            f"arn:aws:license-manager:us-east-1:111111111111:license-configuration:{ID}\x00",
            "control",
        ),
        (
            f"arn:aws:license-manager:us-east-\u0661:111111111111:license-configuration:{ID}",
            "Region",
        ),
        (
            f"arn:aws:license-manager:us-east-1:\uff11{'1' * 11}:license-configuration:{ID}",
            "12 digits",
        ),
        (f"arn:aws:license-manager:us-east-123:111111111111:license-configuration:{ID}", "Region"),
    ],
)
def test_rejects_control_characters_and_non_ascii_digits_inside_the_fields(text, reason):
    with pytest.raises(InvalidLicenseConfigurationArn, match=reason):
        parse_license_configuration_arn(text)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("us-east-1", True),
        ("us-gov-west-1", True),
        ("cn-northwest-1", True),
        ("ap-southeast-12", True),
        ("us-east-123", False),
        ("us-east-1\n", False),
        ("\nus-east-1", False),
        ("us-east-\u0661", False),
        ("us-east-\uff11", False),
        ("US-EAST-1", False),
        ("useast1", False),
        ("", False),
    ],
)
def test_a_region_is_whole_ascii(text, region):
    assert arns.is_region(text) is region


@pytest.mark.parametrize(
    ("text", "account"),
    [
        ("111111111111", True),
        ("111111111111\n", False),
        ("11111111111", False),
        ("1111111111111", False),
        ("\uff11" * 12, False),
        ("\u0661" * 12, False),
        (" 111111111111", False),
    ],
)
def test_an_account_id_is_twelve_ascii_digits(text, account):
    assert arns.is_account_id(text) is account


A = f"arn:aws:license-manager:us-east-1:111111111111:license-configuration:{ID}"
B = f"arn:aws:license-manager:eu-west-1:222222222222:license-configuration:{ID}"


@pytest.mark.parametrize(
    "value",
    [
        f'["{A}", " {B} ", "{A}"]',
        [A, f" {B}", A],
        f"{A}, {B},{A}",
        f"{A}\n  {B}\n\n{A}\n",
        f"  {A}   {B}\t{A} ",
    ],
    ids=["json-text", "list", "commas", "newlines", "spaces"],
)
def test_arn_list_forms_strip_and_deduplicate_keeping_first(value):
    assert split_arn_list(value) == [A, B]


def test_empty_forms_give_no_arns():
    assert split_arn_list(None) == []
    assert split_arn_list("  \n ") == []
    assert split_arn_list("[]") == []


def test_broken_json_list_is_an_error():
    with pytest.raises(ValueError, match="license_config_arns"):
        split_arn_list('["arn:aws:x"')


@pytest.mark.parametrize("setting", ["license_config_arns", "license_discovery_regions"])
def test_a_json_object_is_an_error_naming_its_setting(setting):
    with pytest.raises(ValueError, match=f"^{setting} is a JSON object"):
        split_arn_list('{"a": 1}', setting)
