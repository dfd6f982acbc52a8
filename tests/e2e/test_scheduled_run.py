"""The scheduler runs license_tracking by itself on the schedule from the environment.

A stack of its own: its one-minute schedule keeps creating runs, which must not mix with
the runs the other e2e tests start.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.license_runs import DAG_ID, FETCH, new_world, run_folder, usage_key
from tests.support import fetch_label

PREFIX = "scheduled/"


@pytest.fixture(scope="module")
def configured(local_aws_servers):
    """The configurations and bucket named by the Airflow Variables."""
    world = new_world(local_aws_servers)
    arns = [
        world.add(name="Visual Studio Enterprise", usage_count=12),
        world.add(name="RHEL for SAP", usage_count=101),
    ]
    return world, arns


@pytest.fixture(scope="module")
def stack(airflow_stack, configured):
    world, arns = configured
    env = {
        "LICENSE_TRACKING_SCHEDULE": "rate(1 minute)",
        "AIRFLOW_VAR_LICENSE_CONFIG_ARNS": ",".join(arns),
        "AIRFLOW_VAR_LICENSE_REPORT_BUCKET": world.bucket,
        "AIRFLOW_VAR_LICENSE_REPORT_PREFIX": PREFIX,
    }
    with airflow_stack("scheduled", env) as stack:
        yield stack


def test_scheduler_runs_the_dag_on_the_environment_schedule(stack, configured):
    world, arns = configured
    dag = stack.wait_for_dag(DAG_ID)
    assert dag["is_paused"] is True
    assert dag["timetable_summary"] == "0:01:00"
    assert stack.dag_runs(DAG_ID) == []

    stack.api.patch(f"/dags/{DAG_ID}", json={"is_paused": False})
    first = stack.wait_for(
        lambda: stack.dag_runs(DAG_ID, run_type="scheduled"),
        "the scheduler to create a scheduled run",
        timeout=180,
        interval=2,
    )[0]
    # The scheduler plans the next run when it creates one; max_active_runs=1 keeps it from
    # starting until this one has finished, so what the DAG shows now follows this run.
    planned = stack.api.get(f"/dags/{DAG_ID}").json()
    read_at = datetime.now(UTC)
    run = stack.wait_for_run(DAG_ID, first["dag_run_id"])
    stack.api.patch(f"/dags/{DAG_ID}", json={"is_paused": True})

    assert run["dag_run_id"].startswith("scheduled__") and run["logical_date"]
    assert run["state"] == "success"
    folder = run_folder(run, PREFIX)
    manifest = json.loads(world.read(f"{folder}manifest.json"))
    assert manifest["run_id"] == run["dag_run_id"]
    assert [(c["arn"], c["status"], c["usage_records"]) for c in manifest["configurations"]] == [
        (arns[0], "ok", 12),
        (arns[1], "ok", 101),
    ]
    assert set(world.keys(folder)) == {
        f"{folder}license-consumption-summary.csv",
        f"{folder}manifest.json",
        *(usage_key(folder, arn) for arn in arns),
    }
    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    ran = [ti for ti in instances.values() if ti["state"] != "skipped"]  # no discovery
    assert {(ti["state"], ti["try_number"]) for ti in ran} == {("success", 1)}
    assert [instances[(FETCH, index)]["rendered_map_index"] for index in range(2)] == [
        fetch_label("Visual Studio Enterprise", arns[0]),
        fetch_label("RHEL for SAP", arns[1]),
    ]

    # and the next run a minute after the first: with catchup off, Airflow plans it one
    # interval after the previous run or, when it computes it later than that (a busy
    # machine), at the moment it computes it.
    next_run = datetime.fromisoformat(planned["next_dagrun_run_after"])
    one_interval_on = datetime.fromisoformat(first["run_after"]) + timedelta(minutes=1)
    assert next_run == one_interval_on or one_interval_on < next_run <= read_at, (
        next_run,
        one_interval_on,
        read_at,
    )
    assert planned["next_dagrun_logical_date"] == planned["next_dagrun_run_after"]
