"""The license_tracking DAG run through Airflow (dag.test) against the emulator and moto."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime

import pytest
from license_manager.csv_schema import SUMMARY_COLUMNS, USAGE_COLUMNS

from tests.support import config_arn, fetch_label, mapped_labels, task_states

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_every_usage_record_of_every_page_arrives_once(world):
    arn = world.add(name="Windows fleet", usage_count=257)
    small = world.add(name="No usage", usage_count=0)

    dag_run = world.run(license_config_arns=[arn, small])

    assert dag_run.state == "success"
    folder = world.folder()
    rows = world.read_dicts(f"{folder}{arn.rsplit(':', 1)[1]}-usage.csv")
    assert len(rows) == 257
    assert len({row["ResourceArn"] for row in rows}) == 257
    assert {row["LicenseConfigurationArn"] for row in rows} == {arn}
    # one GetLicenseConfiguration, three pages of at most 100
    assert world.emulator.call_count("ListUsageForLicenseConfiguration", arn) == 3
    assert world.emulator.call_count("GetLicenseConfiguration", arn) == 1
    empty = world.read_csv(f"{folder}{small.rsplit(':', 1)[1]}-usage.csv")
    assert empty == [list(USAGE_COLUMNS)]
    summary = {row["LicenseConfigurationArn"]: row for row in world.summary()}
    assert summary[arn]["UsageRecordCount"] == "257"
    assert summary[small]["UsageRecordCount"] == "0"


def test_a_fetch_task_asks_for_details_and_usage_side_by_side(world, monkeypatch):
    from license_manager.hooks import LicenseManagerHook

    arn = world.add(name="Side by side", usage_count=3)
    usage_asked = threading.Event()
    details_waited_for_usage = []
    get_details, get_usage_page = (
        LicenseManagerHook.get_license_configuration,
        LicenseManagerHook.get_usage_page,
    )

    def details_once_usage_is_asked(self, arn):
        # Asked one after the other, the details would come first and wait here in vain.
        details_waited_for_usage.append(usage_asked.wait(timeout=10))
        return get_details(self, arn)

    def usage_page(self, *args, **kwargs):
        usage_asked.set()
        return get_usage_page(self, *args, **kwargs)

    monkeypatch.setattr(
        LicenseManagerHook, "get_license_configuration", details_once_usage_is_asked
    )
    monkeypatch.setattr(LicenseManagerHook, "get_usage_page", usage_page)

    dag_run = world.run(license_config_arns=[arn])

    assert dag_run.state == "success"
    assert details_waited_for_usage == [True]
    assert mapped_labels(dag_run, "fetch_license_configuration") == [
        fetch_label("Side by side", arn)
    ]
    assert [(row["Name"], row["UsageRecordCount"]) for row in world.summary()] == [
        ("Side by side", "3")
    ]


def test_three_regions_and_two_partitions_in_one_run(world):
    arns = [
        world.add(config_arn("us-east-1", "111111111111"), usage_count=3),
        world.add(config_arn("eu-west-1", "222222222222"), usage_count=4),
        world.add(config_arn("ap-southeast-2", "111111111111"), usage_count=5),
        world.add(config_arn("cn-north-1", "222222222222", partition="aws-cn"), usage_count=6),
    ]

    dag_run = world.run(license_config_arns=arns)

    assert dag_run.state == "success"
    manifest = world.manifest()
    assert [(c["arn"], c["status"], c["usage_records"]) for c in manifest["configurations"]] == [
        (arn, "ok", count) for arn, count in zip(arns, (3, 4, 5, 6), strict=True)
    ]
    # The emulator only answers for a configuration at its own Region's endpoint.
    assert [c["region"] for c in manifest["configurations"]] == [
        "us-east-1",
        "eu-west-1",
        "ap-southeast-2",
        "cn-north-1",
    ]
    assert [row["Region"] for row in world.summary()] == [
        c["region"] for c in manifest["configurations"]
    ]
    states = task_states(dag_run)
    assert [states[("fetch_license_configuration", index)] for index in range(4)] == ["success"] * 4
    # Mapped instances are labelled with the configuration's name, account and Region.
    assert mapped_labels(dag_run, "fetch_license_configuration") == [
        fetch_label(row["Name"], row["LicenseConfigurationArn"]) for row in world.summary()
    ]


def test_throttled_configuration_still_completes(world):
    arn = world.add(usage_count=150)
    world.emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 3, "error": "RateLimitExceededException"}}}
    )

    dag_run = world.run(license_config_arns=arn)

    assert dag_run.state == "success"
    assert world.manifest()["configurations"][0]["usage_records"] == 150
    minimum = 1 + 2  # one GetLicenseConfiguration, two usage pages
    assert world.emulator.call_count(arn=arn) == minimum + 3


def test_denied_and_malformed_arns_are_reported_and_fail_the_run(world):
    good = world.add(name="Good", usage_count=12)
    denied = world.add(name="Denied", usage_count=5)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    malformed = "arn:aws:ec2:us-east-1:111111111111:instance/i-0123"

    dag_run = world.run(license_config_arns=[good, denied, malformed])

    assert dag_run.state == "failed"
    folder = world.folder()
    good_id = good.rsplit(":", 1)[1]
    assert set(world.keys(folder)) == {
        f"{folder}license-consumption-summary.csv",
        f"{folder}{good_id}-usage.csv",
        f"{folder}manifest.json",
    }
    summary = {row["LicenseConfigurationArn"]: row for row in world.summary()}
    assert summary[good]["Error"] == "" and summary[good]["UsageRecordCount"] == "12"
    assert summary[denied]["Error"].startswith("AccessDeniedException")
    assert summary[denied]["UsageFile"] == ""
    assert "service is 'ec2'" in summary[malformed]["Error"]
    statuses = {c["arn"]: c["status"] for c in world.manifest()["configurations"]}
    assert statuses == {good: "ok", denied: "failed", malformed: "invalid"}
    states = task_states(dag_run)
    assert states[("write_report", -1)] == "success"
    assert states[("check_collection", -1)] == "failed"
    assert sorted(states[("fetch_license_configuration", i)] for i in range(2)) == [
        "failed",
        "success",
    ]
    assert world.keys("_staging/") == []


TS = re.compile(r"^\d{8}T\d{6}Z$")


def test_keys_for_a_run_with_a_logical_date(world):
    arn = world.add(usage_count=1)
    world.run(
        datetime(2026, 3, 7, 5, 4, 9, tzinfo=UTC),
        license_config_arns=arn,
        license_report_prefix="reports/",
    )
    assert world.folder() == "reports/2026/03/07/20260307T050409Z/"
    assert world.manifest()["run_timestamp"] == "20260307T050409Z"
    assert all(" " not in key and ":" not in key for key in world.keys())


def test_keys_for_a_manual_run_without_logical_date(world):
    arn = world.add(usage_count=1)
    before = datetime.now(UTC).replace(microsecond=0)
    dag_run = world.run(logical_date=None, license_config_arns=arn)
    folder = world.folder()
    year, month, day, stamp, _ = folder.split("/")
    assert (len(year), len(month), len(day)) == (4, 2, 2)
    assert TS.match(stamp)
    moment = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert moment >= before
    assert folder == f"{moment:%Y/%m/%d}/{stamp}/"
    expected = (dag_run.logical_date or dag_run.run_after).astimezone(UTC)
    assert stamp == f"{expected:%Y%m%dT%H%M%SZ}"


def test_running_the_same_run_twice_leaves_the_same_objects(world):
    arns = [world.add(usage_count=120), world.add(usage_count=0)]
    when = datetime(2026, 11, 29, tzinfo=UTC)
    world.run(when, license_config_arns=arns)
    first = world.snapshot()
    world.run(when, license_config_arns=arns)
    second = world.snapshot()

    assert set(first) == set(second)
    usage = [key for key in first if key.endswith("-usage.csv")]
    assert len(usage) == 2 and all(first[key] == second[key] for key in usage)
    assert not any("_staging" in key for key in second)


def test_rerun_removes_files_of_configurations_that_now_fail(world):
    kept, now_denied = world.add(usage_count=2), world.add(usage_count=2)
    when = datetime(2026, 11, 28, tzinfo=UTC)
    world.run(when, license_config_arns=[kept, now_denied])
    assert len([k for k in world.keys() if k.endswith("-usage.csv")]) == 2

    world.emulator.set_faults({"permanent_errors": {now_denied: "AccessDeniedException"}})
    world.run(when, license_config_arns=[kept, now_denied])

    usage = [key for key in world.keys() if key.endswith("-usage.csv")]
    assert usage == [f"{world.folder()}{kept.rsplit(':', 1)[1]}-usage.csv"]


def test_fixed_header_json_cells_and_formula_safety(world):
    sparse = world.seed({"LicenseConfigurationArn": (arn := config_arn()), "usage": []})[0]
    rich = world.add(
        name='=HYPERLINK("x")',
        description="+SUM(A1)",
        license_count=40,
        usage=[
            {
                "ResourceArn": "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
                "ResourceType": "EC2_INSTANCE",
                "ResourceStatus": "running",
                "ResourceOwnerId": "111111111111",
                "AssociationTime": "2026-11-01T10:00:00Z",
                "ConsumedLicenses": 4,
            }
        ],
        LicenseRules=["#minimumVcpus=2"],
        tags={"team": "-ops"},
    )

    world.run(license_config_arns=[sparse, rich])

    rows = world.read_csv(world.folder() + "license-consumption-summary.csv")
    assert rows[0] == list(SUMMARY_COLUMNS)
    assert all(len(row) == len(SUMMARY_COLUMNS) for row in rows)
    summary = {row["LicenseConfigurationArn"]: row for row in world.summary()}
    assert summary[arn]["Name"] == "" and summary[arn]["LicenseCount"] == ""
    assert summary[arn]["UtilizationPercent"] == ""
    assert summary[rich]["Name"] == '\'=HYPERLINK("x")'
    assert summary[rich]["Description"] == "'+SUM(A1)"
    assert json.loads(summary[rich]["LicenseRules"]) == ["#minimumVcpus=2"]
    assert json.loads(summary[rich]["Tags"]) == [{"Key": "team", "Value": "-ops"}]
    assert summary[rich]["LicenseCountHardLimit"] == "false"
    assert summary[rich]["CollectedAt"].endswith("Z")
    usage = world.read_dicts(world.folder() + f"{rich.rsplit(':', 1)[1]}-usage.csv")
    assert usage[0]["AssociationTime"] == "2026-11-01T10:00:00Z"
    assert usage[0]["ConsumedLicenses"] == "4"


@pytest.mark.parametrize("form", ["json", "commas", "newlines"])
def test_arn_list_forms_through_the_trigger_form(world, form):
    a, b = world.add(usage_count=1), world.add(usage_count=1)
    value = {
        "json": json.dumps([a, f"  {b} ", a]),
        "commas": f" {a} ,{b},{a}",
        "newlines": f"\n{a}\n\n  {b}\n{a}\n",
    }[form]
    dag_run = world.run(license_config_arns=value)
    assert dag_run.state == "success"
    assert [c["arn"] for c in world.manifest()["configurations"]] == [a, b]


def test_arns_from_the_variable_when_the_form_is_empty(world, monkeypatch):
    arn = world.add(usage_count=1)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_CONFIG_ARNS", arn)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_PREFIX", "from-variable/")
    dag_run = world.run(license_config_arns="")
    assert dag_run.state == "success"
    assert world.folder().startswith("from-variable/")


def test_empty_arn_list_fails_before_writing_anything(world):
    dag_run = world.run(license_config_arns=" ")
    assert dag_run.state == "failed"
    assert world.keys() == []
    assert task_states(dag_run)[("resolve_settings", -1)] == "failed"


def test_missing_bucket_fails_without_a_manifest(world):
    arn = world.add(usage_count=1)
    dag_run = world.run(license_config_arns=arn, license_report_bucket="no-such-bucket-x")
    assert dag_run.state == "failed"
    assert task_states(dag_run)[("resolve_settings", -1)] == "failed"


def test_write_report_tried_again_after_it_completed_keeps_the_report_set(world):
    """A try that wrote everything and then was lost (its process killed before it reported
    success) is run again by Airflow: staging is gone by then, and the set must stay whole."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from license_manager import pipeline
    from sqlalchemy import select

    arn = world.add(usage_count=120)
    dag_run = world.run(license_config_arns=[arn, "12345"])
    before = world.snapshot()
    with create_session() as session:
        stored = session.scalar(
            select(XComModel.value).filter_by(
                dag_id=dag_run.dag_id,
                run_id=dag_run.run_id,
                task_id="resolve_settings",
                key="report",
            )
        )
    report = XComModel.deserialize_value(type("Row", (), {"value": stored})())

    result = pipeline.write_report(report)

    assert world.snapshot() == before
    assert result["configurations"] == 2
    assert [entry["arn"] for entry in result["not_collected"]] == ["12345"]
