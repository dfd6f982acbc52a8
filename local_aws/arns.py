"""Regions, partitions and License Manager configuration ARNs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

_CONFIG_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):license-manager:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)"
    r":(?P<account>\d{12}):license-configuration:(?P<id>lic-[0-9a-f]{32})$"
)
_ACCOUNT = re.compile(r"^\d{12}$")
_CREDENTIAL_SCOPE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/")


def partition_for_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


@dataclass(frozen=True)
class ConfigArn:
    arn: str
    partition: str
    region: str
    account: str
    config_id: str


def parse_config_arn(arn: object) -> ConfigArn | None:
    """Parse a license configuration ARN; None when malformed or the partition mismatches."""
    if not isinstance(arn, str):
        return None
    match = _CONFIG_ARN.match(arn)
    if not match or partition_for_region(match["region"]) != match["partition"]:
        return None
    return ConfigArn(arn, match["partition"], match["region"], match["account"], match["id"])


def config_id_for(name: str) -> str:
    """A stable `lic-` + 32 hex id derived from any string."""
    return "lic-" + hashlib.sha256(name.encode()).hexdigest()[:32]


def make_config_arn(region: str, account: str, name_or_id: str) -> str:
    """Build a configuration ARN; `name_or_id` is used as is when it already is a `lic-` id."""
    config_id = (
        name_or_id if re.fullmatch(r"lic-[0-9a-f]{32}", name_or_id) else config_id_for(name_or_id)
    )
    partition = partition_for_region(region)
    return f"arn:{partition}:license-manager:{region}:{account}:license-configuration:{config_id}"


def signing_service(authorization: str | None) -> str | None:
    """The service of a SigV4 credential scope (``license-manager``, ``sts``, ...)."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    return match[3] if match else None


def caller_from_authorization(
    authorization: str | None,
    default_account: str = DEFAULT_ACCOUNT,
    account_of_key: Callable[[str], str | None] = lambda _: None,
) -> tuple[str, str]:
    """(account, region) of a SigV4-signed request.

    The account is ``account_of_key(access key)`` when it knows the key (credentials of an
    assumed role), else the access key id when it is 12 digits (moto's convention), else
    ``default_account`` (the home account of the connection's own keys).
    """
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    if not match:
        return default_account, DEFAULT_REGION
    access_key, region = match[1], match[2]
    known = account_of_key(access_key)
    if known is not None:
        return known, region
    account = access_key if _ACCOUNT.match(access_key) else default_account
    return account, region
