"""The license_tracking DAG on the native copy of the compose topology: CeleryExecutor with
two workers, PostgreSQL, Redis, api-server, scheduler, dag-processor and triggerer, against the
local AWS servers. Runs are triggered and read back through the REST API, reports from S3."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections import Counter

import pytest

from local_aws.seeding import make_configuration
from tests.support import config_arn, table_keys

DAG = "license_tracking"
FETCH = "fetch_license_configuration"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2")


@pytest.fixture
def both_workers(topology):
    topology.restart_dead_workers()
    return topology


def seed(topology_aws, count: int) -> dict[str, int]:
    """``count`` configurations in four Regions with 1 to 5 usage records; ARN -> records."""
    configurations = [
        make_configuration(
            config_arn(REGIONS[index % len(REGIONS)]),
            name=f"topology-{index:02d}",
            usage_count=1 + index % 5,
        )
        for index in range(count)
    ]
    topology_aws.emulator.seed(configurations, replace=False)
    return {c["LicenseConfigurationArn"]: c["usage_count"] for c in configurations}


def trigger(topology, arns: list[str], bucket: str, prefix: str) -> str:
    """Start a run into ``bucket``: a deployment setting, so the Variable is set first (each
    test has a bucket of its own and starts its runs one after another)."""
    topology.api.set_variable("license_report_bucket", bucket)
    conf = {"license_config_arns": arns, "license_report_prefix": prefix}
    return topology.trigger(DAG, conf)["dag_run_id"]


def wait_for_run(topology, run_id: str, timeout: float) -> str:
    return topology.wait_for_run(DAG, run_id, timeout)["state"]


def task_instances(topology, run_id: str) -> list[dict]:
    return list(topology.task_instances(DAG, run_id).values())


def fetches(instances: list[dict]) -> dict[int, dict]:
    return {ti["map_index"]: ti for ti in instances if ti["task_id"] == FETCH}


def describe(instances: list[dict]) -> str:
    return "\n".join(
        f"{ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']} "
        f"on {ti['hostname']}"
        for ti in sorted(instances, key=lambda ti: (ti["task_id"], ti["map_index"]))
    )


def assert_report_complete(s3, bucket: str, prefix: str, expected: dict[str, int]) -> None:
    """One report set holding every ARN, every file as the manifest describes it."""
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    ]
    (manifest_key,) = [key for key in keys if key.endswith("/manifest.json")]
    assert manifest_key.startswith(prefix)
    folder = manifest_key.rsplit("/", 1)[0] + "/"
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert [(c["arn"], c["status"], c["usage_records"]) for c in manifest["configurations"]] == [
        (arn, "ok", records) for arn, records in expected.items()
    ]
    files = {file["key"]: file for file in manifest["files"]}
    tables = table_keys(prefix, folder, list(expected))
    assert sorted(keys) == sorted([*files, manifest_key, *tables])  # nothing staged or stray
    assert len(files) == 1 + len(expected)
    for key, file in files.items():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert (len(body), hashlib.sha256(body).hexdigest()) == (file["bytes"], file["sha256"])
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        assert len(rows) - 1 == file["rows"], key
    summary = files[folder + "license-consumption-summary.csv"]
    assert summary["rows"] == len(expected)


def ran(instances: list[dict]) -> list[dict]:
    """The task instances that ran: discovery is skipped when no Regions are given."""
    return [ti for ti in instances if ti["task_id"] != "discover_license_configurations"]


def test_forty_configurations_run_on_both_workers(both_workers, topology_aws, s3, bucket):
    topology = both_workers
    expected = seed(topology_aws, 40)

    run_id = trigger(topology, list(expected), bucket, "forty/")
    state = wait_for_run(topology, run_id, timeout=300)

    instances = task_instances(topology, run_id)
    assert state == "success", describe(instances)
    mapped = fetches(instances)
    assert sorted(mapped) == list(range(40))
    assert {ti["state"] for ti in ran(instances)} == {"success"}
    hosts = Counter(ti["hostname"] for ti in mapped.values())
    assert set(hosts) == set(topology.workers), hosts
    assert_report_complete(s3, bucket, "forty/", expected)


def test_a_killed_worker_s_tasks_retry_on_the_other(both_workers, topology_aws, s3, bucket):
    topology = both_workers
    expected = seed(topology_aws, 40)
    # Two License Manager calls per configuration, 1.5 s each: tasks run for seconds.
    topology_aws.emulator.set_faults({"latency_ms": 1500})
    victim, survivor = topology.workers[1], topology.workers[0]
    try:
        run_id = trigger(topology, list(expected), bucket, "killed/")

        def running_on_victim():
            running = [
                ti
                for ti in fetches(task_instances(topology, run_id)).values()
                if ti["state"] == "running" and ti["hostname"] == victim
            ]
            return len(running) >= 2

        topology.wait_for(running_on_victim, f"tasks running on {victim}", 120, interval=0.5)
        topology.kill_worker(victim)
        killed_at = time.monotonic()
        # Whatever still shows as running on the victim now has lost its process.
        killed = {
            index
            for index, ti in fetches(task_instances(topology, run_id)).items()
            if ti["state"] == "running" and ti["hostname"] == victim
        }
        assert killed

        state = wait_for_run(topology, run_id, timeout=300)
        recovered_in = time.monotonic() - killed_at
    finally:
        topology_aws.emulator.clear_faults()

    instances = task_instances(topology, run_id)
    assert state == "success", describe(instances)
    mapped = fetches(instances)
    assert sorted(mapped) == list(range(40))
    assert {ti["state"] for ti in ran(instances)} == {"success"}
    for index in killed:
        ti = mapped[index]
        assert ti["try_number"] >= 2, describe(instances)
        assert ti["hostname"] == survivor, describe(instances)
    assert_report_complete(s3, bucket, "killed/", expected)
    print(f"{len(killed)} killed tasks retried; run finished {recovered_in:.0f}s after the kill")
