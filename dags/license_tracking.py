"""license_tracking: AWS License Manager consumption across Regions and accounts, to S3.

This file only wires the pipeline; the logic lives in the ``license_manager`` package.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, TriggerRule, task
from license_manager.alerts import LicenseAlertNotifier
from license_manager.assets import LICENSE_CONSUMPTION_REPORT
from license_manager.compat import EXPONENTIAL_RETRY_BACKOFF
from license_manager.discovery import SCOPE_LABEL_KEY
from license_manager.operators import MAP_INDEX_TEMPLATE, LicenseManagerOperator
from license_manager.schedule import schedule_from_environment
from license_manager.settings import settings_doc_md, trigger_form_params

DOC_MD = f"""
# License tracking

Collects every listed AWS License Manager configuration and all of its usage, each in the
Region of its ARN, and writes a dated CSV report set to S3:

    s3://<license_report_bucket>/<license_report_prefix>YYYY/MM/DD/YYYYMMDDTHHMMSSZ/
        license-consumption-summary.csv    one row per requested ARN, errors included
        <LicenseConfigurationId>-usage.csv one per configuration fetched
        manifest.json                      written last: a folder without it is incomplete

{settings_doc_md()}

A setting AWS would reject fails `resolve_settings` before anything is written, naming it.
No value of a setting is ever rendered as a template.

**Tasks**: `resolve_settings` merges the settings, validates the ARNs and checks the bucket;
`discover_license_configurations` runs once per account and Region (labelled
`account / Region`) and lists every configuration there; `merge_configurations` puts the
listed ARNs first, then the discovered ones, each once;
`fetch_license_configuration` runs once per ARN, labelled with the configuration's name;
`write_report` writes the report set, even when some configurations failed;
`check_collection` fails the run when any ARN failed or was invalid, or any discovery
failed, naming them; `compliance_alert` sends one message listing the configurations near,
at or over their license count (`license_alert_utilization_percent`, default 90) to
`license_alert_sns_topic_arn`, and never fails the run.
Failures that survive their retries are sent to `license_alert_sns_topic_arn` when it is set.
`write_report` updates the asset `license_consumption_report` (its event's `extra` names the
`report_folder`), so other DAGs can be scheduled on each new report set.

The schedule comes from the environment variable `LICENSE_TRACKING_SCHEDULE` (default
`@daily`; EventBridge `rate()` and `cron()` expressions are accepted).
"""


@task
def resolve_settings(params=None, dag_run=None, logical_date=None, ti=None) -> list[dict]:
    """Returns one record per (account, Region) to discover in, for the mapped discovery; the
    report plan goes to the XCom key 'report' (a mapped task expands over a return value)."""
    from license_manager import run_plan

    run = run_plan.resolve_run(
        params,
        dag_run.dag_id,
        dag_run.run_id,
        logical_date or dag_run.run_after,
        conf=dag_run.conf,
    )
    ti.xcom_push(key="report", value=run["report"])
    return run["discovery_scopes"]


@task(multiple_outputs=False, map_index_template="{{ " + SCOPE_LABEL_KEY + " }}")
def discover_license_configurations(scope: dict) -> dict:
    """Every configuration ARN of one account and Region; a failure is recorded, not raised."""
    from airflow.sdk import get_current_context
    from license_manager.discovery import discover_scope, scope_label

    get_current_context()[SCOPE_LABEL_KEY] = scope_label(scope)  # type: ignore[literal-required]
    return discover_scope(scope)


@task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)
def merge_configurations(report: dict, discovered: list[dict] | None, ti=None) -> list[dict]:
    """Returns one kwargs dict per configuration to fetch (listed, then discovered, each once);
    the completed report plan goes to the XCom key 'report'."""
    from license_manager import run_plan

    merged = run_plan.merge_discovered(report, list(discovered or []))
    ti.xcom_push(key="report", value=merged["report"])
    return merged["fetch_requests"]


@task(
    multiple_outputs=False,
    trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS,
    outlets=[LICENSE_CONSUMPTION_REPORT],
)
def write_report(report: dict, outlet_events=None) -> dict:
    from license_manager import pipeline

    result = pipeline.write_report(report)
    outlet_events[LICENSE_CONSUMPTION_REPORT].extra = pipeline.report_event_extra(result)
    return result


@task(multiple_outputs=False, retries=0)
def compliance_alert(result: dict, **context) -> str:
    from license_manager import pipeline

    return pipeline.send_compliance_alert(result, context)


@task(multiple_outputs=False, retries=0)
def check_collection(result: dict) -> str:
    from license_manager import pipeline

    return pipeline.check_collection(result)


with DAG(
    dag_id="license_tracking",
    description="AWS License Manager configurations and usage, every Region, to S3 as CSV",
    schedule=schedule_from_environment(),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    doc_md=DOC_MD,
    tags=["license-manager", "aws", "reporting"],
    params=trigger_form_params(),
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": EXPONENTIAL_RETRY_BACKOFF,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": LicenseAlertNotifier(),
    },
) as dag:
    run = resolve_settings()
    discovered = discover_license_configurations.expand(scope=run)
    merged = merge_configurations(run["report"], discovered)
    fetched = LicenseManagerOperator.partial(
        task_id="fetch_license_configuration", map_index_template=MAP_INDEX_TEMPLATE
    ).expand_kwargs(merged)
    report = write_report(merged["report"])
    fetched >> report
    check_collection(report)
    compliance_alert(report)
