"""license_tracking: AWS License Manager consumption across Regions and accounts, to S3.

This file only wires the pipeline; the logic lives in the ``license_manager`` package.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, TriggerRule, task
from license_manager.alerts import LicenseAlertNotifier
from license_manager.operators import MAP_INDEX_TEMPLATE, LicenseManagerOperator
from license_manager.schedule import schedule_from_environment
from license_manager.settings import SETTINGS

DOC_MD = """
# License tracking

Collects every listed AWS License Manager configuration and all of its usage, each in the
Region of its ARN, and writes a dated CSV report set to S3:

    s3://<license_report_bucket>/<license_report_prefix>YYYY/MM/DD/YYYYMMDDTHHMMSSZ/
        license-consumption-summary.csv    one row per requested ARN, errors included
        <LicenseConfigurationId>-usage.csv one per configuration fetched
        manifest.json                      written last: a folder without it is incomplete

**Settings** (trigger form value, else the Airflow Variable of the same name, else default):
`license_config_arns` (required), `license_report_bucket` (required),
`license_report_prefix`, `aws_conn_id` (`aws_default`), `license_alert_sns_topic_arn`,
`license_report_kms_key_id` (SSE-KMS), `license_report_bucket_owner` (ExpectedBucketOwner).
A setting AWS would reject fails `resolve_settings` before anything is written, naming it.

**Tasks**: `resolve_settings` merges the settings, validates the ARNs and checks the bucket;
`fetch_license_configuration` runs once per ARN, labelled with the configuration's name;
`write_report` writes the report set, even when some configurations failed;
`check_collection` fails the run when any ARN failed or was invalid, naming them.
Failures that survive their retries are sent to `license_alert_sns_topic_arn` when it is set.

The schedule comes from the environment variable `LICENSE_TRACKING_SCHEDULE` (default
`@daily`; EventBridge `rate()` and `cron()` expressions are accepted).
"""


@task
def resolve_settings(params=None, dag_run=None, logical_date=None, ti=None) -> list[dict]:
    """Returns one kwargs dict per valid ARN for the mapped fetch; the report plan goes to
    the XCom key 'report' (a mapped task can only expand over a return value)."""
    from license_manager import pipeline

    run = pipeline.resolve_run(
        params, dag_run.dag_id, dag_run.run_id, logical_date or dag_run.run_after
    )
    ti.xcom_push(key="report", value=run["report"])
    return run["fetch_requests"]


@task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
def write_report(report: dict) -> dict:
    from license_manager import pipeline

    return pipeline.write_report(report)


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
    params={
        setting.name: Param(
            None,
            type=["null", "string", "array"]
            if setting.name == "license_config_arns"
            else ["null", "string"],
            title=setting.name,
            description=setting.description
            + (f" Default: {setting.default!r}." if setting.default else "")
            + " Empty: the Airflow Variable of the same name.",
        )
        for setting in SETTINGS
    },
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "on_failure_callback": LicenseAlertNotifier(),
    },
) as dag:
    run = resolve_settings()
    fetched = LicenseManagerOperator.partial(
        task_id="fetch_license_configuration", map_index_template=MAP_INDEX_TEMPLATE
    ).expand_kwargs(run)
    report = write_report(run["report"])
    fetched >> report
    check_collection(report)
