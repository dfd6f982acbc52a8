"""The shapes a run's tasks hand each other through XCom, as the JSON they are.

``resolve_settings`` pushes the run's ``RunPlan`` and returns its ``DiscoveryScope`` records;
each discovery task returns a ``DiscoveryRecord``; ``merge_configurations`` completes the plan;
``write_report`` returns the run's ``Verdict``, which ``check_collection`` and
``compliance_alert`` read. A key marked ``NotRequired`` may be missing from what a task of an
earlier version of the package pushed, in a run that was in flight when the package changed:
readers fall back to its default. This module imports nothing of the package at run time.
"""

# No ``from __future__ import annotations``: TypedDict reads NotRequired from evaluated
# annotations only on Python 3.11, and __optional_keys__ is what the tests check.
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from license_manager.arns import LicenseConfigurationArn

#: Where a requested configuration comes from: the run's list, or discovery.
Source = Literal["listed", "discovered"]


class ConfigurationIdentity(TypedDict):
    """What identifies a configuration's staged outcome (``report_writer``)."""

    arn: str
    region: str
    account_id: str
    configuration_id: str


class PendingConfiguration(ConfigurationIdentity):
    """A requested configuration with a valid ARN: one fetch task collects it."""

    status: Literal["pending"]
    source: NotRequired[Source]


class InvalidConfiguration(TypedDict):
    """A listed ARN that is not one: reported as invalid, never fetched."""

    arn: str
    status: Literal["invalid"]
    error: str
    source: NotRequired[Source]


RequestedConfiguration = PendingConfiguration | InvalidConfiguration


class AccountRegion(TypedDict):
    account_id: str
    region: str


class AccountAccessArgs(TypedDict, total=False):
    """``AccountAccess.kwargs()``: the role arguments, all of them or none (no role template)."""

    home_account_id: str | None
    role_arn_template: str
    role_external_id: str | None
    role_session_name: str


class DiscoveryScope(AccountRegion, AccountAccessArgs):
    """One discovery task's argument: where to list configurations, and how to get in."""

    aws_conn_id: str | None


class DiscoveryRecord(AccountRegion):
    """What one discovery task returns: the ARNs found, or why none could be."""

    status: Literal["ok", "failed"]
    error: str | None
    arns: list[str]


class DiscoveryEntry(AccountRegion):
    """One (account, Region) in the manifest's ``discovery`` list and in the plan."""

    status: Literal["ok", "failed"]
    error: str | None
    configurations: int


class RunPlan(TypedDict):
    """The run's plan: where its report set goes, what it requests and how its tasks reach AWS.

    ``resolve_run`` builds it; ``merge_discovered`` adds what discovery found.
    """

    bucket: str
    prefix: str
    folder: str
    staging: str
    dag_id: str
    run_id: str
    run_timestamp: str
    aws_conn_id: str | None
    alert_utilization_percent: NotRequired[str]
    alert_sns_topic_arn: NotRequired[str | None]
    account_access: AccountAccessArgs
    kms_key_id: NotRequired[str | None]
    bucket_owner: NotRequired[str | None]
    requested: list[RequestedConfiguration]
    discovery_scopes: list[AccountRegion]
    discovery: NotRequired[list[DiscoveryEntry]]


class ResolvedRun(TypedDict):
    """``resolve_run``'s answer; the DAG file pushes the plan and returns the scopes."""

    fetch_requests: list[dict[str, Any]]
    report: RunPlan
    discovery_scopes: list[DiscoveryScope]


class MergedRun(TypedDict):
    """``merge_discovered``'s answer: the fetch tasks' arguments and the completed plan."""

    fetch_requests: list[dict[str, Any]]
    report: RunPlan


class NotCollected(TypedDict):
    arn: str
    status: str
    error: str | None


class Verdict(TypedDict):
    """What ``write_report`` returns of a written report set: the failure check, the
    compliance alert and the report asset's event read it."""

    discovery_failed: NotRequired[list[DiscoveryEntry]]
    location: str
    tables: dict[str, str]
    run_timestamp: str
    previous_folder: str | None
    aws_conn_id: str | None
    alert_sns_topic_arn: NotRequired[str | None]
    near_or_over_limit: list[dict[str, Any]]
    configurations: int
    not_collected: list[NotCollected]


def pending_configuration(arn: "LicenseConfigurationArn", source: Source) -> PendingConfiguration:
    """The requested entry of a valid ARN."""
    return {
        "arn": arn.arn,
        "region": arn.region,
        "account_id": arn.account_id,
        "configuration_id": arn.configuration_id,
        "status": "pending",
        "source": source,
    }


def failed_discovery(account_id: str, region: str, error: str) -> DiscoveryRecord:
    """The record of a discovery that found nothing because of ``error``."""
    return {
        "account_id": account_id,
        "region": region,
        "status": "failed",
        "error": error,
        "arns": [],
    }
