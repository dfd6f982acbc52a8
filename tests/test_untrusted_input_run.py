"""Text a triggerer types is data: never rendered as a template, never a way to pick the DAG's
identity or destination.

Each payload is rendered differently from how it reads, so a rendered copy is recognisable
anywhere: in S3 keys and objects, task output, XCom, rendered fields and the rest of the
metadata database.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from tests.airflow_home import AIRFLOW_HOME
from tests.test_secrets import files_holding, task_output

PASSWORD = f"conn-password-{uuid.uuid4().hex}"
#: Each payload, and what it would be once rendered.
PAYLOADS = {
    "tpl{{ 7 * 7 }}x": "tpl49x",
    "pw{{ conn.aws_default.password }}": PASSWORD,
    "raw{% raw %}{{ 1 }}{% endraw %}": "raw{{ 1 }}",
}
RENDERED = tuple(PAYLOADS.values())


@pytest.fixture
def secret_connection(monkeypatch):
    """aws_default with a password the payloads try to read (the local AWS takes any key)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps({"conn_type": "aws", "login": "testing", "password": PASSWORD}),
    )


def assert_nothing_rendered(world, capsys, caplog) -> None:
    output = task_output(capsys, caplog)
    for rendered in RENDERED:
        assert rendered not in output
        assert files_holding(AIRFLOW_HOME, rendered.encode()) == []
        for key in world.keys():
            assert rendered not in key
            assert rendered.encode() not in world.read(key), key


def test_arns_with_template_syntax_are_reported_as_written(
    world, secret_connection, capsys, caplog
):
    valid = world.add(usage_count=2)
    dag_run = world.run(datetime(2026, 6, 1, tzinfo=UTC), license_config_arns=[valid, *PAYLOADS])

    assert dag_run.state == "failed"  # the payloads are not ARNs
    summary = {row["LicenseConfigurationArn"]: row for row in world.summary()}
    assert list(summary) == [valid, *PAYLOADS]
    assert summary[valid]["Error"] == ""
    assert {summary[payload]["Error"] for payload in PAYLOADS} == {
        f"not an ARN: {payload!r}" for payload in PAYLOADS
    }
    assert_nothing_rendered(world, capsys, caplog)


@pytest.mark.parametrize(
    "setting",
    [
        "license_report_prefix",
        "license_discovery_regions",
        "license_discovery_accounts",
        "license_alert_utilization_percent",
    ],
)
def test_other_run_settings_with_template_syntax_fail_naming_the_setting(
    world, secret_connection, capsys, caplog, setting
):
    arn = world.add(usage_count=1)
    for payload in PAYLOADS:
        conf = {"license_config_arns": arn, setting: f"{payload}/"}
        dag_run = world.run(datetime(2026, 6, 2, tzinfo=UTC), **conf)
        assert dag_run.state == "failed"
        assert world.keys() == []  # refused before anything was written
    output = task_output(capsys, caplog)
    assert f"SettingsError: {setting}" in output
    assert_nothing_rendered(world, capsys, caplog)


def test_a_mapped_fetch_renders_none_of_the_arguments_it_is_mapped_over():
    """The DAG maps the fetch with expand_kwargs() over an upstream task's XCom: the Task SDK
    hands the operator plain dicts of strings and renders those of its templated fields."""
    from types import SimpleNamespace

    from airflow.sdk import DAG
    from license_manager.operators import LicenseManagerOperator

    arn = "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-" + "a" * 32
    given = {
        "license_configuration_arn": arn,
        "report_bucket": "reports",
        "staging_folder": "_staging/tpl{{ 7 * 7 }}x/",
        "aws_conn_id": "aws_default",
        "role_arn_template": "arn:aws:iam::{account_id}:role/r{{ 7 * 7 }}x",
        "role_external_id": "raw{% raw %}{{ 1 }}{% endraw %}",
        "role_session_name": "s{{ 7 * 7 }}x",
        "home_account_id": "111111111111",
        "report_kms_key_id": "alias/k{{ 7 * 7 }}x",
        "report_bucket_owner": "o{{ 7 * 7 }}x",
    }
    with DAG("untrusted_mapping", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        mapped = LicenseManagerOperator.partial(task_id="fetch").expand_kwargs([given])
    context = {"ti": SimpleNamespace(map_index=0), "dag": dag, "dag_run": SimpleNamespace(conf={})}

    mapped.render_template_fields(context)  # what the task runner does before execute

    fetch = context["task"]
    assert {name: getattr(fetch, name) for name in given} == given


def test_a_trigger_cannot_choose_the_connection_or_the_bucket(world, capsys, caplog):
    """A conf naming deployment settings fails before any AWS call: nothing lands in the bucket
    it names, no License Manager call is made."""
    arn = world.add(usage_count=1)
    other = f"elsewhere-{uuid.uuid4().hex[:12]}"
    world.s3.create_bucket(Bucket=other)

    with_variables_bucket = {"license_report_bucket": world.bucket}
    from tests.support import airflow_variables

    with airflow_variables(with_variables_bucket):
        dag_run = world.trigger(
            {
                "license_config_arns": arn,
                "license_report_bucket": other,
                "aws_conn_id": "someone_elses",
                "license_account_role_external_id": "chosen-by-the-triggerer",
            }
        )

    assert dag_run.state == "failed"
    assert world.keys() == []
    assert world.s3.list_objects_v2(Bucket=other).get("KeyCount") == 0
    assert world.emulator.call_count("GetLicenseConfiguration") == 0
    output = task_output(capsys, caplog)
    assert (
        "license_report_bucket, aws_conn_id, license_account_role_external_id cannot be given "
        "when a run is triggered"
    ) in output
