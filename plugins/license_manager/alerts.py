"""Failure alerts: one SNS message per task failure that survived its retries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context

SUBJECT_LIMIT = 100


def alert_message(context: dict[str, Any]) -> tuple[str, str]:
    """Subject and body naming the DAG, run, task, configuration and error."""
    ti = context.get("ti") or context.get("task_instance")
    task = context.get("task")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
    task_id = getattr(ti, "task_id", "?")
    lines = [
        "License tracking task failed.",
        f"DAG: {dag_id}",
        f"Run: {run_id}",
        f"Task: {task_id}",
    ]
    map_index = getattr(ti, "map_index", -1)
    if map_index is not None and map_index >= 0:
        arn = getattr(task, "license_configuration_arn", None)
        label = getattr(ti, "rendered_map_index", None)
        lines.append(f"Map index: {map_index}")
        lines.append(f"Configuration: {arn}" + (f" ({label})" if label and label != arn else ""))
    lines.append(f"Try: {getattr(ti, 'try_number', '?')}")
    lines.append(f"Error: {context.get('exception')}")
    subject = f"[Airflow] {dag_id} {task_id} failed"[:SUBJECT_LIMIT]
    return subject, "\n".join(lines)


class LicenseAlertNotifier(BaseNotifier):
    """Publish a failure alert to ``license_alert_sns_topic_arn`` when that setting is given.

    The topic and connection are deployment settings: read from the Airflow Variables (never
    from the run's conf) and validated as ``resolve_settings`` validates them.
    """

    def notify(self, context: Context) -> None:
        from airflow.providers.amazon.aws.hooks.sns import SnsHook
        from botocore.utils import ArnParser

        from license_manager.settings import airflow_variable, alert_destination

        topic, aws_conn_id = alert_destination(airflow_variable)
        if not topic:
            self.log.info("No license_alert_sns_topic_arn set: no alert sent")
            return
        region = ArnParser().parse_arn(topic)["region"]
        subject, message = alert_message(dict(context))
        SnsHook(aws_conn_id=aws_conn_id, region_name=region).publish_to_target(
            target_arn=topic, message=message, subject=subject
        )
        self.log.info("Failure alert sent to %s", topic)
