"""After the mapped fetch: the report set written from what the fetch tasks staged, and the
run's verdict (the failure check, the compliance alert, the report asset's event).

The steps before the fetch are in ``run_plan``. The DAG file turns these into tasks; they take
the run's values as arguments so that they can be read and tested without Airflow.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from license_manager.outcomes import ConfigurationOutcome
from license_manager.run_plan import CollectionFailed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from license_manager.hooks import ReportBucketHook
    from license_manager.report_writer import RunReport
    from license_manager.run_model import RequestedConfiguration, RunPlan, Verdict

log = logging.getLogger(__name__)


def write_report(
    report: RunPlan, s3_hook: Callable[..., ReportBucketHook] | None = None
) -> Verdict:
    """Gather every requested ARN's outcome and write the report set; return the verdict.

    ``s3_hook`` makes the hook on the report bucket (``hooks.report_bucket_hook`` by default).
    """
    from license_manager.compliance import parse_threshold
    from license_manager.history import previous_consumption, summary_records
    from license_manager.hooks import report_bucket_hook
    from license_manager.report_writer import RunReport, completed_report_set, write_report_set

    s3 = (s3_hook or report_bucket_hook)(
        report["aws_conn_id"],
        kms_key_id=report.get("kms_key_id"),
        bucket_owner=report.get("bucket_owner"),
    )
    location = RunReport.from_plan(report)
    written = completed_report_set(s3, location)
    if written is not None:  # an earlier try of this task wrote it all, then was lost
        records = summary_records(s3, location.bucket, location.folder) or []
        return _verdict(report, location, written, records)
    outcomes = _requested_outcomes(s3, location, report["requested"])
    previous = previous_consumption(s3, location.bucket, location.prefix, location.run_timestamp)
    threshold = parse_threshold(report.get("alert_utilization_percent", "90"))
    manifest, records = write_report_set(
        s3,
        location,
        outcomes,
        datetime.now(UTC),
        threshold,
        previous,
        report.get("discovery", []),
    )
    return _verdict(report, location, manifest, records)


def _requested_outcomes(
    s3: ReportBucketHook, location: RunReport, requested: list[RequestedConfiguration]
) -> list[ConfigurationOutcome]:
    """Each requested configuration's outcome, in order: what its fetch task staged, or invalid."""
    from license_manager.report_writer import read_staged_outcomes

    pending = [entry for entry in requested if entry["status"] == "pending"]
    staged = iter(read_staged_outcomes(s3, location, pending))
    outcomes = [
        ConfigurationOutcome(arn=entry["arn"], status="invalid", error=entry["error"])
        if entry["status"] == "invalid"
        else next(staged)
        for entry in requested
    ]
    for outcome, entry in zip(outcomes, requested, strict=True):
        outcome.source = entry.get("source", "listed")
    return outcomes


def _verdict(
    report: RunPlan,
    location: RunReport,
    manifest: Mapping[str, Any],
    records: Iterable[Mapping[str, Any]],
) -> Verdict:
    """What check_collection, the compliance alert and the asset event need of a written set."""
    from license_manager.tables import table_locations

    return {
        "discovery_failed": [
            entry for entry in manifest.get("discovery", []) if entry["status"] != "ok"
        ],
        "location": f"s3://{location.bucket}/{location.folder}",
        "tables": table_locations(location.bucket, location.prefix),
        "run_timestamp": location.run_timestamp,
        "previous_folder": manifest.get("previous_folder"),
        "aws_conn_id": report["aws_conn_id"],
        "alert_sns_topic_arn": report.get("alert_sns_topic_arn"),
        "near_or_over_limit": near_or_over_limit(records),
        "configurations": len(manifest["configurations"]),
        "not_collected": [
            {"arn": entry["arn"], "status": entry["status"], "error": entry["error"]}
            for entry in manifest["configurations"]
            if entry["status"] != "ok"
        ],
    }


def near_or_over_limit(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The summary cells the compliance alert shows, of each configuration near a limit."""
    from license_manager.compliance import ALERTING
    from license_manager.compliance_alert import ALERT_COLUMNS

    return [
        {column: record.get(column) for column in ALERT_COLUMNS}
        for record in records
        if record.get("ComplianceStatus") in ALERTING
    ]


def report_event_extra(result: Verdict) -> dict[str, Any]:
    """The ``extra`` of the license_consumption_report asset event of a written report set."""
    return {
        "report_folder": result["location"],
        "run_timestamp": result["run_timestamp"],
        "configurations": result["configurations"],
        "not_collected": len(result["not_collected"]),
        "near_or_over_limit": len(result["near_or_over_limit"]),
        "tables": result["tables"],
    }


def send_compliance_alert(result: Verdict, context: Mapping[str, Any]) -> str:
    """Publish the run's compliance alert to ``license_alert_sns_topic_arn``, if any is due.

    Never raises: a compliance alert that cannot be sent is logged, and the run goes on.
    """
    from license_manager import compliance_alert

    try:
        alert = compliance_alert.compliance_alert_for_run(result)
        if alert is None:
            return "no configuration is near its limit: no compliance alert"
        topic = result.get("alert_sns_topic_arn")
        if not topic:
            return f"{len(alert.rows)} configuration(s) near a limit; no topic set: no alert"
        notifier = compliance_alert.sns_compliance_notifier(topic, result["aws_conn_id"])
        compliance_alert.send_compliance_alert(alert, notifier, context)
        return f"compliance alert on {len(alert.rows)} configuration(s) sent to {topic}"
    except Exception as error:
        log.exception("The compliance alert could not be sent")
        return f"the compliance alert could not be sent: {error}"


def check_collection(result: Verdict) -> str:
    """Fail the run when any configuration or any discovery was not collected, after the
    report was written."""
    missing = result["not_collected"]
    failed_discovery = result.get("discovery_failed", [])
    problems = []
    if failed_discovery:
        details = "; ".join(
            f"{entry['account_id']} / {entry['region']} ({entry['error']})"
            for entry in failed_discovery
        )
        problems.append(f"discovery failed in {len(failed_discovery)} account/Region: {details}")
    if missing:
        details = "; ".join(
            f"{entry['arn']} ({entry['status']}: {entry['error']})" for entry in missing
        )
        problems.append(
            f"{len(missing)} of {result['configurations']} license configurations were not "
            f"collected: {details}"
        )
    if problems:
        raise CollectionFailed(
            ". ".join(problems) + f". The report set at {result['location']} holds the others."
        )
    return f"all {result['configurations']} license configurations collected: {result['location']}"
