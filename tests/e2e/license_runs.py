"""What the e2e tests share about license_tracking runs: starting them, finding their reports."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import boto3

from local_airflow import LightAirflow
from tests.airflow_home import ROOT
from tests.support import World

DAG_ID = "license_tracking"
FETCH = "fetch_license_configuration"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's; see `make browser`
ARTIFACTS = ROOT / "test-artifacts"  # the UI tests' screenshots
_BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def new_world(servers: Any) -> World:
    """A fresh bucket on the local S3, read back with the dag.test suite's helpers."""
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    return World(servers, None, bucket)


def trigger(stack: LightAirflow, settings: dict[str, Any]) -> dict[str, Any]:
    """Trigger a run through the REST API, as the trigger form does; wait for it to finish.

    The run settings of ``settings`` go in the trigger conf; its deployment settings are set
    as the stack's Variables for the run, as an administrator would.
    """
    conf, deployment = split_settings(settings)
    with stack_variables(stack, deployment):
        return stack.wait_for_run(DAG_ID, stack.trigger(DAG_ID, conf)["dag_run_id"])


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The run settings (a trigger conf) and the deployment settings (Variables) of ``settings``."""
    from license_manager.settings import DEPLOYMENT_SETTINGS

    deployment = {name: value for name, value in settings.items() if name in DEPLOYMENT_SETTINGS}
    return {name: v for name, v in settings.items() if name not in deployment}, deployment


@contextmanager
def stack_variables(stack: LightAirflow, values: dict[str, Any]) -> Generator[None]:
    """The stack's Variables (in its metadata database) set to ``values``, then as they were."""
    saved = {key: stack.api.variable(key) for key in values}
    for key, value in values.items():
        stack.api.set_variable(key, value if isinstance(value, str | None) else json.dumps(value))
    try:
        yield
    finally:
        for key, value in saved.items():
            stack.api.set_variable(key, value)


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


@contextmanager
def chromium_page(width: int, height: int) -> Generator[Any]:
    """A page of headless Chromium; the screenshot folder ``ARTIFACTS`` exists."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=_BROWSER_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
