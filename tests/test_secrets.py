"""A connection's secret, and the temporary credentials of a role assumed in a member account,
never leave the task that uses them: not in logs, XCom, rendered fields, the metadata database,
S3 (staging included) or alerts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from local_aws.s3_proxy import S3FaultProxy
from tests.airflow_home import AIRFLOW_HOME
from tests.test_discovery_run import (
    HOME,
    MEMBER_A,
    MEMBER_B,
    REGIONS,
    TEMPLATE,
    org,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.usefixtures("airflow_db")


def task_output(capsys, caplog) -> str:
    """What the tasks printed and logged: dag.test runs them in this process, and their log
    records reach pytest's log capture (the console renderer writes to the real stdout)."""
    printed = capsys.readouterr()
    return "\n".join([printed.out, printed.err, caplog.text])


def files_holding(root, marker: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and marker in path.read_bytes()]


def test_the_connections_secret_appears_nowhere(world, alert_queue, monkeypatch, capsys, caplog):
    topic, messages = alert_queue
    marker = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_SECRET_AWS",
        json.dumps({"conn_type": "aws", "login": "testing", "password": marker}),
    )
    with S3FaultProxy(world.servers.moto_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        ok = world.add(usage_count=150)
        denied = world.add(usage_count=1)
        world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})

        dag_run = world.run(
            datetime(2026, 5, 6, tzinfo=UTC),
            license_config_arns=[ok, denied],
            aws_conn_id="secret_aws",
            license_alert_sns_topic_arn=topic,
        )
        sent = proxy.requests
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", world.servers.moto_url)

    assert dag_run.state == "failed"  # the denied configuration: an alert was sent
    alerts = messages()
    assert alerts and denied in "".join(alerts)
    assert marker not in "".join(alerts)
    # Task output (printed and logged) and every file of AIRFLOW_HOME: the metadata
    # database (XCom, rendered template fields, task instances, run conf) and log files.
    output = task_output(capsys, caplog)
    assert denied in output  # the fetch's log was captured
    assert marker not in output
    assert files_holding(AIRFLOW_HOME, marker.encode()) == []
    # Everything written to S3, staging included, and every request header.
    assert any(request.operation == "PutObject" for request in sent)
    for request in sent:
        assert marker.encode() not in request.body, request
        assert marker not in json.dumps(request.headers) and marker not in request.path
    for key in world.keys():
        assert marker.encode() not in world.read(key), key


def test_assumed_role_credentials_appear_nowhere(org, alert_queue, monkeypatch, capsys, caplog):  # noqa: F811
    """Discovery and fetches in member accounts run on credentials the local STS issued; none of
    them (key ID, secret key, session token) reaches the task output, AIRFLOW_HOME, S3 or an
    alert. S3 is written with the connection's own keys, never the assumed ones."""
    world, arns = org
    topic, messages = alert_queue
    denied = arns[(MEMBER_A, "us-east-1")][0]  # fetched with member A's role, then refused
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    with S3FaultProxy(world.servers.moto_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        dag_run = world.run(
            datetime(2026, 5, 7, tzinfo=UTC),
            license_discovery_regions=",".join(REGIONS),
            license_discovery_accounts=[HOME, MEMBER_A, MEMBER_B],
            license_account_role_arn_template=TEMPLATE,
            license_alert_sns_topic_arn=topic,
        )
        sent = proxy.requests
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", world.servers.moto_url)
    issued = world.emulator.issued_credentials()

    assert dag_run.state == "failed"  # the refused configuration: an alert was sent
    # One AssumeRole per member account for each discovery task (2 accounts x 2 Regions) and
    # each member configuration's fetch (3 in A, 2 in B), every one granted and remembered.
    assert len(issued) == world.emulator.call_count("sts:AssumeRole") == 4 + 5
    assert {credentials.duration_seconds for credentials in issued} == {900}  # STS's minimum
    collected = {row["LicenseConfigurationArn"]: row["Error"] for row in world.summary()}
    members = arns[(MEMBER_A, "us-east-1")] + arns[(MEMBER_B, "eu-west-1")]
    assert {arn: collected[arn] == "" for arn in members} == {arn: arn != denied for arn in members}
    secrets = {secret for credentials in issued for secret in credentials.secrets}
    assert len(secrets) == 3 * len(issued)

    alerts = "".join(messages())
    output = task_output(capsys, caplog)
    assert denied in alerts and denied in output  # both were captured
    for secret in secrets:
        assert secret not in alerts
        assert secret not in output
        assert files_holding(AIRFLOW_HOME, secret.encode()) == []
    assert_s3_used_the_connections_keys_only(world, sent, secrets)


def assert_s3_used_the_connections_keys_only(world, sent, secrets: set[str]) -> None:
    assert any(request.operation == "PutObject" for request in sent)
    for request in sent:
        assert "Credential=testing/" in request.headers["authorization"], request
        assert "x-amz-security-token" not in request.headers, request
        seen = request.body + json.dumps(request.headers).encode() + request.path.encode()
        assert [secret for secret in secrets if secret.encode() in seen] == [], request
    for key in world.keys():
        body = world.read(key)
        assert [secret for secret in secrets if secret.encode() in body] == [], key


def test_assumed_role_secrets_are_masked_even_with_botocore_logging_at_debug(org, caplog):  # noqa: F811
    """botocore logs every answer at DEBUG, AssumeRole's too, before the task can register the
    secret key and session token with Airflow's secrets masker: that answer is never logged,
    and every later line (the signed requests carry the token) is masked as task logs are."""
    import logging

    from airflow.sdk._shared.secrets_masker import redact  # what renders every task log line

    world, _ = org
    caplog.set_level(logging.DEBUG, logger="botocore")
    dag_run = world.run(
        datetime(2026, 5, 8, tzinfo=UTC),
        license_discovery_regions=",".join(REGIONS),
        license_discovery_accounts=[HOME, MEMBER_A, MEMBER_B],
        license_account_role_arn_template=TEMPLATE,
    )
    issued = world.emulator.issued_credentials()

    assert dag_run.state == "success"
    assert issued
    lines = [record.getMessage() for record in caplog.records]
    assert any("Response body" in line for line in lines)  # botocore's DEBUG log was captured
    assert not [line for line in lines if "AssumeRoleResult" in line]
    logged = "\n".join(redact(line) for line in lines)
    for credentials in issued:
        for secret in credentials.secrets[1:]:  # the secret key and the session token
            assert secret not in logged
            assert files_holding(AIRFLOW_HOME, secret.encode()) == []
