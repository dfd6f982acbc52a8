"""Failure alerts over SNS, and the shipped IAM policy against what the code really calls."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import boto3
import botocore.client
import pytest
from license_manager.compat import DAG_TEST_CALLBACKS_GET_THE_EXCEPTION

from local_aws.arns import DEFAULT_ACCOUNT
from tests.airflow_home import ROOT
from tests.support import airflow_variables, config_arn

pytestmark = pytest.mark.usefixtures("airflow_db")

POLICY_FILE = ROOT / "iam" / "license-tracking-policy.json"
MEMBER_ROLE_FILE = ROOT / "iam" / "license-tracking-member-role.yaml"

# The IAM actions that authorise each API operation the code may call.
IAM_ACTIONS = {
    ("license-manager", "GetLicenseConfiguration"): {"license-manager:GetLicenseConfiguration"},
    ("license-manager", "ListUsageForLicenseConfiguration"): {
        "license-manager:ListUsageForLicenseConfiguration"
    },
    ("license-manager", "ListLicenseConfigurations"): {"license-manager:ListLicenseConfigurations"},
    ("sts", "AssumeRole"): {"sts:AssumeRole"},
    ("sts", "GetCallerIdentity"): set(),  # needs no permission
    ("s3", "PutObject"): {"s3:PutObject"},
    ("s3", "GetObject"): {"s3:GetObject"},
    ("s3", "HeadObject"): {"s3:GetObject"},
    ("s3", "CopyObject"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "UploadPartCopy"): {"s3:GetObject", "s3:PutObject"},
    ("s3", "CreateMultipartUpload"): {"s3:PutObject"},
    ("s3", "UploadPart"): {"s3:PutObject"},
    ("s3", "CompleteMultipartUpload"): {"s3:PutObject"},
    ("s3", "AbortMultipartUpload"): {"s3:AbortMultipartUpload"},
    ("s3", "ListObjectsV2"): {"s3:ListBucket"},
    ("s3", "DeleteObject"): {"s3:DeleteObject"},
    ("s3", "DeleteObjects"): {"s3:DeleteObject"},
    ("sns", "Publish"): {"sns:Publish"},
}
# With SSE-KMS (license_report_kms_key_id), S3 uses the key for the caller: writing an object
# needs a data key, reading one (copy sources and multipart completion included) Decrypt.
KMS_ACTIONS = {
    ("s3", "PutObject"): {"kms:GenerateDataKey"},
    ("s3", "CreateMultipartUpload"): {"kms:GenerateDataKey"},
    ("s3", "UploadPart"): {"kms:GenerateDataKey"},
    ("s3", "CopyObject"): {"kms:GenerateDataKey", "kms:Decrypt"},
    ("s3", "UploadPartCopy"): {"kms:GenerateDataKey", "kms:Decrypt"},
    ("s3", "CompleteMultipartUpload"): {"kms:Decrypt"},
    ("s3", "GetObject"): {"kms:Decrypt"},
    ("s3", "HeadObject"): {"kms:Decrypt"},
}


def test_failure_alert_reaches_a_subscribed_queue_naming_the_arn(world, alert_queue):
    topic, messages = alert_queue
    good = world.add(name="Fine", usage_count=3)
    denied = world.add(name="Locked away", usage_count=3)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})

    dag_run = world.run(license_config_arns=[good, denied], license_alert_sns_topic_arn=topic)

    assert dag_run.state == "failed"
    alerts = messages()
    fetch_alert = next(m for m in alerts if "Task: fetch_license_configuration" in m)
    assert f"Configuration: {denied}" in fetch_alert
    assert f"Run: {dag_run.run_id}" in fetch_alert
    verdict_alert = next(m for m in alerts if "Task: check_collection" in m)
    if DAG_TEST_CALLBACKS_GET_THE_EXCEPTION:  # the error text; see license_manager.compat
        assert "AccessDeniedException" in fetch_alert
        assert denied in verdict_alert
        assert good not in verdict_alert.split("Error:")[1].split(".")[0]
    assert len(alerts) == 2


def test_no_topic_no_alert_and_success_sends_nothing(world, alert_queue):
    _, messages = alert_queue
    denied = world.add(usage_count=1)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    assert world.run(license_config_arns=denied).state == "failed"
    assert messages() == []


def test_a_trigger_cannot_choose_where_the_failure_alert_goes(world, alert_queue):
    topic, messages = alert_queue
    arn = world.add(usage_count=1)
    conf = {"license_config_arns": arn, "license_alert_sns_topic_arn": topic}

    with airflow_variables({"license_report_bucket": world.bucket}):
        dag_run = world.trigger(conf, datetime(2026, 6, 3, tzinfo=UTC))

    assert dag_run.state == "failed"
    assert messages() == []  # the topic is a deployment setting: the conf's is refused


def test_a_run_refused_for_its_conf_alerts_the_deployment_s_topic(world, alert_queue):
    topic, messages = alert_queue
    arn = world.add(usage_count=1)
    conf = {"license_config_arns": arn, "aws_conn_id": "another_teams_connection"}
    deployment = {"license_report_bucket": world.bucket, "license_alert_sns_topic_arn": topic}

    with airflow_variables(deployment):
        dag_run = world.trigger(conf, datetime(2026, 6, 4, tzinfo=UTC))

    assert dag_run.state == "failed"
    (alert,) = messages()
    assert "Task: resolve_settings" in alert
    if DAG_TEST_CALLBACKS_GET_THE_EXCEPTION:  # the error text; see license_manager.compat
        assert "aws_conn_id" in alert


@pytest.fixture
def recorded_calls(monkeypatch):
    """(service, operation) of every call, by principal: the connection's keys ("airflow") or
    a member account's assumed role ("member")."""
    calls: dict[str, set[tuple[str, str]]] = {"airflow": set(), "member": set()}
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        own = client._get_credentials().access_key == os.environ["AWS_ACCESS_KEY_ID"]
        principal = "airflow" if own else "member"
        calls[principal].add((client.meta.service_model.signing_name, operation_name))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def _granted(statements: list[dict]) -> set[str]:
    granted = set()
    for statement in statements:
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    return granted


def _member_role_statements() -> list[dict]:
    """The reader role's policy statements in the CloudFormation template (tags kept as data)."""
    from local_aws.athena import load_template

    template = load_template(MEMBER_ROLE_FILE)
    role = template["Resources"]["LicenseTrackingReaderRole"]["Properties"]
    (policy,) = role["Policies"]
    return policy["PolicyDocument"]["Statement"]


def _needed(
    calls: set[tuple[str, str]], extra: dict[tuple[str, str], set[str]] | None = None
) -> set[str]:
    """The IAM actions the calls need; ``extra`` adds those of SSE-KMS objects."""
    unknown = calls - IAM_ACTIONS.keys()
    assert not unknown, f"map these operations to IAM actions and the policies: {unknown}"
    return set().union(*(IAM_ACTIONS[call] | (extra or {}).get(call, set()) for call in calls))


def test_every_aws_action_the_code_performs_is_in_the_iam_policy(
    world, alert_queue, recorded_calls
):
    topic, _ = alert_queue
    large = world.add(usage_count=60_000)  # over 8 MiB: multipart upload and copy
    small = world.add(usage_count=120)
    denied = world.add(usage_count=1)
    when = datetime(2026, 1, 2, tzinfo=UTC)
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    settings = {"license_report_kms_key_id": key, "license_report_bucket_owner": "123456789012"}
    world.run(when, license_config_arns=[large, small, denied], **settings)  # denied succeeds
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    for calls in recorded_calls.values():
        calls.clear()

    settings["license_alert_sns_topic_arn"] = topic
    world.run(when, license_config_arns=[large, small, denied], **settings)
    world.run(when, license_config_arns=[large, small, denied], **settings)
    # Discovery in the connection's own account and, through the reader role, in a member's.
    world.emulator.update_settings(isolate_accounts=True)
    world.add(config_arn("us-east-1", DEFAULT_ACCOUNT), usage_count=1)
    world.add(config_arn("us-east-1", "444444444444"), usage_count=1)
    discovery = world.run(
        license_config_arns="",  # dag.test keeps the last run's params on the DAG
        license_discovery_regions="us-east-1",
        license_discovery_accounts=[DEFAULT_ACCOUNT, "444444444444"],
        license_account_role_arn_template="arn:aws:iam::{account_id}:role/LicenseTrackingReader",
        license_report_prefix="discovery/",
        **settings,
    )
    assert discovery.state == "success"

    needed = _needed(recorded_calls["airflow"], KMS_ACTIONS)
    policy = json.loads(POLICY_FILE.read_text())
    granted = _granted(policy["Statement"])
    assert needed <= granted, f"missing from {POLICY_FILE.name}: {needed - granted}"
    # The run really exercised the paths that need these actions.
    assert {
        ("s3", "UploadPartCopy"),
        ("s3", "UploadPart"),
        ("sns", "Publish"),
        ("s3", "DeleteObjects"),
        ("sts", "AssumeRole"),
        ("license-manager", "ListLicenseConfigurations"),
    } <= recorded_calls["airflow"]
    # Least privilege: nothing granted that the code never needs; the KMS key is the report's.
    assert granted - needed <= {"s3:AbortMultipartUpload"}
    (kms,) = [s for s in policy["Statement"] if str(s["Action"]).count("kms:")]
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == "arn:aws:kms:REPORT_KEY_REGION:ACCOUNT_ID:key/REPORT_KEY_ID"

    # The member account's reader role: exactly what discovery and fetch do there.
    member_needed = _needed(recorded_calls["member"])
    member_granted = _granted(_member_role_statements())
    assert (
        member_needed
        == member_granted
        == {
            "license-manager:ListLicenseConfigurations",
            "license-manager:GetLicenseConfiguration",
            "license-manager:ListUsageForLicenseConfiguration",
        }
    )


def test_member_role_trusts_only_the_airflow_principal_with_the_external_id():
    import yaml

    text = MEMBER_ROLE_FILE.read_text()
    assert "sts:ExternalId: !Ref ExternalId" in text
    assert "AWS: !Ref AirflowPrincipalArn" in text
    statements = json.loads(POLICY_FILE.read_text())["Statement"]
    (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    role_name = yaml.safe_load(text.split("Conditions:")[0])["Parameters"]["RoleName"]["Default"]
    assert assume["Resource"] == f"arn:*:iam::*:role/{role_name}"
