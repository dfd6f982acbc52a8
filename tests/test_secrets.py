"""A connection's secret never leaves the connection: not in logs, XCom, rendered fields, the
metadata database, S3 (staging included) or alerts."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from local_aws.s3_proxy import S3FaultProxy
from tests.conftest import AIRFLOW_HOME
from tests.test_alerts_and_permissions import alert_queue  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("airflow_db")


def files_holding(root, marker: bytes) -> list[str]:
    return [str(path) for path in root.rglob("*") if path.is_file() and marker in path.read_bytes()]


def test_the_connections_secret_appears_nowhere(world, alert_queue, monkeypatch, capsys):  # noqa: F811
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
    # Task logs (dag.test writes them to stdout) and every file of AIRFLOW_HOME: the metadata
    # database (XCom, rendered template fields, task instances, run conf) and log files.
    assert marker not in capsys.readouterr().out
    assert files_holding(AIRFLOW_HOME, marker.encode()) == []
    # Everything written to S3, staging included, and every request header.
    assert any(request.operation == "PutObject" for request in sent)
    for request in sent:
        assert marker.encode() not in request.body, request
        assert marker not in json.dumps(request.headers) and marker not in request.path
    for key in world.keys():
        assert marker.encode() not in world.read(key), key
