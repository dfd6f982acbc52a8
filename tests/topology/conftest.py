"""The native copy of the compose topology, started once for this package's tests.

PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) must be running: without them the
tests fail with the command that starts each. LICENSE_TRACKING_SKIP_SERVICE_TESTS=1 skips
the tests that need them instead.
"""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from local_airflow.topology import CeleryTopology, unavailable_services

SKIP_VARIABLE = "LICENSE_TRACKING_SKIP_SERVICE_TESTS"
DAG_ID = "license_tracking"

#: Settings of the test runs on top of deploy/airflow.env: only the runs the tests trigger, a
#: dead worker or scheduler noticed within seconds rather than minutes, one API server worker
#: on a two-core machine.
TUNING = {
    "LICENSE_TRACKING_SCHEDULE": "None",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
    # A task whose Celery message a killed worker had taken but not started stays queued
    # until this timeout sends it again.
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "45",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    # A scheduler started again after the database restart adopts the tasks its predecessor
    # had queued once that one has missed its heartbeats for 15 s, checking every 10 s
    # (Airflow's defaults, 30 s and 300 s, kept a run waiting for five minutes).
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "8",
    "AIRFLOW__API__WORKERS": "1",
}


@pytest.fixture(scope="package")
def machine_services():
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: the tests that need PostgreSQL and Redis are skipped")
    problems = unavailable_services()
    if problems:
        message = "The topology tests need PostgreSQL and Redis.\n" + "\n".join(problems)
        pytest.fail(f"{message}\n(or set {SKIP_VARIABLE}=1 to skip these tests)", pytrace=False)


@pytest.fixture(scope="package")
def topology_aws(machine_services):
    """The License Manager emulator and moto in this process, reached over HTTP by Airflow."""
    from local_aws.servers import LocalAWS

    with LocalAWS() as servers:
        yield servers


@pytest.fixture(scope="package")
def topology(machine_services, topology_aws, tmp_path_factory):
    home = tmp_path_factory.mktemp("topology")
    with CeleryTopology(home, {**topology_aws.env, **TUNING}) as native:
        native.wait_for_dag(DAG_ID, timeout=180)
        native.api.patch(f"/dags/{DAG_ID}", json={"is_paused": False})
        yield native


@pytest.fixture(scope="package")
def s3(topology_aws):
    env = topology_aws.env
    return boto3.client(
        "s3",
        endpoint_url=topology_aws.moto_url,
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture
def bucket(s3):
    name = f"topology-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
