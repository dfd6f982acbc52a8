"""The metadata database restarted mid-run (PostgreSQL topology).

A restart of the PostgreSQL server would disturb every other database on this machine's shared
server, so the test restarts the deployment's own database as its clients see a restart: every
connection to it is dropped ("terminating connection due to administrator command", what a
server shutdown sends), new connections are refused for a few seconds, then accepted again
(``CeleryTopology.restart_database``). This happens while fetch tasks run on the workers.

Components that exit on the lost connections are started again, as compose's
``restart: always`` does (``LocalAirflow.restart_always``); the test prints which ones. What
happens, as seen in the components' logs:

- the scheduler, the dag-processor and the triggerer exit (an ``OperationalError`` out of their
  loops) and are started again; the new scheduler marks the old one failed and adopts its
  Celery tasks at its first orphaned-task check after the old one missed its heartbeats for
  ``[scheduler] scheduler_health_check_threshold`` (``orphaned_tasks_check_interval`` 10 s and
  the threshold 15 s in these tests; with Airflow's defaults, 300 s and 30 s, a task the old
  scheduler had queued waited five minutes in one run);
- the api-server stays up: it answers 500 to the task processes while the database is down,
  and the Task SDK retries those calls; afterwards ``[database] sql_alchemy_pool_pre_ping``
  (on by default) replaces the pooled connections that were dropped;
- running fetch tasks finish;
- in some runs, a Celery worker that cannot record a task as started in the result backend
  (the metadata database) drops that task before it runs; the scheduler sends it again once it
  has been queued for ``[scheduler] task_queued_timeout`` (45 s in these tests, Airflow's
  default 600 s), and the run finishes that much later.

The run must end: either it succeeds and its report set is identical to an undisturbed run's
of the same configurations, with nothing left in staging, or it fails and its folder holds no
manifest. A manifest is never written over an incomplete set.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

import pytest

from tests.e2e.license_runs import run_folder
from tests.support import World, report_set
from tests.topology.test_celery_topology import (
    DAG,
    describe,
    fetches,
    seed,
    task_instances,
    trigger,
)

PREFIX = "restart/"
CONFIGURATIONS = 12
#: Each License Manager call waits this long: a fetch (two calls) runs for several seconds.
LATENCY_MS = 3000
#: How long new connections are refused while every open one is dropped.
DOWN_FOR = 6.0


@pytest.fixture
def restarting(topology) -> Iterator:
    """The topology with every component up, restarting any that exits; healthy afterwards."""
    topology.restart_dead_workers()
    topology.restart_always = True
    try:
        yield topology
    finally:
        topology.restart_always = False
        topology.restarts.clear()
        topology.wait_until_ready(180)


def assert_manifest_over_a_complete_set(world: World, folder: str) -> None:
    """Every file the manifest lists is there, as the manifest describes it, and nothing else
    is in the folder."""
    manifest = json.loads(world.read(folder + "manifest.json"))
    files = {file["key"]: file for file in manifest["files"]}
    assert sorted(world.keys(folder)) == sorted([*files, folder + "manifest.json"])
    for key, file in files.items():
        body = world.read(key)
        assert (len(body), hashlib.sha256(body).hexdigest()) == (file["bytes"], file["sha256"])


def test_a_metadata_database_restart_mid_run(restarting, topology_aws, s3, bucket):
    topology = restarting
    world = World(topology_aws, None, bucket, client=s3)
    arns = list(seed(topology_aws, CONFIGURATIONS))
    calm = topology.wait_for_run(DAG, trigger(topology, arns, bucket, PREFIX), timeout=300)
    assert calm["state"] == "success", describe(task_instances(topology, calm["dag_run_id"]))
    expected = report_set(world, run_folder(calm, PREFIX))
    assert len(expected) == CONFIGURATIONS + 3  # usage files, summary, manifest, its file list

    topology_aws.emulator.set_faults({"latency_ms": LATENCY_MS})
    try:
        run_id = trigger(topology, arns, bucket, PREFIX)

        def fetches_running() -> bool:
            running = [
                ti
                for ti in fetches(task_instances(topology, run_id)).values()
                if ti["state"] == "running"
            ]
            return len(running) >= 3

        topology.wait_for(fetches_running, "fetch tasks running", 180, interval=0.5)
        restarted_at = time.monotonic()
        dropped = topology.restart_database(down_for=DOWN_FOR)
        run = topology.wait_for_run(DAG, run_id, timeout=600)
        finished_in = time.monotonic() - restarted_at
    finally:
        topology_aws.emulator.clear_faults()

    folder = run_folder(run, PREFIX)
    print(
        f"{dropped} connections dropped; run {run['state']} {finished_in:.0f}s after the "
        f"restart; components restarted: {topology.restarts or 'none'}\n"
        + describe(task_instances(topology, run_id))
    )
    assert dropped > 0
    if run["state"] == "success":
        assert report_set(world, folder) == expected
        assert_manifest_over_a_complete_set(world, folder)
        assert world.keys(f"{PREFIX}_staging/") == []
    else:
        assert [key for key in world.keys(folder) if key.endswith("manifest.json")] == []
