"""The platform floor: license_tracking's shape (resolve, one mapped discovery task per account
and Region, merge, one mapped task per ARN, write, check, compliance alert) with tasks that do
nothing. Benchmarks compare the real DAG's wall time with this one's.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, BaseOperator, TriggerRule, task


class NoopFetchOperator(BaseOperator):
    template_fields = ("license_configuration_arn",)

    def __init__(self, *, license_configuration_arn: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.license_configuration_arn = license_configuration_arn

    def execute(self, context) -> dict:
        return {"arn": self.license_configuration_arn, "status": "ok"}


@task
def resolve_settings(dag_run=None) -> list[dict]:
    return dag_run.conf.get("discovery_scopes", [])


@task(multiple_outputs=False)
def discover_license_configurations(scope: dict) -> dict:
    return {**scope, "arns": []}


@task(multiple_outputs=False, trigger_rule=TriggerRule.NONE_FAILED)
def merge_configurations(discovered, dag_run=None) -> list[dict]:
    return [{"license_configuration_arn": arn} for arn in dag_run.conf["license_config_arns"]]


@task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)
def write_report() -> dict:
    return {"not_collected": []}


@task
def check_collection(result: dict) -> str:
    return "ok"


@task
def compliance_alert(result: dict) -> str:
    return "no configuration near its limit"


with DAG(
    dag_id="license_tracking_noop",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
) as dag:
    fetched = NoopFetchOperator.partial(
        task_id="fetch_license_configuration",
        map_index_template="{{ task.license_configuration_arn }}",
    ).expand_kwargs(
        merge_configurations(discover_license_configurations.expand(scope=resolve_settings()))
    )
    report = write_report()
    fetched >> report
    check_collection(report)
    compliance_alert(report)
