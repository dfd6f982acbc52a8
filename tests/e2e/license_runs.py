"""What the e2e tests share about license_tracking runs: starting them, finding their reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from local_airflow import LightAirflow
from tests.support import World

DAG_ID = "license_tracking"
FETCH = "fetch_license_configuration"


def new_world(servers: Any) -> World:
    """A fresh bucket on the local S3, read back with the dag.test suite's helpers."""
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    return World(servers, None, bucket)


def trigger(stack: LightAirflow, conf: dict[str, Any]) -> dict[str, Any]:
    """Trigger a run through the REST API, as the trigger form does; wait for it to finish."""
    return stack.wait_for_run(DAG_ID, stack.trigger(DAG_ID, conf)["dag_run_id"])


def run_folder(run: dict[str, Any], prefix: str = "") -> str:
    """The report folder of a run: its logical date, or when it was triggered without one."""
    moment = datetime.fromisoformat(run["logical_date"] or run["run_after"]).astimezone(UTC)
    return f"{prefix}{moment:%Y/%m/%d}/{moment:%Y%m%dT%H%M%SZ}/"


def usage_key(folder: str, arn: str) -> str:
    return f"{folder}{arn.rsplit(':', 1)[1]}-usage.csv"


def sign_in(page: Any, stack: Any) -> None:
    """Sign in on the login page the browser shows, and return once its redirect has finished:
    a navigation started before would be aborted by it."""
    page.get_by_label("Username").fill(stack.username)
    page.get_by_label("Password").fill(stack.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/" not in url and "login" not in url)
    page.wait_for_load_state("networkidle")
