"""ARNs and their parts: parsing the user's list, validating each license configuration ARN.

This module is the one home of the rules for a Region name, an account ID and a partition:
the settings' checks (``validation``, ``discovery``) import them from here. It imports nothing
of this package, so any module may import it. Every pattern is ASCII and matched whole
(``fullmatch``): ``\\d`` would take other scripts' digits and ``$`` a trailing newline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
#: Regular expressions (without anchors, to match whole or to build larger patterns with).
PARTITION_PATTERN = "(?:" + "|".join(PARTITIONS) + ")"
#: A Region name such as ``us-east-1`` or ``us-gov-west-1``.
REGION_PATTERN = r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}"
#: A 12-digit AWS account ID.
ACCOUNT_ID_PATTERN = r"[0-9]{12}"
#: A license configuration ID is ``lic-`` and 32 hexadecimal characters.
CONFIGURATION_ID_PATTERN = r"lic-[0-9a-f]{32}"
_LICENSE_CONFIGURATION_RESOURCE = re.compile(rf"license-configuration:({CONFIGURATION_ID_PATTERN})")
_ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)
_REGION = re.compile(REGION_PATTERN)
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\s,]+")


def is_region(text: str) -> bool:
    """Whether the whole text is a Region name (ASCII letters and digits, hyphens)."""
    return _REGION.fullmatch(text) is not None


def is_account_id(text: str) -> bool:
    """Whether the whole text is 12 ASCII digits."""
    return _ACCOUNT_ID.fullmatch(text) is not None


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


def _shown(text: str, limit: int = 200) -> str:
    """The text as an error message quotes it, cut so that a huge value keeps messages short."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def parse_license_configuration_arn(text: str) -> LicenseConfigurationArn:
    """Validate one ARN; raise InvalidLicenseConfigurationArn saying what is wrong."""
    from botocore.utils import ArnParser, InvalidArnException

    arn = text.strip()
    shown = _shown(arn)
    if CONTROL_CHARACTERS.search(arn):
        raise InvalidLicenseConfigurationArn(f"control characters in {shown}")
    try:
        parts = ArnParser().parse_arn(arn)
    except InvalidArnException:
        raise InvalidLicenseConfigurationArn(f"not an ARN: {shown}") from None
    if parts["partition"] not in PARTITIONS:
        raise InvalidLicenseConfigurationArn(
            f"unsupported partition {_shown(parts['partition'], 40)} in {shown} "
            f"(expected one of {', '.join(PARTITIONS)})"
        )
    if parts["service"] != "license-manager":
        raise InvalidLicenseConfigurationArn(
            f"service is {_shown(parts['service'], 40)}, not 'license-manager', in {shown}"
        )
    if not is_region(parts["region"]):
        raise InvalidLicenseConfigurationArn(f"no valid Region in {shown}")
    if not is_account_id(parts["account"]):
        raise InvalidLicenseConfigurationArn(f"account id is not 12 digits in {shown}")
    resource = _LICENSE_CONFIGURATION_RESOURCE.fullmatch(parts["resource"])
    if not resource:
        raise InvalidLicenseConfigurationArn(
            "resource is not 'license-configuration:lic-' and 32 lowercase hexadecimal "
            f"characters in {shown}"
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
        if text.startswith("{"):
            raise ValueError(
                f"{setting} is a JSON object: give a JSON list, or one string separated by "
                "commas, spaces or newlines"
            )
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{setting} is not a valid JSON list: {error}") from None
        else:
            value = _SEPARATORS.split(text)
    if not isinstance(value, list):
        raise ValueError(
            f"{setting} must be a list or a string separated by commas or spaces, "
            f"not {type(value).__name__}"
        )
    items = [str(item).strip() for item in value if item is not None]
    return list(dict.fromkeys(item for item in items if item))
