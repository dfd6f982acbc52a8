"""Organisation scale: discovery per account and Region, and the role of each other account.

- The settings' rules: Region names, account IDs, the role ARN template and the ExternalId.
- ``AccountAccess``: which credentials a License Manager call about an account uses. The
  connection's own account uses the connection; with a role template, any other account uses
  its role, assumed with STS from the connection's credentials, inside the task that calls.
  Credentials are never returned to Airflow: only account IDs, Regions and ARNs leave a task.
- ``discover``: every configuration ARN of one (account, Region), every page, with back-off.
- ``merge_requested``: listed ARNs first, in the order given, then the discovered ones sorted by
  account, Region and ARN, each ARN once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from license_manager.arns import (
    ACCOUNT_ID_PATTERN,
    PARTITION_PATTERN,
    is_account_id,
    is_region,
)

if TYPE_CHECKING:
    from license_manager.hooks import LicenseManagerHook
    from license_manager.retries import Backoff
    from license_manager.run_model import (
        AccountAccessArgs,
        AccountRegion,
        DiscoveryEntry,
        DiscoveryRecord,
        DiscoveryScope,
        RequestedConfiguration,
    )

REGIONS_SETTING = "license_discovery_regions"
ACCOUNTS_SETTING = "license_discovery_accounts"
ROLE_TEMPLATE_SETTING = "license_account_role_arn_template"
EXTERNAL_ID_SETTING = "license_account_role_external_id"

# ASCII only and matched whole (fullmatch): IAM and STS take no other characters.
_ROLE_ARN = re.compile(
    rf"arn:{PARTITION_PATTERN}:iam::{ACCOUNT_ID_PATTERN}:role/[A-Za-z0-9_+=,.@/-]{{1,512}}"
)
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")
#: The field of an ARN (split at ":") that holds the account ID.
_ARN_ACCOUNT_FIELD = 4
_SESSION_NAME_OTHER = re.compile(r"[^\w+=,.@-]+")
_PLACEHOLDERS = re.compile(r"{([^{}]*)}")
SESSION_NAME_MAX = 64
#: Context key of a discovery task's UI label (``map_index_template``): "account / Region".
SCOPE_LABEL_KEY = "discovery_scope_label"


def partition_of_region(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def check_regions(regions: list[str]) -> list[str]:
    """The Regions, each once; ValueError naming the setting for a malformed one."""
    bad = [region for region in regions if not is_region(region)]
    if bad:
        raise ValueError(
            f"{REGIONS_SETTING} holds malformed Region names: {', '.join(map(repr, bad))} "
            "(expected names such as 'us-east-1' or 'eu-west-2')"
        )
    return list(dict.fromkeys(regions))


def check_accounts(accounts: list[str]) -> list[str]:
    """The account IDs, each once; ValueError naming the setting for one not of 12 digits."""
    bad = [account for account in accounts if not is_account_id(account)]
    if bad:
        raise ValueError(
            f"{ACCOUNTS_SETTING} holds account IDs that are not 12 digits: "
            + ", ".join(map(repr, bad))
        )
    return list(dict.fromkeys(accounts))


def check_role_template(template: str) -> str:
    """The template, when it gives a role ARN for any account; ValueError naming the setting."""
    names = set(_PLACEHOLDERS.findall(template))
    if "account_id" not in names:
        raise ValueError(
            f"{ROLE_TEMPLATE_SETTING} {template!r} has no {{account_id}} placeholder, e.g. "
            "'arn:aws:iam::{account_id}:role/LicenseTrackingReader'"
        )
    unknown = names - {"account_id", "partition"}
    if unknown:
        raise ValueError(
            f"{ROLE_TEMPLATE_SETTING} {template!r} has unknown placeholders: "
            + ", ".join(sorted(unknown))
            + " (only {account_id} and {partition})"
        )
    if not _ROLE_ARN.fullmatch(role_arn(template, "123456789012", "aws")):
        raise ValueError(
            f"{ROLE_TEMPLATE_SETTING} {template!r} does not give an IAM role ARN "
            "(arn:<partition>:iam::<account_id>:role/<name>)"
        )
    if not _names_the_account_in_its_account_field(template):
        raise ValueError(
            f"{ROLE_TEMPLATE_SETTING} {template!r} must put {{account_id}} in the role ARN's "
            "account field, e.g. 'arn:aws:iam::{account_id}:role/LicenseTrackingReader'"
        )
    return template


def _names_the_account_in_its_account_field(template: str) -> bool:
    """Whether the role belongs to the account it is assumed for, not a fixed one.

    ``arn:aws:iam::123456789012:role/{account_id}`` gives a valid role ARN, but always in the
    same account: every account's configurations would be read with that account's role.
    """
    fields = template.split(":")
    return len(fields) > _ARN_ACCOUNT_FIELD and fields[_ARN_ACCOUNT_FIELD] == "{account_id}"


def check_external_id(external_id: str) -> str:
    if not _EXTERNAL_ID.fullmatch(external_id):
        raise ValueError(
            f"{EXTERNAL_ID_SETTING} must be 2 to 1224 characters of letters, digits and +=,.@:/-_"
        )
    return external_id


def role_arn(template: str, account_id: str, partition: str) -> str:
    return template.replace("{account_id}", account_id).replace("{partition}", partition)


def role_session_name(dag_id: str, run_id: str) -> str:
    """A RoleSessionName that names the DAG run, within STS's characters and length."""
    name = _SESSION_NAME_OTHER.sub("-", f"{dag_id}.{run_id}")
    return name[:SESSION_NAME_MAX]


class _WithoutCredentials(logging.Filter):
    """Drops a botocore log record that holds temporary credentials: botocore logs every
    response body at DEBUG, AssumeRole's too, before the caller can register the secret key and
    session token with Airflow's secrets masker."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SecretAccessKey" not in record.getMessage()


_WITHOUT_CREDENTIALS = _WithoutCredentials()


def hide_credentials_from_botocore_logs() -> None:
    """Keep AssumeRole's answer out of botocore's DEBUG log (idempotent)."""
    logger = logging.getLogger("botocore.parsers")
    if _WITHOUT_CREDENTIALS not in logger.filters:
        logger.addFilter(_WITHOUT_CREDENTIALS)


#: How long assumed credentials live: STS's minimum. A task makes them where it uses them and
#: needs them for one configuration or one account and Region.
ASSUMED_ROLE_SECONDS = 900


@dataclass(frozen=True)
class AccountAccess:
    """How one task reaches an account: the connection's credentials, or the account's role.

    ``home_account_id`` is the connection's own account (None when no role template is set).
    """

    aws_conn_id: str | None
    home_account_id: str | None = None
    role_arn_template: str | None = None
    external_id: str | None = None
    session_name: str = "license-tracking"

    def role_for(self, account_id: str, partition: str) -> str | None:
        """The role to assume for ``account_id``, or None: the connection's credentials."""
        if not self.role_arn_template or account_id == self.home_account_id:
            return None
        return role_arn(self.role_arn_template, account_id, partition)

    def license_manager_hook(
        self, account_id: str, region: str, partition: str | None = None
    ) -> LicenseManagerHook:
        """A hook on ``region`` whose calls are made as ``account_id`` should be read."""
        from license_manager.hooks import LicenseManagerHook

        role = self.role_for(account_id, partition or partition_of_region(region))
        credentials = self._assume(role) if role else None
        return LicenseManagerHook(
            aws_conn_id=self.aws_conn_id, region_name=region, credentials=credentials
        )

    def _assume(self, role: str) -> dict[str, str]:
        from airflow.providers.amazon.aws.hooks.sts import StsHook
        from airflow.sdk.log import mask_secret

        external = {"ExternalId": self.external_id} if self.external_id else {}
        hide_credentials_from_botocore_logs()
        response = StsHook(aws_conn_id=self.aws_conn_id).conn.assume_role(
            RoleArn=role,
            RoleSessionName=self.session_name,
            DurationSeconds=ASSUMED_ROLE_SECONDS,
            **external,
        )
        credentials = response["Credentials"]
        # Before anything of ours can log them (botocore's own DEBUG log of the answer is held
        # back by hide_credentials_from_botocore_logs: it is written before this line runs).
        mask_secret(credentials["SecretAccessKey"])
        mask_secret(credentials["SessionToken"])
        return credentials

    def kwargs(self) -> AccountAccessArgs:
        """What a task needs to rebuild this access (no credentials: they are made there)."""
        if not self.role_arn_template:
            return {}
        return {
            "home_account_id": self.home_account_id,
            "role_arn_template": self.role_arn_template,
            "role_external_id": self.external_id,
            "role_session_name": self.session_name,
        }


def discovery_scopes(
    accounts: Iterable[str], regions: Iterable[str], access: AccountAccess
) -> list[DiscoveryScope]:
    """One small record per (account, Region) to discover in, for a mapped task."""
    return [
        {
            "account_id": account,
            "region": region,
            "aws_conn_id": access.aws_conn_id,
            **access.kwargs(),
        }
        for account in accounts
        for region in regions
    ]


def discover_scope(scope: DiscoveryScope, page_size: int | None = None) -> DiscoveryRecord:
    """``discover`` in a task: the scope's record carries the access, never credentials."""
    from license_manager.hooks import connection_lookups_shared
    from license_manager.retries import Backoff

    access = AccountAccess(
        scope["aws_conn_id"],
        scope.get("home_account_id"),
        scope.get("role_arn_template"),
        scope.get("role_external_id"),
        scope.get("role_session_name") or "license-tracking",
    )
    with connection_lookups_shared():  # STS and License Manager: one connection lookup
        return discover(access.license_manager_hook, scope, Backoff(), page_size)


def scope_label(scope: AccountRegion) -> str:
    return f"{scope['account_id']} / {scope['region']}"


def discover(
    hook_for: Any, scope: AccountRegion, backoff: Backoff, page_size: int | None = None
) -> DiscoveryRecord:
    """Every configuration ARN of one (account, Region); a failure becomes the record's error.

    ``hook_for(account_id, region)`` gives the License Manager hook (assuming a role may fail
    too, and is recorded the same way).
    """
    from license_manager.retries import describe_error
    from license_manager.run_model import failed_discovery

    account, region = scope["account_id"], scope["region"]
    try:
        hook: LicenseManagerHook = hook_for(account, region)
        arns = [
            arn
            for page in backoff.pages(
                partial(hook.get_configuration_arn_page, page_size),
                f"ListLicenseConfigurations {account} {region}",
            )
            for arn in page
        ]
    except Exception as error:
        return failed_discovery(account, region, describe_error(error))
    # A listing answers the caller's own account: without a role, that may be another one.
    own = [arn for arn in arns if arn.split(":")[4] == account]
    return {
        "account_id": account,
        "region": region,
        "status": "ok",
        "error": None,
        "arns": sorted(own),
    }


def merge_requested(
    listed: Sequence[RequestedConfiguration], discovered: Iterable[DiscoveryRecord]
) -> list[RequestedConfiguration]:
    """Listed entries in their order, then discovered ARNs not listed, by account, Region, ARN.

    Listed entries keep their ``source`` (``listed``); the others get ``discovered``.
    """
    from license_manager.arns import parse_license_configuration_arn
    from license_manager.run_model import pending_configuration

    seen = {entry["arn"] for entry in listed}
    found = []
    for record in discovered:
        for text in record["arns"]:
            if text in seen:
                continue
            seen.add(text)
            found.append(pending_configuration(parse_license_configuration_arn(text), "discovered"))
    found.sort(key=lambda entry: (entry["account_id"], entry["region"], entry["arn"]))
    return [*listed, *found]


def discovery_entries(records: Iterable[DiscoveryRecord]) -> list[DiscoveryEntry]:
    """The manifest's ``discovery`` list: one entry per (account, Region)."""
    return [
        {
            "account_id": record["account_id"],
            "region": record["region"],
            "status": record["status"],
            "error": record["error"],
            "configurations": len(record["arns"]),
        }
        for record in sorted(records, key=lambda r: (r["account_id"], r["region"]))
    ]
