"""Helpers for tests that run the license_tracking DAG through Airflow against the local AWS."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import runpy
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_aws.seeding import make_configuration
from tests.conftest import ROOT

DAG_FILE = ROOT / "dags" / "license_tracking.py"


def config_arn(
    region: str = "us-east-1", account: str = "111111111111", partition: str = "aws"
) -> str:
    return (
        f"arn:{partition}:license-manager:{region}:{account}:license-configuration:"
        f"lic-{uuid.uuid4().hex}"
    )


def load_dag():
    return runpy.run_path(str(DAG_FILE))["dag"]


@dataclass
class World:
    """One test's view of the local AWS: a fresh bucket, the emulator, and the DAG."""

    servers: Any
    dag: Any
    bucket: str
    #: An S3 client of the servers' moto; by default one from the environment, which the
    #: session's fixtures point at moto.
    client: Any = None

    @property
    def emulator(self):
        return self.servers.emulator

    @property
    def s3(self):
        import boto3

        return self.client or boto3.client("s3", region_name="us-east-1")

    def seed(self, *configurations: dict[str, Any]) -> list[str]:
        self.emulator.seed(list(configurations), replace=False)
        return [configuration["LicenseConfigurationArn"] for configuration in configurations]

    def add(self, arn: str | None = None, **kwargs: Any) -> str:
        (added,) = self.seed(make_configuration(arn or config_arn(), **kwargs))
        return added

    def run(self, logical_date: datetime | None = None, **conf: Any):
        conf.setdefault("license_report_bucket", self.bucket)
        if isinstance(conf.get("license_config_arns"), list | tuple):
            conf["license_config_arns"] = list(conf["license_config_arns"])
        return self.dag.test(run_conf=conf, logical_date=logical_date)

    def keys(self, prefix: str = "") -> list[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def read_csv(self, key: str) -> list[list[str]]:
        return list(csv.reader(io.StringIO(self.read(key).decode("utf-8"), newline="")))

    def read_dicts(self, key: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.read(key).decode("utf-8"), newline="")))

    def manifest_key(self) -> str:
        (key,) = [key for key in self.keys() if key.endswith("/manifest.json")]
        return key

    def manifest(self) -> dict[str, Any]:
        return json.loads(self.read(self.manifest_key()))

    def folder(self) -> str:
        return self.manifest_key().rsplit("/", 1)[0] + "/"

    def summary(self) -> list[dict[str, str]]:
        return self.read_dicts(self.folder() + "license-consumption-summary.csv")

    def snapshot(self) -> dict[str, str]:
        """Every object's key and sha256."""
        return {key: hashlib.sha256(self.read(key)).hexdigest() for key in self.keys()}


#: Summary columns that differ between two runs of the same configurations.
PER_RUN_COLUMNS = ("CollectedAt", "PreviousConsumedLicenses", "ConsumedLicensesChange")
#: Manifest fields that differ between two runs of the same configurations.
PER_RUN_MANIFEST_FIELDS = (
    "run_id",
    "run_timestamp",
    "collected_at",
    "folder",
    "files",
    "previous_folder",
)


def report_set(world: World, folder: str) -> dict[str, Any]:
    """The report files of the run folder ``folder`` by name, without what differs between runs
    (IDs, times, folder, and the comparison with the previous report set): two runs of the same
    configurations that both went well have equal report sets."""
    view: dict[str, Any] = {}
    for key in world.keys(folder):
        name = key.removeprefix(folder)
        if name == "license-consumption-summary.csv":
            view[name] = [
                {**row, **dict.fromkeys(PER_RUN_COLUMNS)} for row in world.read_dicts(key)
            ]
        elif name == "manifest.json":
            manifest = json.loads(world.read(key))
            view[name] = {k: v for k, v in manifest.items() if k not in PER_RUN_MANIFEST_FIELDS}
            view["files"] = [(f["key"].removeprefix(folder), f["rows"]) for f in manifest["files"]]
        else:
            view[name] = world.read(key)
    return view


def task_states(dag_run) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = session.query(TaskInstance).filter_by(
            dag_id=dag_run.dag_id, run_id=dag_run.run_id
        )
        return {(ti.task_id, ti.map_index): ti.state for ti in instances}
