"""License configuration ARNs: parsing the user's list, validating each ARN."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
_LICENSE_CONFIGURATION_RESOURCE = re.compile(r"^license-configuration:(lic-[0-9a-zA-Z]+)$")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_SEPARATORS = re.compile(r"[\s,]+")


class InvalidLicenseConfigurationArn(ValueError):
    """The text is not a license configuration ARN."""


@dataclass(frozen=True)
class LicenseConfigurationArn:
    """A validated license configuration ARN and the parts the pipeline needs."""

    arn: str
    partition: str
    region: str
    account_id: str
    configuration_id: str


def parse_license_configuration_arn(text: str) -> LicenseConfigurationArn:
    """Validate one ARN; raise InvalidLicenseConfigurationArn saying what is wrong."""
    from botocore.utils import ArnParser, InvalidArnException

    arn = text.strip()
    try:
        parts = ArnParser().parse_arn(arn)
    except InvalidArnException:
        raise InvalidLicenseConfigurationArn(f"not an ARN: {arn!r}") from None
    if parts["partition"] not in PARTITIONS:
        raise InvalidLicenseConfigurationArn(
            f"unsupported partition {parts['partition']!r} in {arn!r} "
            f"(expected one of {', '.join(PARTITIONS)})"
        )
    if parts["service"] != "license-manager":
        raise InvalidLicenseConfigurationArn(
            f"service is {parts['service']!r}, not 'license-manager', in {arn!r}"
        )
    if not parts["region"]:
        raise InvalidLicenseConfigurationArn(f"no Region in {arn!r}")
    if not _ACCOUNT_ID.match(parts["account"]):
        raise InvalidLicenseConfigurationArn(f"account id is not 12 digits in {arn!r}")
    resource = _LICENSE_CONFIGURATION_RESOURCE.match(parts["resource"])
    if not resource:
        raise InvalidLicenseConfigurationArn(
            f"resource is not 'license-configuration:lic-...' in {arn!r}"
        )
    return LicenseConfigurationArn(
        arn=arn,
        partition=parts["partition"],
        region=parts["region"],
        account_id=parts["account"],
        configuration_id=resource.group(1),
    )


def split_arn_list(value: str | list | None, setting: str = "license_config_arns") -> list[str]:
    """ARN strings from a JSON list, or from text separated by commas, spaces or newlines.

    Other list settings (Regions, account IDs) take the same forms; errors name ``setting``.

    Surrounding white space is dropped and duplicates collapse, the first occurrence winning.
    """
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{setting} is not a valid JSON list: {error}") from None
        else:
            value = _SEPARATORS.split(text)
    if not isinstance(value, list):
        raise ValueError(f"{setting} must be a list or a string separated by commas or spaces")
    items = [str(item).strip() for item in value if item is not None]
    return list(dict.fromkeys(item for item in items if item))
