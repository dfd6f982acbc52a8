"""Compliance in a running Airflow: the asset a downstream DAG is scheduled on, and the
License consumption page in the UI (headless Chromium), on the demo's configurations."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from local_aws.seeding import DEMO_SEED_PATH, load_seed
from tests.airflow_home import ROOT
from tests.e2e.license_runs import (
    ARTIFACTS,
    DAG_ID,
    chromium_page,
    new_world,
    run_folder,
    sign_in,
    trigger,
)
from tests.support import World

DOWNSTREAM = "license_report_downstream"
PREFIX = "reports/"
DEMO = load_seed(DEMO_SEED_PATH)
(RHEL,) = [entry for entry in DEMO if entry["Name"] == "RHEL - Instance"]


def demo_statuses() -> list[str]:
    from license_manager.compliance import DEFAULT_ALERT_UTILIZATION_PERCENT, compliance_status

    return [
        compliance_status(
            e["ConsumedLicenses"], e.get("LicenseCount"), DEFAULT_ALERT_UTILIZATION_PERCENT
        )
        for e in DEMO
    ]


@pytest.fixture(scope="module")
def demo(local_aws_servers) -> World:
    """A bucket of its own and the demo's configurations (RHEL - Instance: 25 of 20)."""
    world = new_world(local_aws_servers)
    world.seed(*DEMO)
    return world


@pytest.fixture(scope="module")
def stack(airflow_stack, demo, tmp_path_factory):
    dags = tmp_path_factory.mktemp("compliance-dags")
    (dags / "license_tracking.py").symlink_to(ROOT / "dags" / "license_tracking.py")
    (dags / f"{DOWNSTREAM}.py").symlink_to(ROOT / "examples" / f"{DOWNSTREAM}.py")
    env = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        # The scheduler creates asset-triggered runs; license_tracking runs only when triggered.
        "LICENSE_TRACKING_SCHEDULE": "None",
        "AIRFLOW_VAR_LICENSE_CONFIG_ARNS": json.dumps([e["LicenseConfigurationArn"] for e in DEMO]),
        "AIRFLOW_VAR_LICENSE_REPORT_BUCKET": demo.bucket,
        "AIRFLOW_VAR_LICENSE_REPORT_PREFIX": PREFIX,
    }
    with airflow_stack("compliance", env) as stack:
        for dag_id in (DAG_ID, DOWNSTREAM):
            stack.wait_for_dag(dag_id)
            stack.api.patch(f"/dags/{dag_id}", json={"is_paused": False})
        yield stack


def wait_for_downstream(stack, count: int, timeout: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = stack.dag_runs(DOWNSTREAM)
        done = [run for run in runs if run["state"] in ("success", "failed")]
        if len(done) >= count:
            return sorted(done, key=lambda run: run["run_after"])
        time.sleep(1)
    raise AssertionError(f"{DOWNSTREAM} did not run {count} time(s): {stack.dag_runs(DOWNSTREAM)}")


def returned(stack, dag_id: str, run_id: str, task_id: str) -> Any:
    path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    return stack.api.get(path, params={"deserialize": True}).json()["value"]


@pytest.fixture(scope="module")
def two_runs(stack, demo) -> list[dict[str, Any]]:
    """RHEL at 22 of 20, then the demo's 25 of 20: the second run has a change of +3."""
    demo.seed({**RHEL, "ConsumedLicenses": 22})
    first = trigger(stack, {})
    demo.seed(RHEL)
    second = trigger(stack, {})
    return [first, second]


def test_a_dag_scheduled_on_the_asset_reads_the_report_folder(stack, demo, two_runs):
    assert [run["state"] for run in two_runs] == ["success", "success"]
    downstream = wait_for_downstream(stack, 2)

    assert [run["state"] for run in downstream] == ["success", "success"]
    folders = [
        returned(stack, DOWNSTREAM, run["dag_run_id"], "compliance_of_new_report")
        for run in downstream
    ]
    alerting = sum(status in ("NEAR_LIMIT", "AT_LIMIT", "OVER_LIMIT") for status in demo_statuses())
    assert alerting >= 1
    assert folders == [
        {"report_folder": f"s3://{demo.bucket}/{run_folder(run, PREFIX)}", "alerting": alerting}
        for run in two_runs
    ]


def test_the_page_refuses_requests_without_a_login(stack):
    for route in ("/", "/assets/page.js", "/api/report", "/download/manifest.json"):
        answer = httpx.get(f"{stack.url}/license-consumption{route}")
        assert answer.status_code in (401, 403), route
    token = {"Authorization": f"Bearer {stack.api.token()}"}
    assert (
        httpx.get(f"{stack.url}/license-consumption/api/report", headers=token).status_code == 200
    )


README_SCREENSHOT = ROOT / "docs" / "images" / "license-consumption.png"


def test_the_page_in_the_ui_shows_rhel_over_its_limit(stack, demo, two_runs):
    from playwright.sync_api import expect

    rhel_row = f'tr[data-arn="{RHEL["LicenseConfigurationArn"]}"]'
    with chromium_page(1500, 1000) as page:
        page.goto(f"{stack.url}/")
        sign_in(page, stack)
        page.goto(f"{stack.url}/plugin/license-consumption")
        frame = page.frame_locator("iframe")
        try:
            row = frame.locator(rhel_row)
            expect(row).to_be_visible(timeout=60_000)
            expect(row).to_have_attribute("data-status", "OVER_LIMIT")
            page.screenshot(path=ARTIFACTS / "license-consumption-all.png", full_page=True)
            page.screenshot(path=README_SCREENSHOT)  # the README's picture stays true
            frame.locator("#filter-status").select_option("OVER_LIMIT")
            page.wait_for_timeout(300)
        finally:
            page.screenshot(path=ARTIFACTS / "license-consumption-over.png", full_page=True)
        text = row.inner_text()
        run_text = frame.locator("#run").inner_text()
        shown = frame.locator("tbody tr").count()
        downloads = frame.locator("#downloads a").all_inner_texts()

    assert "RHEL - Instance" in text and "over limit" in text
    assert "25 / 20" in text and "125.00 %" in text and "+3" in text
    assert run_folder(two_runs[1], PREFIX).rstrip("/").rsplit("/", 1)[1] in run_text
    over = [e for e in DEMO if e.get("LicenseCount") and e["ConsumedLicenses"] > e["LicenseCount"]]
    assert shown == len(over)
    assert "license-consumption-summary.csv" in downloads
