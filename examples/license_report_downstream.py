"""An example downstream DAG: runs each time license_tracking writes a report set.

Copy it into your DAGs folder. It is scheduled on the asset ``license_consumption_report``;
each event's ``extra`` names the report set (``report_folder``, ``s3://bucket/key/``), its
``run_timestamp`` and its counts (``configurations``, ``not_collected``,
``near_or_over_limit``). Here it reads the set's compliance alert and sends it through an
Airflow notifier of your choice; replace ``notifier()`` with Slack, e-mail, ...
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, task
from license_manager.assets import LICENSE_CONSUMPTION_REPORT


def notifier():
    """The notifier the alert goes through; its templates see ``{{ compliance_message }}``.

    For example, with apache-airflow-providers-slack:
        SlackWebhookNotifier(slack_webhook_conn_id="slack", text="{{ compliance_message }}")
    """
    return None


with DAG(
    dag_id="license_report_downstream",
    schedule=[LICENSE_CONSUMPTION_REPORT],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    tags=["license-manager", "example"],
):

    @task(multiple_outputs=False)
    def compliance_of_new_report(triggering_asset_events=None, **context) -> dict:
        from license_manager.compliance_alert import (
            compliance_alert_for_report_set,
            send_compliance_alert,
        )

        event = triggering_asset_events[LICENSE_CONSUMPTION_REPORT][-1]
        folder = event.extra["report_folder"]
        alert = None
        if event.extra["near_or_over_limit"]:
            alert = compliance_alert_for_report_set(folder)
            target = notifier()
            if alert and target is not None:
                send_compliance_alert(alert, target, context)
            elif alert:
                print(alert.message)
        return {"report_folder": folder, "alerting": len(alert.rows) if alert else 0}

    compliance_of_new_report()
