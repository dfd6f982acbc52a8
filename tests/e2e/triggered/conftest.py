"""One stack for the package: license_tracking runs only when a test triggers it.

The scheduler creates no scheduled runs (``use_job_schedule`` off), so every run in the stack
is one a test started; the scheduled run and the asset-scheduled DAG have stacks of their own
(``tests/e2e/test_scheduled_run.py``, ``tests/e2e/test_compliance_in_airflow.py``). Starting
one stack for these modules instead of one each saves a start and a teardown per module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_airflow import LightAirflow
from local_aws.s3_proxy import S3FaultProxy
from tests.e2e.license_runs import DAG_ID, new_world
from tests.support import World


@pytest.fixture(scope="package")
def proxy(local_aws_servers) -> Iterator[S3FaultProxy]:
    """The stack's way to S3: it records every request and can slow one operation down."""
    with S3FaultProxy(local_aws_servers.moto_url) as proxy:
        yield proxy


@pytest.fixture(scope="package")
def variables(local_aws_servers) -> tuple[World, str]:
    """What the Airflow Variables point at: a bucket and a configuration of their own."""
    world = new_world(local_aws_servers)
    return world, world.add(name="Configured by Variable", usage_count=2)


@pytest.fixture(scope="package")
def stack(airflow_stack, proxy, variables) -> Iterator[LightAirflow]:
    world, arn = variables
    env = {
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW_VAR_LICENSE_CONFIG_ARNS": arn,
        "AWS_ENDPOINT_URL_S3": proxy.url,
        # test_running_faults.py: the restarted scheduler takes the dead scheduler's running
        # tasks back (and runs them again) once that scheduler has missed its heartbeats for
        # 15 s, checking every 10 s.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
        "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "10",
    }
    with airflow_stack("triggered", env) as stack:
        stack.wait_for_dag(DAG_ID)
        # In the metadata database, not the environment: a test sets its own bucket (a
        # deployment setting) for its runs through the REST API, as an administrator would.
        stack.api.set_variable("license_report_bucket", world.bucket)
        stack.api.patch(f"/dags/{DAG_ID}", json={"is_paused": False})
        yield stack
