"""Operating license_tracking in a running Airflow: trigger, backfill, retries, alerts, the UI.

The package's stack (conftest.py): every run in it is one a test started.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from local_airflow import LightAirflow
from tests.e2e.license_runs import (
    ARTIFACTS,
    DAG_ID,
    FETCH,
    chromium_page,
    run_folder,
    sign_in,
    stack_variables,
    trigger,
    usage_key,
)
from tests.support import fetch_label, table_keys

TRIGGERED_NAMES = ["Windows Server Datacenter", "SQL Server Enterprise", "Oracle Database EE"]


@pytest.fixture(scope="module")
def triggered(stack, variables) -> tuple[list[str], dict[str, Any]]:
    """A finished run triggered with three ARNs that are not the Variable's.

    Only the ARNs and a prefix are given: the bucket comes from the Variable.
    """
    world, _ = variables
    arns = [
        world.add(name=name, usage_count=count)
        for name, count in zip(TRIGGERED_NAMES, (3, 120, 0), strict=True)
    ]
    run = trigger(stack, {"license_config_arns": arns, "license_report_prefix": "adhoc/"})
    return arns, run


def test_triggered_run_reports_exactly_the_triggered_arns(stack, triggered, variables):
    arns, run = triggered
    world, variable_arn = variables

    assert run["state"] == "success"
    assert run["conf"]["license_config_arns"] == arns
    folder = run_folder(run, "adhoc/")
    assert sorted(world.keys()) == sorted(
        [
            f"{folder}license-consumption-summary.csv",
            f"{folder}manifest.json",
            *(usage_key(folder, arn) for arn in arns),
            *table_keys("adhoc/", folder, arns),
        ]
    )
    manifest = json.loads(world.read(f"{folder}manifest.json"))
    assert manifest["run_id"] == run["dag_run_id"]
    assert [(c["arn"], c["status"]) for c in manifest["configurations"]] == [
        (arn, "ok") for arn in arns
    ]
    assert [c["usage_records"] for c in manifest["configurations"]] == [3, 120, 0]
    summary = world.read_dicts(f"{folder}license-consumption-summary.csv")
    assert [row["Name"] for row in summary] == TRIGGERED_NAMES
    assert variable_arn not in world.read(f"{folder}manifest.json").decode()

    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    assert {key: ti["state"] for key, ti in instances.items()} == {
        ("resolve_settings", -1): "success",
        ("discover_license_configurations", -1): "skipped",  # no discovery settings
        ("merge_configurations", -1): "success",
        (FETCH, 0): "success",
        (FETCH, 1): "success",
        (FETCH, 2): "success",
        ("write_report", -1): "success",
        ("check_collection", -1): "success",
        ("compliance_alert", -1): "success",
    }
    assert {ti["try_number"] for ti in instances.values() if ti["state"] != "skipped"} == {1}
    assert [instances[(FETCH, i)]["rendered_map_index"] for i in range(3)] == [
        fetch_label(name, arn) for name, arn in zip(TRIGGERED_NAMES, arns, strict=True)
    ]


def create_backfill(stack: LightAirflow, *args: str) -> subprocess.CompletedProcess[str]:
    """``airflow backfill create``, run again when SQLite refused its write.

    On SQLite a write that races the scheduler's can fail at once with "database is locked";
    Airflow then removes the partial backfill, so that the same command can be run again.
    """
    for _ in range(5):
        created = stack.cli("backfill", "create", *args)
        if created.returncode == 0 or "database is locked" not in created.stdout + created.stderr:
            break
        time.sleep(2)
    return created


def test_backfill_writes_one_report_per_day(stack, reports):
    arns = [reports.add(name="Backfilled", usage_count=5), reports.add(usage_count=1)]
    conf = {"license_config_arns": arns}

    with stack_variables(stack, {"license_report_bucket": reports.bucket}):
        created = create_backfill(
            stack,
            "--dag-id",
            DAG_ID,
            "--from-date",
            "2026-03-01",
            "--to-date",
            "2026-03-03",
            "--dag-run-conf",
            json.dumps(conf),
        )

        assert created.returncode == 0, created.stdout + created.stderr
        backfill_runs = stack.wait_for(
            lambda: len(runs := stack.dag_runs(DAG_ID, run_type="backfill")) == 3 and runs,
            "the backfill's three runs",
        )
        finished = [stack.wait_for_run(DAG_ID, run["dag_run_id"]) for run in backfill_runs]
    assert [run["state"] for run in finished] == ["success"] * 3
    assert sorted(run["logical_date"][:10] for run in finished) == [
        "2026-03-01",
        "2026-03-02",
        "2026-03-03",
    ]
    manifests = sorted(key for key in reports.keys() if key.endswith("/manifest.json"))
    assert manifests == [
        "2026/03/01/20260301T000000Z/manifest.json",
        "2026/03/02/20260302T000000Z/manifest.json",
        "2026/03/03/20260303T000000Z/manifest.json",
    ]
    for run in finished:
        folder = run_folder(run)
        manifest = json.loads(reports.read(f"{folder}manifest.json"))
        assert manifest["run_id"] == run["dag_run_id"]
        assert [c["usage_records"] for c in manifest["configurations"]] == [5, 1]
        assert set(reports.keys(folder)) == {
            f"{folder}license-consumption-summary.csv",
            f"{folder}manifest.json",
            *(usage_key(folder, arn) for arn in arns),
        }
        instances = stack.task_instances(DAG_ID, run["dag_run_id"])
        assert instances.pop(("discover_license_configurations", -1))["state"] == "skipped"
        assert {(ti["state"], ti["try_number"]) for ti in instances.values()} == {("success", 1)}
        assert len(instances) == 7  # resolve, merge, 2 fetches, write, check, compliance alert
    assert reports.keys("_staging/") == []


def test_failures_past_the_in_task_backoff_are_retried_by_airflow(stack, reports):
    flaky = reports.add(name="Flaky endpoint", usage_count=150)
    steady = reports.add(name="Steady endpoint", usage_count=4)
    # The hook tries each call 6 times. A try asks for the details and the usage side by side,
    # and both draw on the ARN's failure budget: 12 failures are 6 for each, so the first try
    # fails and Airflow's second try gets every answer at once.
    reports.emulator.set_faults(
        {"fail_then_succeed": {flaky: {"failures": 12, "error": "ServerInternalException"}}}
    )

    run = trigger(
        stack, {"license_config_arns": [flaky, steady], "license_report_bucket": reports.bucket}
    )

    assert run["state"] == "success"
    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    assert (instances[(FETCH, 0)]["state"], instances[(FETCH, 0)]["try_number"]) == ("success", 2)
    assert (instances[(FETCH, 1)]["state"], instances[(FETCH, 1)]["try_number"]) == ("success", 1)
    tries = stack.api.get(
        f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/{FETCH}/0/tries"
    ).json()["task_instances"]
    assert [(t["try_number"], t["state"]) for t in tries][-1] == (2, "success")
    assert len(tries) == 2
    # 6 failed calls of each in the first try, then the answers in the second
    assert reports.emulator.call_count("GetLicenseConfiguration", flaky) == 6 + 1
    assert reports.emulator.call_count("ListUsageForLicenseConfiguration", flaky) == 6 + 2

    folder = run_folder(run)
    manifest = json.loads(reports.read(f"{folder}manifest.json"))
    assert [(c["status"], c["usage_records"]) for c in manifest["configurations"]] == [
        ("ok", 150),
        ("ok", 4),
    ]
    rows = reports.read_dicts(usage_key(folder, flaky))
    assert len(rows) == 150
    assert len({row["ResourceArn"] for row in rows}) == 150
    summary = {row["LicenseConfigurationArn"]: row for row in reports.summary()}
    assert summary[flaky]["Error"] == "" and summary[flaky]["UsageRecordCount"] == "150"


def test_denied_configuration_fails_the_run_and_alerts_by_sns(stack, reports, alert_queue):
    topic, messages = alert_queue
    allowed = reports.add(name="Allowed", usage_count=7)
    denied = reports.add(name="Denied", usage_count=3)
    reports.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})

    run = trigger(
        stack,
        {
            "license_config_arns": [allowed, denied],
            "license_report_bucket": reports.bucket,
            "license_alert_sns_topic_arn": topic,
        },
    )

    assert run["state"] == "failed"
    folder = run_folder(run)
    assert set(reports.keys()) == {
        f"{folder}license-consumption-summary.csv",
        f"{folder}manifest.json",
        usage_key(folder, allowed),
        *table_keys("", folder, [allowed]),
    }
    assert len(reports.read_dicts(usage_key(folder, allowed))) == 7
    statuses = {c["arn"]: c["status"] for c in reports.manifest()["configurations"]}
    assert statuses == {allowed: "ok", denied: "failed"}
    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    assert instances.pop(("discover_license_configurations", -1))["state"] == "skipped"
    assert {key: (ti["state"], ti["try_number"]) for key, ti in instances.items()} == {
        ("resolve_settings", -1): ("success", 1),
        ("merge_configurations", -1): ("success", 1),
        (FETCH, 0): ("success", 1),
        (FETCH, 1): ("failed", 1),  # a permanent error is not retried
        ("write_report", -1): ("success", 1),
        ("check_collection", -1): ("failed", 1),
        ("compliance_alert", -1): ("success", 1),
    }

    alerts = stack.wait_for(
        lambda: len(found := messages()) >= 2 and found, "two SNS alerts", timeout=60
    )
    fetch_alert = next(m for m in alerts if f"Task: {FETCH}" in m)
    assert f"Run: {run['dag_run_id']}" in fetch_alert
    assert f"Configuration: {denied}" in fetch_alert
    assert "AccessDeniedException" in fetch_alert
    verdict_alert = next(m for m in alerts if "Task: check_collection" in m)
    assert f"Run: {run['dag_run_id']}" in verdict_alert and denied in verdict_alert
    assert len(alerts) == 2


def test_ui_shows_mapped_instances_by_configuration_name(stack, triggered, variables):
    from playwright.sync_api import expect

    arns, run = triggered
    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    fetched = [instances[(FETCH, index)] for index in range(3)]
    assert [(ti["state"], ti["try_number"]) for ti in fetched] == [("success", 1)] * 3
    labels = [ti["rendered_map_index"] for ti in fetched]
    assert labels == [
        fetch_label(name, arn) for name, arn in zip(TRIGGERED_NAMES, arns, strict=True)
    ]
    world, _ = variables
    assert world.keys(run_folder(run, "adhoc/") + "manifest.json")
    with chromium_page(1400, 900) as page:
        page.goto(f"{stack.url}/dags/{DAG_ID}/runs/{run['dag_run_id']}/tasks/{FETCH}/mapped")
        sign_in(page, stack)
        try:
            for name in labels:
                expect(page.get_by_role("link", name=name)).to_be_visible(timeout=60_000)
        finally:
            page.screenshot(path=ARTIFACTS / "mapped-instances.png", full_page=True)
        text = page.locator("body").inner_text()
        rows = page.get_by_role("row").all_inner_texts()

    assert DAG_ID in text and run["dag_run_id"] in text
    # the grid, with every task of the DAG, next to the mapped task's instances
    assert all(task in text for task in ("resolve_settings", "write_report", "check_collection"))
    assert f"{FETCH} [3]" in text and "3 Task Instances" in text
    for name in labels:
        (row,) = [row for row in rows if name in row]
        assert "Success" in row
