"""Failure alerts over SNS, and the shipped IAM policy against what the code really calls."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import botocore.client
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("airflow_db")

POLICY_FILE = ROOT / "iam" / "license-tracking-policy.json"

# The IAM actions that authorise each API operation the code may call.
IAM_ACTIONS = {
    ("license-manager", "GetLicenseConfiguration"): {"license-manager:GetLicenseConfiguration"},
    ("license-manager", "ListUsageForLicenseConfiguration"): {
        "license-manager:ListUsageForLicenseConfiguration"
    },
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


@pytest.fixture
def alert_queue(world):
    """An SNS topic with an SQS queue subscribed to it."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name=f"alerts-{world.bucket}")["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"alerts-{world.bucket}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    def messages() -> list[str]:
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"])["Message"] for m in received.get("Messages", [])]

    return topic, messages


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
    assert "AccessDeniedException" in fetch_alert
    assert f"Run: {dag_run.run_id}" in fetch_alert
    verdict_alert = next(m for m in alerts if "Task: check_collection" in m)
    assert denied in verdict_alert and good not in verdict_alert.split("Error:")[1].split(".")[0]
    assert len(alerts) == 2


def test_no_topic_no_alert_and_success_sends_nothing(world, alert_queue):
    _, messages = alert_queue
    denied = world.add(usage_count=1)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    assert world.run(license_config_arns=denied).state == "failed"
    assert messages() == []


@pytest.fixture
def recorded_calls(monkeypatch):
    calls: set[tuple[str, str]] = set()
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        calls.add((client.meta.service_model.signing_name, operation_name))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


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
    recorded_calls.clear()

    settings["license_alert_sns_topic_arn"] = topic
    world.run(when, license_config_arns=[large, small, denied], **settings)
    world.run(when, license_config_arns=[large, small, denied], **settings)

    unknown = recorded_calls - IAM_ACTIONS.keys()
    assert not unknown, f"map these operations to IAM actions and the policy: {unknown}"
    needed = set().union(
        *(IAM_ACTIONS[call] | KMS_ACTIONS.get(call, set()) for call in recorded_calls)
    )
    policy = json.loads(POLICY_FILE.read_text())
    granted = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    assert needed <= granted, f"missing from {POLICY_FILE.name}: {needed - granted}"
    # The run really exercised the paths that need these actions.
    assert {
        ("s3", "UploadPartCopy"),
        ("s3", "UploadPart"),
        ("sns", "Publish"),
        ("s3", "DeleteObjects"),
    } <= recorded_calls
    # Least privilege: nothing granted that the code never needs; the KMS key is the report's.
    assert granted - needed <= {"s3:AbortMultipartUpload"}
    (kms,) = [s for s in policy["Statement"] if any(a.startswith("kms:") for a in s["Action"])]
    assert sorted(kms["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == "arn:aws:kms:REPORT_KEY_REGION:ACCOUNT_ID:key/REPORT_KEY_ID"
