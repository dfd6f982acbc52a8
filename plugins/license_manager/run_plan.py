"""Before the mapped fetch: a run's settings resolved into its plan.

``resolve_run`` validates the settings and the listed ARNs, claims the run's staging folder
in the bucket (which proves the bucket writable), and returns what the next tasks need: the
report location, every requested ARN, the fetch tasks' arguments and the (account, Region)
scopes to discover in; ``merge_discovered`` adds what discovery found. The DAG file turns
these into tasks; they take the run's values as arguments so that they can be read and tested
without Airflow.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from license_manager.arns import InvalidLicenseConfigurationArn, parse_license_configuration_arn
from license_manager.compat import AirflowFailException
from license_manager.discovery import (
    AccountAccess,
    discovery_entries,
    discovery_scopes,
    merge_requested,
    role_session_name,
)
from license_manager.operators import LicenseManagerOperator
from license_manager.outcomes import NOT_RECORDED
from license_manager.report_layout import (
    run_folder,
    run_settings_key,
    run_timestamp,
    staging_folder,
)
from license_manager.run_model import (
    DiscoveryRecord,
    DiscoveryScope,
    MergedRun,
    RequestedConfiguration,
    ResolvedRun,
    RunPlan,
    failed_discovery,
    pending_configuration,
)
from license_manager.settings import Settings, airflow_variable, resolve_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from license_manager.hooks import ReportBucketHook


log = logging.getLogger(__name__)


class CollectionFailed(AirflowFailException):
    """The run cannot collect everything it was asked for; retrying would not help."""


def _listed_configuration(text: str) -> RequestedConfiguration:
    try:
        arn = parse_license_configuration_arn(text)
    except InvalidLicenseConfigurationArn as error:
        return {"arn": text, "status": "invalid", "error": str(error), "source": "listed"}
    return pending_configuration(arn, "listed")


def _claim_staging(s3: ReportBucketHook, settings: Settings, staging: str, run_id: str) -> None:
    """Write the run's settings to staging: proves the bucket exists and is writable.

    A fault that outlasted the back-off (5xx, throttling) is left to Airflow's task retries.
    """
    from botocore.exceptions import ClientError

    from license_manager.retries import describe_error, error_code, is_retryable

    recorded = asdict(settings)
    if recorded["license_account_role_external_id"]:  # a shared secret: not written to S3
        recorded["license_account_role_external_id"] = "***"
    body = json.dumps({"run_id": run_id, "settings": recorded}, indent=2).encode()
    try:
        s3.put_bytes(body, run_settings_key(staging), settings.license_report_bucket)
    except ClientError as error:
        if is_retryable(error):
            raise
        bucket = settings.license_report_bucket
        if error_code(error) == "NoSuchBucket":
            raise CollectionFailed(f"license_report_bucket {bucket!r} does not exist") from error
        raise CollectionFailed(
            f"license_report_bucket {bucket!r} is not writable with connection "
            f"{settings.aws_conn_id!r}: {describe_error(error)}"
        ) from error


def _connection_defined(aws_conn_id: str) -> bool:
    from airflow.sdk import BaseHook

    from license_manager.compat import AirflowNotFoundException

    try:
        BaseHook.get_connection(aws_conn_id)
    except AirflowNotFoundException:
        return False
    return True


def connection_for_tasks(aws_conn_id: str, defined: Callable[[str], bool]) -> str | None:
    """The connection ID the run's tasks use: None when no such connection is defined.

    The provider's hooks treat a missing connection as none at all (boto3's default
    credential chain: environment, shared files, instance or pod role). Deciding that once
    here spares every mapped task a lookup that, in a task process, is a round trip through
    its supervisor to the API server only to be told the connection does not exist.
    """
    if defined(aws_conn_id):
        return aws_conn_id
    log.info(
        "Connection %r is not defined: the run's tasks use boto3's default credential chain "
        "(environment, shared files, instance or pod role), without looking it up again",
        aws_conn_id,
    )
    return None


def _caller_account(aws_conn_id: str | None) -> str:
    """The connection's own account (STS GetCallerIdentity)."""
    from airflow.providers.amazon.aws.hooks.sts import StsHook

    return StsHook(aws_conn_id=aws_conn_id).get_account_number()


def _account_access(
    settings: Settings,
    aws_conn_id: str | None,
    dag_id: str,
    run_id: str,
    caller_account: Callable[[str | None], str],
) -> AccountAccess:
    needs_home = settings.license_account_role_arn_template or (
        settings.license_discovery_regions and not settings.license_discovery_accounts
    )
    return AccountAccess(
        aws_conn_id,
        caller_account(aws_conn_id) if needs_home else None,
        settings.license_account_role_arn_template,
        settings.license_account_role_external_id,
        role_session_name(dag_id, run_id),
    )


def _fetch_requests(report: RunPlan) -> list[dict[str, Any]]:
    return LicenseManagerOperator.mapped_kwargs(
        [entry["arn"] for entry in report["requested"] if entry["status"] == "pending"],
        report_bucket=report["bucket"],
        staging_folder=report["staging"],
        aws_conn_id=report["aws_conn_id"],
        report_kms_key_id=report.get("kms_key_id"),
        report_bucket_owner=report.get("bucket_owner"),
        **report["account_access"],
    )


def resolve_run(
    params: Mapping[str, Any],
    dag_id: str,
    run_id: str,
    run_moment: datetime,
    variable: Callable[[str], Any] = airflow_variable,
    s3_hook: Callable[..., ReportBucketHook] | None = None,
    caller_account: Callable[[str | None], str] = _caller_account,
    map_limit: Callable[[], int] | None = None,
    connection_defined: Callable[[str], bool] = _connection_defined,
    conf: Mapping[str, Any] | None = None,
) -> ResolvedRun:
    """Merge settings, validate ARNs, check the bucket; return what the next tasks need.

    ``conf`` is the run's trigger conf: naming a deployment setting there fails the run.
    ``s3_hook`` makes the hook on the report bucket (``hooks.report_bucket_hook`` by default).

    ``fetch_requests`` holds one operator kwargs dict per valid listed ARN (the mapped tasks
    when nothing is discovered); ``discovery_scopes`` one record per (account, Region) to
    discover in; ``report`` the run's report location and every listed ARN in order.
    """
    from license_manager.hooks import report_bucket_hook

    settings = resolve_settings(params, variable, conf)
    aws_conn_id = connection_for_tasks(settings.aws_conn_id, connection_defined)
    map_limit = map_limit or max_map_length
    prefix = settings.license_report_prefix
    staging = staging_folder(prefix, run_moment)
    s3 = (s3_hook or report_bucket_hook)(
        aws_conn_id,
        kms_key_id=settings.license_report_kms_key_id,
        bucket_owner=settings.license_report_bucket_owner,
    )
    _claim_staging(s3, settings, staging, run_id)
    access = _account_access(settings, aws_conn_id, dag_id, run_id, caller_account)
    scopes: list[DiscoveryScope] = []
    if settings.license_discovery_regions:
        accounts = settings.license_discovery_accounts or [str(access.home_account_id)]
        scopes = discovery_scopes(accounts, settings.license_discovery_regions, access)
        _check_map_length(len(scopes), "accounts x Regions to discover in", map_limit())
    report: RunPlan = {
        "bucket": settings.license_report_bucket,
        "prefix": prefix,
        "folder": run_folder(prefix, run_moment),
        "staging": staging,
        "dag_id": dag_id,
        "run_id": run_id,
        "run_timestamp": run_timestamp(run_moment),
        "aws_conn_id": aws_conn_id,
        "alert_utilization_percent": settings.license_alert_utilization_percent,
        "alert_sns_topic_arn": settings.license_alert_sns_topic_arn,
        "account_access": access.kwargs(),
        "kms_key_id": settings.license_report_kms_key_id,
        "bucket_owner": settings.license_report_bucket_owner,
        "requested": [_listed_configuration(arn) for arn in settings.license_config_arns],
        "discovery_scopes": [
            {"account_id": s["account_id"], "region": s["region"]} for s in scopes
        ],
        "discovery": [],
    }
    return {"fetch_requests": _fetch_requests(report), "report": report, "discovery_scopes": scopes}


def max_map_length() -> int:
    """Airflow's ``[core] max_map_length``: the most mapped task instances one task may have."""
    from license_manager.compat import airflow_conf

    return airflow_conf().getint("core", "max_map_length", fallback=1024)


def merge_discovered(
    report: RunPlan,
    discovered: Iterable[DiscoveryRecord | None],
    map_limit: Callable[[], int] = max_map_length,
) -> MergedRun:
    """Listed plus discovered configurations, each once; fail when Airflow cannot map them all.

    ``discovered`` holds the discovery tasks' records; a scope without one (its task did not
    finish) is recorded as failed. Returns the fetch requests and the completed report plan.
    """
    records = {(r["account_id"], r["region"]): r for r in discovered if r}
    complete = [
        records.get((scope["account_id"], scope["region"]))
        or failed_discovery(scope["account_id"], scope["region"], NOT_RECORDED)
        for scope in report["discovery_scopes"]
    ]
    merged: RunPlan = {
        **report,
        "requested": merge_requested(report["requested"], complete),
        "discovery": discovery_entries(complete),
    }
    fetch_requests = _fetch_requests(merged)
    _check_map_length(len(fetch_requests), "license configurations to fetch", map_limit())
    return {"fetch_requests": fetch_requests, "report": merged}


def _check_map_length(count: int, what: str, limit: int) -> None:
    if count > limit:
        raise CollectionFailed(
            f"{count} {what}, more than Airflow's [core] max_map_length ({limit}) allows "
            f"mapped task instances: raise it (AIRFLOW__CORE__MAX_MAP_LENGTH) to at least "
            f"{count} on every Airflow component"
        )
