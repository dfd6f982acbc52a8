"""What every scenario shares: the Result it returns, the bench (a running Airflow and the
local AWS) that the DAG-run scenarios drive, and the names and shapes they use."""

from __future__ import annotations

import json
import math
import urllib.parse
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from benchmarks.measure import (
    WorkloadLog,
    airflow_cpu_by_group,
    difference,
    other_threads_cpu_seconds,
    tasks_settled,
)
from local_aws.seeding import make_configuration

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "license_tracking"
NOOP_DAG_ID = "license_tracking_noop"
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
ACCOUNTS = ("111111111111", "222222222222")
PAGE = 100
#: The deployment settings the scenarios give: Airflow Variables, never a run's conf.
DEPLOYMENT_SETTINGS = ("license_report_bucket", "license_account_role_arn_template")


@dataclass
class Result:
    scenario: str
    knobs: dict[str, Any]
    figures: dict[str, Any]
    target: str
    holds: bool
    notes: list[str] = field(default_factory=list)


def config_arns(count: int, tag: str) -> list[str]:
    return [
        f"arn:aws:license-manager:{REGIONS[i % len(REGIONS)]}:{ACCOUNTS[i % len(ACCOUNTS)]}:"
        f"license-configuration:lic-{uuid.uuid5(uuid.NAMESPACE_URL, f'{tag}-{i}').hex}"
        for i in range(count)
    ]


def minimum_calls(sizes: list[int]) -> dict[str, int]:
    """One GetLicenseConfiguration per ARN and one usage call per page the emulator serves."""
    return {
        "GetLicenseConfiguration": len(sizes),
        "ListUsageForLicenseConfiguration": sum(max(1, math.ceil(n / PAGE)) for n in sizes),
    }


class Bench:
    """The local AWS and a running Airflow stack shared by the scenarios."""

    def __init__(self, servers, stack) -> None:
        self.servers = servers
        self.stack = stack
        self._workload_log = WorkloadLog(stack.logs / "airflow-scheduler.log")
        self.s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=servers.moto_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def seed(self, arns: list[str], sizes: list[int]) -> None:
        self.servers.emulator.reset()
        self.servers.emulator.seed(
            [make_configuration(arn, usage_count=n) for arn, n in zip(arns, sizes, strict=True)]
        )

    def run(
        self,
        dag_id: str,
        arns: list[str],
        timeout: float = 3600,
        *,
        measure_cpu: bool = False,
        conf: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Trigger a run through the REST API with its own bucket; wait for it to finish.

        ``conf`` adds to the run's conf (``license_config_arns`` and the bucket). With
        ``measure_cpu``, ``cpu_seconds`` holds the CPU-seconds each process group used
        from the trigger until the run's last task process has ended (``cpu_seconds``).
        """
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=bucket)
        conf = {"license_config_arns": arns, "license_report_bucket": bucket, **(conf or {})}
        conf = self.set_deployment_variables(conf)
        before = self.cpu_seconds() if measure_cpu else None
        run = self.stack.api.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        ).json()
        run = self.stack.wait_for_run(dag_id, run["dag_run_id"], timeout=timeout)
        if before is not None:
            self.stack.wait_for(
                lambda: tasks_settled(self.stack.processes.cpu()),
                "the run's task processes to end",
                timeout=120,
                interval=0.2,
            )
            run["cpu_seconds"] = difference(self.cpu_seconds(), before)
        run["bucket"] = bucket
        run["seconds"] = (
            datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])
        ).total_seconds()
        return run

    def set_deployment_variables(self, conf: dict[str, Any]) -> dict[str, Any]:
        """The conf without its deployment settings, which a run's conf may not name: each
        is set as the Airflow Variable of its name instead (unset when the conf lacks it)."""
        for name in DEPLOYMENT_SETTINGS:
            value = conf.get(name)
            self.stack.api.set_variable(
                name, value if isinstance(value, str | None) else json.dumps(value)
            )
        return {name: value for name, value in conf.items() if name not in DEPLOYMENT_SETTINGS}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU-seconds so far of each Airflow process group and of the local AWS."""
        return {
            **airflow_cpu_by_group(self.stack.processes.cpu()),
            "local_aws": other_threads_cpu_seconds(),
        }

    def manifest(self, bucket: str) -> dict[str, Any]:
        """The run's manifest.json, wherever it is among the bucket's keys (every page)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        (key,) = [key for key in keys if key.endswith("/manifest.json")]
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def usage_rows_and_duplicates(self, bucket: str) -> tuple[int, int]:
        """Data rows in every usage file, read back from S3, and how many repeat a resource."""
        rows = duplicates = 0
        for file in self.manifest(bucket)["files"][1:]:
            body = self.s3.get_object(Bucket=bucket, Key=file["key"])["Body"]
            seen: set[bytes] = set()
            for line in body.iter_lines():
                if line.startswith(b"LicenseConfigurationArn,"):
                    continue
                resource = line.split(b",")[1]
                duplicates += resource in seen
                seen.add(resource)
                rows += 1
        return rows, duplicates

    def task_seconds(self, dag_id: str, run_id: str, task_id: str) -> float | None:
        """The duration of one unmapped task instance of the run, as the REST API reports it."""
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return self.stack.api.get(f"{path}/{task_id}").json()["duration"]

    def task_ids(self, run_id: str, dag_id: str = DAG_ID) -> dict[str, str]:
        """Task instance id -> task id, for every instance of the run."""
        return {ti["id"]: ti["task_id"] for ti in self.task_instances(run_id, dag_id)}

    def workloads_finished(self) -> dict[str, datetime]:
        """Task instance id -> when its executor worker was done with it (the scheduler's log
        holds the LocalExecutor workers' output)."""
        return self._workload_log.read()

    def task_instances(self, run_id: str, dag_id: str = DAG_ID) -> list[dict[str, Any]]:
        """Every task instance of the run as the REST API reports it (paged)."""
        instances: list[dict[str, Any]] = []
        while True:
            page = self.stack.api.get(
                f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances",
                params={"limit": 100, "offset": len(instances)},
            ).json()
            instances += page["task_instances"]
            if not page["task_instances"] or len(instances) >= page["total_entries"]:
                return instances
