"""Test session fixtures; the environment they run in is set up by ``tests.airflow_home``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.airflow_home import AIRFLOW_HOME, INSTALLED_PACKAGE, ROOT


def license_manager_location() -> Path:
    """Where ``license_manager`` is imported from; with the installed package, that it is so."""
    import license_manager

    where = Path(license_manager.__file__).resolve()
    from_wheel = "site-packages" in where.parts and ROOT / "plugins" not in where.parents
    if INSTALLED_PACKAGE and not from_wheel:
        raise pytest.UsageError(f"license_manager imported from {where}, not the installed wheel")
    return where


def pytest_configure(config: pytest.Config) -> None:
    license_manager_location()  # in every process, pytest-xdist's workers included


def reuse_the_in_process_execution_api() -> None:
    """``dag.test`` with one in-process Execution API app per process, as newer Airflow has it.

    Airflow 3.1 builds a new app for every task ``dag.test`` runs, and Cadwyn then generates
    its versioned routers again on the first request: about a second of CPU per task, which
    made a compatibility cell several times slower than the same tests on Airflow 3.3, whose
    ``supervisor.in_process_api_server`` is ``functools.lru_cache``-d. The tests give older
    Airflow the same cache; tests/test_compat.py checks that the function still exists and
    that it is cached in every supported version.
    """
    import functools

    from airflow.sdk.execution_time import supervisor

    if not hasattr(supervisor.in_process_api_server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(
            supervisor.in_process_api_server
        )


def pytest_report_header(config: pytest.Config) -> str:
    import importlib.metadata

    airflow = importlib.metadata.version("apache-airflow")
    return f"license_manager: {license_manager_location()} (Airflow {airflow})"


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """An initialised SQLite metadata database in the session's AIRFLOW_HOME, for dag.test."""
    reuse_the_in_process_execution_api()
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def local_aws_servers():
    """The License Manager emulator and moto's server, reached through AWS_ENDPOINT_URL_*."""
    from local_aws.servers import LocalAWS

    with LocalAWS() as servers:
        saved = {name: os.environ.get(name) for name in servers.env}
        os.environ.update(servers.env)
        yield servers
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def s3(local_aws_servers):
    """The package's S3 hook on the local AWS, and a new bucket of its own: ``s3.bucket``."""
    import uuid

    from license_manager.hooks import ReportBucketHook

    hook = ReportBucketHook(aws_conn_id=None)
    hook.bucket = f"reports-{uuid.uuid4().hex[:8]}"
    hook.conn.create_bucket(Bucket=hook.bucket)
    return hook


@pytest.fixture
def license_dag(airflow_db):
    """A freshly parsed DAG: dag.test() keeps the trigger params of a run on the DAG object."""
    from tests.support import load_dag

    return load_dag()


@pytest.fixture
def world(local_aws_servers, license_dag):
    """A fresh bucket and a reset emulator for one test."""
    import uuid

    import boto3

    from tests.support import World

    local_aws_servers.emulator.reset()
    bucket = f"reports-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    return World(local_aws_servers, license_dag, bucket)


@pytest.fixture
def botocore_files_read(monkeypatch) -> list[str]:
    """The path of every botocore data file parsed from now on."""
    import botocore.loaders

    read: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self, file_path):
        data = original(self, file_path)
        if data is not None:
            read.append(file_path)
        return data

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
    return read


# --- Test tiers -----------------------------------------------------------------------------
#
# `make test-fast` runs the tests that need no running Airflow deployment; `make test` runs
# everything, cheapest tier first, so that a cheap failure shows within the first minute.

#: Fixtures that start Airflow processes: a test that uses one (directly or through another
#: fixture) is a deployment test.
DEPLOYMENT_FIXTURES = frozenset({"airflow_stack", "topology"})
#: Fixtures that run the DAG in this process (dag.test on SQLite).
DAG_RUN_FIXTURES = frozenset({"airflow_db", "license_dag", "world"})
TIERS = ("unit", "dag_run", "slow", "deployment")


def _tier(item: pytest.Item) -> int:
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & DEPLOYMENT_FIXTURES or item.get_closest_marker("deployment"):
        return TIERS.index("deployment")
    if item.get_closest_marker("slow"):
        return TIERS.index("slow")
    if fixtures & DAG_RUN_FIXTURES:
        return TIERS.index("dag_run")
    return TIERS.index("unit")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark deployment tests, then order modules by their costliest test's tier.

    A module keeps its tests together (its module-scoped fixtures start once); the sort is
    stable, so within a tier the files keep their usual order.
    """
    module_tier: dict[str, int] = {}
    for item in items:
        tier = _tier(item)
        if tier == TIERS.index("deployment"):
            item.add_marker(pytest.mark.deployment)
        elif tier == TIERS.index("dag_run"):
            item.add_marker(pytest.mark.dag_run)
        module = item.nodeid.split("::", 1)[0]
        module_tier[module] = max(module_tier.get(module, 0), tier)
    items.sort(key=lambda item: module_tier[item.nodeid.split("::", 1)[0]])


@pytest.fixture
def alert_queue(local_aws_servers):
    """An SNS topic, and a function returning the messages an SQS queue on it received."""
    from tests.support import AlertQueue

    queue = AlertQueue()
    return queue.topic, queue.messages


@pytest.fixture
def s3_proxy(local_aws_servers, monkeypatch):
    """local_aws.s3_proxy.S3FaultProxy in front of moto's S3, which every S3 client created
    during the test reaches: it records each request and can check the bucket owner."""
    from local_aws.s3_proxy import S3FaultProxy

    with S3FaultProxy(local_aws_servers.moto_url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        yield proxy
