"""LocalAWS (emulator + moto), its env for client processes, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import urllib.request

import boto3
import pytest

from local_aws import DEMO_SEED_PATH, LicenseManagerEmulator, LocalAWS, make_config_arn
from tests.local_aws.helpers import ACCOUNT_A, serving_cli


@pytest.fixture(scope="module")
def local():
    with LocalAWS(DEMO_SEED_PATH) as servers:
        yield servers


@pytest.fixture
def aws_env(local, monkeypatch):
    # boto3's default session keeps the credentials it resolved first; each test signs with
    # the keys it sets, so it starts from a new one.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in local.env.items():
        monkeypatch.setenv(key, value)
    return local.env


def test_env_contents(local):
    env = local.env
    assert env["AWS_ENDPOINT_URL_LICENSE_MANAGER"] == local.emulator_url
    assert env["AWS_ENDPOINT_URL_STS"] == local.emulator_url  # forwarded to moto
    for service in ("S3", "SNS", "SQS"):
        assert env[f"AWS_ENDPOINT_URL_{service}"] == local.moto_url
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert local.emulator_url != local.moto_url


def test_env_routes_license_manager_by_signed_region(local, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCOUNT_A)
    local.emulator.reset_calls()
    client = boto3.client("license-manager", region_name="eu-west-1")
    listed = client.list_license_configurations()["LicenseConfigurations"]
    assert listed and all(":eu-west-1:" in c["LicenseConfigurationArn"] for c in listed)
    arn = make_config_arn("eu-west-1", ACCOUNT_A, "demo-win-host-euw1")
    assert client.get_license_configuration(LicenseConfigurationArn=arn)["Name"]
    assert local.emulator.call_count() == 2
    assert boto3.client("license-manager").list_license_configurations()["LicenseConfigurations"]


def test_s3_through_env(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="license-reports")
    s3.put_object(Bucket="license-reports", Key="2024/report.json", Body=b'{"ok": true}')
    body = s3.get_object(Bucket="license-reports", Key="2024/report.json")["Body"].read()
    assert json.loads(body) == {"ok": True}


def test_sns_to_sqs_delivery(aws_env):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="license-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="license-alerts-q")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(TopicArn=topic, Message="over the limit")
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert json.loads(messages[0]["Body"])["Message"] == "over the limit"


def test_sts_through_env(aws_env):
    assert boto3.client("sts").get_caller_identity()["Account"]


def test_cli_serve_until_sigterm(tmp_path):
    env_file = tmp_path / "local_aws.env"
    with serving_cli(env_file, timeout=20) as process:
        env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        url = env["AWS_ENDPOINT_URL_LICENSE_MANAGER"]
        with urllib.request.urlopen(f"{url}/_emulator/health") as response:
            assert json.loads(response.read())["configurations"] == 12
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"export AWS_ENDPOINT_URL_LICENSE_MANAGER={url}" in stdout
    assert "export AWS_DEFAULT_REGION=us-east-1" in stdout


def test_emulator_server_lifecycle():
    emulator = LicenseManagerEmulator()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator:
        assert emulator.start() is emulator  # starting twice keeps the one server
        with urllib.request.urlopen(f"{emulator.url}/_emulator/health") as response:
            assert json.loads(response.read())["configurations"] == 0
    with pytest.raises(RuntimeError):
        _ = emulator.port
    emulator.stop()  # stopping twice is harmless
