"""Helpers for tests that run the license_tracking DAG through Airflow against the local AWS."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import runpy
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from local_aws.seeding import make_configuration
from tests.airflow_home import ROOT

DAG_FILE = ROOT / "dags" / "license_tracking.py"
#: moto's account: the owner of every bucket it creates.
MOTO_ACCOUNT = "123456789012"


def config_arn(
    region: str = "us-east-1", account: str = "111111111111", partition: str = "aws"
) -> str:
    return (
        f"arn:{partition}:license-manager:{region}:{account}:license-configuration:"
        f"lic-{uuid.uuid4().hex}"
    )


def fetch_label(name: str, arn: str) -> str:
    """The UI label of the fetch task of configuration ``arn`` named ``name``."""
    from license_manager.operators import configuration_label

    _, _, _, region, account, _ = arn.split(":", 5)
    return configuration_label(name, account, region)


@dataclass(frozen=True)
class TaskInstanceRow:
    """What the tests read of one task instance, kept after its database session is closed."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    rendered_map_index: str | None


def task_instances(dag_run, task_id: str | None = None) -> list[TaskInstanceRow]:
    """The run's task instances (of ``task_id`` only, when given), by task and map index."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    where = {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id}
    if task_id is not None:
        where["task_id"] = task_id
    with create_session() as session:
        rows = [
            TaskInstanceRow(
                ti.task_id, ti.map_index, ti.state, ti.try_number, ti.rendered_map_index
            )
            for ti in session.query(TaskInstance).filter_by(**where)
        ]
    return sorted(rows, key=lambda row: (row.task_id, row.map_index))


def mapped_labels(dag_run, task_id: str) -> list[str]:
    """The UI labels (``rendered_map_index``) of a run's mapped instances of ``task_id``, in
    map index order."""
    return [row.rendered_map_index for row in task_instances(dag_run, task_id)]


def table_keys(prefix: str, folder: str, collected_arns: list[str]) -> list[str]:
    """The keys of the tables for Athena that the report set in ``folder`` publishes: its
    consumption rows, and the usage rows of each collected configuration."""
    from license_manager.report_layout import consumption_table_key, usage_table_key

    timestamp = folder.rstrip("/").rsplit("/", 1)[1]
    return [
        consumption_table_key(prefix, timestamp),
        *(usage_table_key(prefix, timestamp, arn.rsplit(":", 1)[1]) for arn in collected_arns),
    ]


def load_dag():
    return runpy.run_path(str(DAG_FILE))["dag"]


@contextmanager
def airflow_variables(values: dict[str, Any]) -> Generator[None]:
    """Airflow Variables (``AIRFLOW_VAR_<NAME>``) set for the block, then as they were."""
    names = {f"AIRFLOW_VAR_{name.upper()}": value for name, value in values.items()}
    saved = {name: os.environ.get(name) for name in names}
    for name, value in names.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value if isinstance(value, str) else json.dumps(value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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

    def run(self, logical_date: datetime | None = None, **settings: Any):
        """Run the DAG once with ``settings``: the run settings as the trigger conf, the
        deployment settings (the bucket by default) as Airflow Variables for the run."""
        from license_manager.settings import DEPLOYMENT_SETTINGS

        settings.setdefault("license_report_bucket", self.bucket)
        if isinstance(settings.get("license_config_arns"), list | tuple):
            settings["license_config_arns"] = list(settings["license_config_arns"])
        deployment = {name: settings.pop(name) for name in DEPLOYMENT_SETTINGS if name in settings}
        with airflow_variables(deployment):
            return self.trigger(settings, logical_date)

    def trigger(self, conf: dict[str, Any], logical_date: datetime | None = None):
        """Run the DAG once with ``conf`` as its trigger conf, as given."""
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


def task_states(dag_run) -> dict[tuple[str, int], str | None]:
    return {(row.task_id, row.map_index): row.state for row in task_instances(dag_run)}


class AlertQueue:
    """An SNS topic with an SQS queue subscribed to it; every message received is kept."""

    def __init__(self, name: str | None = None) -> None:
        import boto3

        name = name or f"license-alerts-{uuid.uuid4().hex[:8]}"
        self.sns = boto3.client("sns", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.topic = self.sns.create_topic(Name=name)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self._received: list[tuple[str, str]] = []

    def received(self) -> list[tuple[str, str]]:
        """(subject, message) of every notification so far, oldest first."""
        answer = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            body = json.loads(message["Body"])
            self._received.append((body.get("Subject", ""), body["Message"]))
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return list(self._received)

    def messages(self) -> list[str]:
        """The message of every notification so far."""
        return [message for _, message in self.received()]
