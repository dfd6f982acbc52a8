"""The steps of one run around the mapped fetch: resolve settings, write the report, verdict.

The DAG file turns these into tasks; they take the run's values as arguments so that they
can be read and tested without Airflow.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from license_manager.arns import InvalidLicenseConfigurationArn, parse_license_configuration_arn
from license_manager.operators import LicenseManagerOperator
from license_manager.outcomes import ConfigurationOutcome
from license_manager.report_layout import (
    run_folder,
    run_settings_key,
    run_timestamp,
    staging_folder,
)
from license_manager.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from license_manager.hooks import ReportBucketHook
    from license_manager.report_writer import RunReport


class CollectionFailed(AirflowFailException):
    """The run cannot collect everything it was asked for; retrying would not help."""


def _airflow_variable(name: str) -> Any:
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def _s3_hook(
    aws_conn_id: str, kms_key_id: str | None = None, bucket_owner: str | None = None
) -> ReportBucketHook:
    from license_manager.hooks import ReportBucketHook

    return ReportBucketHook(
        aws_conn_id=aws_conn_id, kms_key_id=kms_key_id, bucket_owner=bucket_owner
    )


def _requested_configurations(arns: list[str]) -> list[dict[str, Any]]:
    requested = []
    for text in arns:
        try:
            arn = parse_license_configuration_arn(text)
        except InvalidLicenseConfigurationArn as error:
            requested.append({"arn": text, "status": "invalid", "error": str(error)})
            continue
        requested.append(
            {
                "arn": arn.arn,
                "region": arn.region,
                "account_id": arn.account_id,
                "configuration_id": arn.configuration_id,
                "status": "pending",
            }
        )
    return requested


def _claim_staging(s3: ReportBucketHook, settings: Settings, staging: str, run_id: str) -> None:
    """Write the run's settings to staging: proves the bucket exists and is writable.

    A fault that outlasted the back-off (5xx, throttling) is left to Airflow's task retries.
    """
    from botocore.exceptions import ClientError

    from license_manager.retries import is_retryable

    body = json.dumps({"run_id": run_id, "settings": asdict(settings)}, indent=2).encode()
    try:
        s3.put_bytes(body, run_settings_key(staging), settings.license_report_bucket)
    except ClientError as error:
        if is_retryable(error):
            raise
        code = error.response.get("Error", {}).get("Code", "")
        bucket = settings.license_report_bucket
        if code == "NoSuchBucket":
            raise CollectionFailed(f"license_report_bucket {bucket!r} does not exist") from error
        raise CollectionFailed(
            f"license_report_bucket {bucket!r} is not writable with connection "
            f"{settings.aws_conn_id!r}: {code}: {error.response.get('Error', {}).get('Message')}"
        ) from error


def resolve_run(
    params: Mapping[str, Any],
    dag_id: str,
    run_id: str,
    run_moment: datetime,
    variable: Callable[[str], Any] = _airflow_variable,
    s3_hook: Callable[..., ReportBucketHook] = _s3_hook,
) -> dict[str, Any]:
    """Merge settings, validate ARNs, check the bucket; return what the next tasks need.

    ``fetch_requests`` holds one operator kwargs dict per valid ARN (the mapped tasks);
    ``report`` holds the run's report location and every requested ARN in order.
    """
    settings = resolve_settings(params, variable)
    prefix = settings.license_report_prefix
    staging = staging_folder(prefix, run_moment)
    s3 = s3_hook(
        settings.aws_conn_id,
        kms_key_id=settings.license_report_kms_key_id,
        bucket_owner=settings.license_report_bucket_owner,
    )
    _claim_staging(s3, settings, staging, run_id)
    requested = _requested_configurations(settings.license_config_arns)
    fetch_requests = LicenseManagerOperator.mapped_kwargs(
        [entry["arn"] for entry in requested if entry["status"] == "pending"],
        report_bucket=settings.license_report_bucket,
        staging_folder=staging,
        aws_conn_id=settings.aws_conn_id,
        report_kms_key_id=settings.license_report_kms_key_id,
        report_bucket_owner=settings.license_report_bucket_owner,
    )
    report = {
        "bucket": settings.license_report_bucket,
        "prefix": prefix,
        "folder": run_folder(prefix, run_moment),
        "staging": staging,
        "dag_id": dag_id,
        "run_id": run_id,
        "run_timestamp": run_timestamp(run_moment),
        "aws_conn_id": settings.aws_conn_id,
        "kms_key_id": settings.license_report_kms_key_id,
        "bucket_owner": settings.license_report_bucket_owner,
        "requested": requested,
    }
    return {"fetch_requests": fetch_requests, "report": report}


def write_report(
    report: Mapping[str, Any], s3_hook: Callable[..., ReportBucketHook] = _s3_hook
) -> dict[str, Any]:
    """Gather every requested ARN's outcome and write the report set; return the verdict input."""
    from license_manager.report_writer import (
        RunReport,
        completed_report_set,
        read_staged_outcomes,
        write_report_set,
    )

    s3 = s3_hook(
        report["aws_conn_id"],
        kms_key_id=report.get("kms_key_id"),
        bucket_owner=report.get("bucket_owner"),
    )
    location = RunReport(**{name: report[name] for name in RunReport.__dataclass_fields__})
    written = completed_report_set(s3, location)
    if written is not None:  # an earlier try of this task wrote it all, then was lost
        return _verdict(location, written)
    identities = [
        {key: entry[key] for key in ("arn", "region", "account_id", "configuration_id")}
        for entry in report["requested"]
        if entry["status"] != "invalid"
    ]
    staged = iter(read_staged_outcomes(s3, location, identities))
    outcomes = [
        ConfigurationOutcome(arn=entry["arn"], status="invalid", error=entry["error"])
        if entry["status"] == "invalid"
        else next(staged)
        for entry in report["requested"]
    ]
    manifest = write_report_set(s3, location, outcomes, datetime.now(UTC))
    return _verdict(location, manifest)


def _verdict(location: RunReport, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What check_collection needs of a written report set."""
    return {
        "location": f"s3://{location.bucket}/{location.folder}",
        "configurations": len(manifest["configurations"]),
        "not_collected": [
            {"arn": entry["arn"], "status": entry["status"], "error": entry["error"]}
            for entry in manifest["configurations"]
            if entry["status"] != "ok"
        ],
    }


def check_collection(result: Mapping[str, Any]) -> str:
    """Fail the run when any configuration was not collected, after the report was written."""
    missing = result["not_collected"]
    if missing:
        details = "; ".join(
            f"{entry['arn']} ({entry['status']}: {entry['error']})" for entry in missing
        )
        raise CollectionFailed(
            f"{len(missing)} of {result['configurations']} license configurations were not "
            f"collected: {details}. The report set at {result['location']} holds the others."
        )
    return f"all {result['configurations']} license configurations collected: {result['location']}"
