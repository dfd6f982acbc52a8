"""The compliance alert: one message per run that lists configurations near or over a limit.

The message is built here once and sent through any Airflow notifier: the DAG sends it to
``license_alert_sns_topic_arn`` with the provider's ``SnsNotifier``; a deployment can send
the same message through Slack, e-mail or any other notifier, whose templates see
``{{ compliance_subject }}`` and ``{{ compliance_message }}`` (see ``send_compliance_alert``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from license_manager.compliance import ALERTING, STATUSES

if TYPE_CHECKING:
    from airflow.sdk import BaseNotifier

    from license_manager.run_model import Verdict

#: The summary columns of each configuration the alert lists.
ALERT_COLUMNS = (
    "ComplianceStatus",
    "Name",
    "AccountId",
    "Region",
    "ConsumedLicenses",
    "LicenseCount",
    "UtilizationPercent",
    "ConsumedLicensesChange",
    "LicenseConfigurationArn",
)
SUBJECT_PREFIX = "[Airflow] license_tracking compliance"
SUBJECT_LIMIT = 100
_HEADER = ("Status", "Name", "Account", "Region", "Consumed / Count", "Percent", "Change", "ARN")


@dataclass(frozen=True)
class ComplianceAlert:
    subject: str
    message: str
    report_folder: str
    rows: list[dict[str, Any]] = field(repr=False)


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value)


def _change(value: Any) -> str:
    if value in (None, ""):
        return "n/a"
    number = Decimal(str(value))
    return f"+{value}" if number > 0 else str(value)


def _percent(value: Any) -> str:
    return f"{value} %" if value not in (None, "") else ""


def _severity(row: Mapping[str, Any]) -> tuple[int, Decimal]:
    percent = row.get("UtilizationPercent")
    return STATUSES.index(row["ComplianceStatus"]), -Decimal(str(percent or 0))


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    cells = [_HEADER] + [
        (
            row["ComplianceStatus"],
            _cell_text(row.get("Name")),
            _cell_text(row.get("AccountId")),
            _cell_text(row.get("Region")),
            f"{_cell_text(row.get('ConsumedLicenses'))} / {_cell_text(row.get('LicenseCount'))}",
            _percent(row.get("UtilizationPercent")),
            _change(row.get("ConsumedLicensesChange")),
            _cell_text(row.get("LicenseConfigurationArn")),
        )
        for row in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def compliance_alert(
    report_folder: str, rows: Iterable[Mapping[str, Any]]
) -> ComplianceAlert | None:
    """The alert for the summary records ``rows`` of one report set; None when none is near
    its limit. ``rows`` may be every summary row or only those near a limit."""
    alerting = sorted(
        (dict(row) for row in rows if row.get("ComplianceStatus") in ALERTING), key=_severity
    )
    if not alerting:
        return None
    counts = {status: 0 for status in ALERTING}
    for row in alerting:
        counts[row["ComplianceStatus"]] += 1
    summary = ", ".join(
        f"{counts[status]} {status.lower().replace('_', ' ')}"
        for status in STATUSES
        if status in ALERTING and counts[status]
    )
    subject = f"{SUBJECT_PREFIX}: {summary}"[:SUBJECT_LIMIT]
    message = "\n".join(
        [
            f"{len(alerting)} license configuration(s) near, at or over their license count "
            f"({summary}).",
            "",
            _table(alerting),
            "",
            f"Report folder: {report_folder}",
            "Change is the consumption since the previous report set (n/a: no earlier set).",
        ]
    )
    return ComplianceAlert(subject, message, report_folder, alerting)


def compliance_alert_for_run(result: Verdict) -> ComplianceAlert | None:
    """The alert of a run, from what the write_report task returned."""
    return compliance_alert(result["location"], result["near_or_over_limit"])


def compliance_alert_for_report_set(
    report_folder: str, aws_conn_id: str = "aws_default"
) -> ComplianceAlert | None:
    """The alert of a written report set (``s3://bucket/prefix/YYYY/MM/DD/TS/``), read from its
    summary CSV: what a DAG scheduled on the ``license_consumption_report`` asset needs."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from license_manager.history import summary_records
    from license_manager.hooks import report_bucket_hook

    bucket, folder = S3Hook.parse_s3_url(report_folder)
    rows = summary_records(report_bucket_hook(aws_conn_id), bucket, folder)
    if rows is None:
        raise FileNotFoundError(f"no summary in {report_folder}")
    return compliance_alert(report_folder, rows)


def send_compliance_alert(
    alert: ComplianceAlert, notifier: BaseNotifier, context: Mapping[str, Any] | None = None
) -> None:
    """Send ``alert`` through any Airflow notifier.

    The notifier's templates are rendered with the task's context plus ``compliance_subject``,
    ``compliance_message``, ``report_folder`` and ``compliance_alert`` (the rows), e.g.
    ``SlackWebhookNotifier(text="{{ compliance_message }}")``.
    """
    notifier(
        {
            **(context or {}),
            "compliance_subject": alert.subject,
            "compliance_message": alert.message,
            "report_folder": alert.report_folder,
            "compliance_alert": alert,
        }
    )


def sns_compliance_notifier(topic_arn: str, aws_conn_id: str | None) -> BaseNotifier:
    """The provider's SnsNotifier, publishing the compliance alert to ``topic_arn``."""
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier
    from botocore.utils import ArnParser

    return SnsNotifier(
        aws_conn_id=aws_conn_id,
        target_arn=topic_arn,
        subject="{{ compliance_subject }}",
        message="{{ compliance_message }}",
        region_name=ArnParser().parse_arn(topic_arn)["region"],
    )
