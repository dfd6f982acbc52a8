"""Compliance through the DAG (dag.test): statuses, change since the previous set, backfills,
the compliance alert and the license_consumption_report asset event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from license_manager.compat import DAG_TEST_CALLBACKS_GET_THE_EXCEPTION
from license_manager.compliance_alert import SUBJECT_PREFIX

from tests.support import AlertQueue, config_arn, task_states

pytestmark = pytest.mark.usefixtures("airflow_db")

DAY_1 = datetime(2026, 11, 27, tzinfo=UTC)
DAY_2 = datetime(2026, 11, 28, tzinfo=UTC)
DAY_3 = datetime(2026, 11, 29, tzinfo=UTC)


def set_consumed(world, arn: str, consumed: int, count: int | None, name: str) -> str:
    """Seed (or overwrite) a configuration; ``count`` None seeds one without a LicenseCount."""
    from local_aws.seeding import make_configuration

    entry = make_configuration(arn, name=name, license_count=count or 0, usage_count=1)
    entry["ConsumedLicenses"] = consumed
    if count is None:
        del entry["LicenseCount"]
    (seeded,) = world.seed(entry)
    return seeded


@pytest.fixture
def compliance_queue(local_aws_servers):
    """An SNS topic, and a function returning (subject, message) of what an SQS queue on it
    received."""
    queue = AlertQueue()
    return queue.topic, queue.received


def summary_of(world, moment: datetime) -> dict[str, dict[str, str]]:
    from license_manager.report_layout import run_folder, summary_key

    rows = world.read_dicts(summary_key(run_folder("", moment)))
    return {row["Name"] or row["LicenseConfigurationArn"]: row for row in rows}


def manifest_of(world, moment: datetime) -> dict:
    from license_manager.report_layout import manifest_key, run_folder

    return json.loads(world.read(manifest_key(run_folder("", moment))))


def test_statuses_and_change_since_the_previous_run(world, compliance_queue):
    topic, messages = compliance_queue
    over, at, near, fine, unlimited = (config_arn() for _ in range(5))
    set_consumed(world, over, 22, 20, "over")
    set_consumed(world, at, 20, 20, "at")
    set_consumed(world, near, 18, 20, "near")
    set_consumed(world, fine, 5, 20, "fine")
    set_consumed(world, unlimited, 7, None, "unlimited")
    denied = world.add(name="denied", usage_count=1)
    arns = [over, at, near, fine, unlimited, denied]
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})

    assert world.run(DAY_1, license_config_arns=arns).state == "failed"
    first = summary_of(world, DAY_1)
    assert {name: row["ComplianceStatus"] for name, row in first.items()} == {
        "over": "OVER_LIMIT",
        "at": "AT_LIMIT",
        "near": "NEAR_LIMIT",
        "fine": "OK",
        "unlimited": "NO_LIMIT",
        denied: "",
    }
    assert {row["PreviousConsumedLicenses"] for row in first.values()} == {""}
    assert {row["Source"] for row in first.values()} == {"listed"}
    assert manifest_of(world, DAY_1)["previous_folder"] is None

    set_consumed(world, over, 25, 20, "over")
    set_consumed(world, fine, 3, 20, "fine")
    world.emulator.set_faults({})
    dag_run = world.run(DAY_2, license_config_arns=arns, license_alert_sns_topic_arn=topic)

    assert dag_run.state == "success"
    second = summary_of(world, DAY_2)
    changes = {
        name: (row["PreviousConsumedLicenses"], row["ConsumedLicensesChange"])
        for name, row in second.items()
    }
    assert changes["over"] == ("22", "3")
    assert changes["fine"] == ("5", "-2")
    assert second["at"]["ConsumedLicensesChange"] == "0"
    assert second["denied"]["PreviousConsumedLicenses"] == ""  # not collected on day 1
    assert second["over"]["UtilizationPercent"] == "125.00"
    manifest = manifest_of(world, DAY_2)
    assert manifest["schema_version"] == 2
    assert manifest["previous_folder"] == "2026/11/27/20261127T000000Z/"
    entry = next(c for c in manifest["configurations"] if c["arn"] == over)
    assert (entry["source"], entry["compliance_status"], entry["consumed_licenses"]) == (
        "listed",
        "OVER_LIMIT",
        25,
    )
    (subject, body), *others = messages()
    assert not others
    assert subject.startswith("[Airflow] license_tracking compliance")
    assert "over" in body and over in body and "25 / 20" in body and "125.00 %" in body
    assert "+3" in body and "fine" not in body.split("Report folder")[0].split()
    assert f"s3://{world.bucket}/2026/11/28/20261128T000000Z/" in body
    assert task_states(dag_run)[("compliance_alert", -1)] == "success"


def test_a_backfilled_run_compares_with_the_set_before_its_own_timestamp(world):
    arn = config_arn()
    for moment, consumed in ((DAY_1, 4), (DAY_3, 9)):
        set_consumed(world, arn, consumed, 20, "c")
        assert world.run(moment, license_config_arns=arn).state == "success"

    set_consumed(world, arn, 6, 20, "c")
    assert world.run(DAY_2, license_config_arns=arn).state == "success"

    row = summary_of(world, DAY_2)["c"]
    assert (row["PreviousConsumedLicenses"], row["ConsumedLicensesChange"]) == ("4", "2")
    assert manifest_of(world, DAY_2)["previous_folder"] == "2026/11/27/20261127T000000Z/"


def test_no_compliance_alert_when_nothing_is_near_a_limit(world, compliance_queue):
    topic, messages = compliance_queue
    arn = set_consumed(world, config_arn(), 3, 20, "fine")
    dag_run = world.run(DAY_1, license_config_arns=arn, license_alert_sns_topic_arn=topic)
    assert dag_run.state == "success"
    assert messages() == []


def test_an_unsendable_compliance_alert_never_fails_the_run(world):
    arn = set_consumed(world, config_arn(), 30, 20, "over")
    missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    dag_run = world.run(DAY_1, license_config_arns=arn, license_alert_sns_topic_arn=missing_topic)
    assert dag_run.state == "success"
    assert task_states(dag_run)[("compliance_alert", -1)] == "success"


def test_threshold_from_the_trigger_form(world):
    arn = set_consumed(world, config_arn(), 15, 20, "c")
    world.run(DAY_1, license_config_arns=arn, license_alert_utilization_percent="75")
    assert summary_of(world, DAY_1)["c"]["ComplianceStatus"] == "NEAR_LIMIT"


def test_the_report_asset_event_names_the_folder(world):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    arn = set_consumed(world, config_arn(), 25, 20, "over")
    dag_run = world.run(DAY_3, license_config_arns=arn)

    with create_session() as session:
        events = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.name == "license_consumption_report")
            .filter(AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
        extras = [event.extra for event in events]
    assert extras == [
        {
            "report_folder": f"s3://{world.bucket}/2026/11/29/20261129T000000Z/",
            "run_timestamp": "20261129T000000Z",
            "configurations": 1,
            "not_collected": 0,
            "near_or_over_limit": 1,
            "tables": {
                "license_consumption": f"s3://{world.bucket}/tables/license_consumption/",
                "license_usage": f"s3://{world.bucket}/tables/license_usage/",
            },
        }
    ]


def test_a_run_with_a_failure_and_an_over_limit_configuration_sends_both_alerts(
    world, compliance_queue
):
    """The failure alerts (one per failed task: the fetch and the verdict) and one compliance
    alert, each with its own subject, and neither about the other's configuration."""
    topic, received = compliance_queue
    over = set_consumed(world, config_arn(), 25, 20, "over")
    denied = world.add(name="denied", usage_count=1)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})

    dag_run = world.run(
        DAY_1, license_config_arns=[over, denied], license_alert_sns_topic_arn=topic
    )

    assert dag_run.state == "failed"
    messages = received()
    compliance = [(s, body) for s, body in messages if s.startswith(SUBJECT_PREFIX)]
    failures = [(s, body) for s, body in messages if not s.startswith(SUBJECT_PREFIX)]
    ((subject, body),) = compliance
    assert subject == f"{SUBJECT_PREFIX}: 1 over limit"
    assert over in body and "25 / 20" in body and denied not in body
    assert f"Report folder: s3://{world.bucket}/2026/11/27/20261127T000000Z/" in body
    assert sorted(s for s, _ in failures) == [
        "[Airflow] license_tracking check_collection failed",
        "[Airflow] license_tracking fetch_license_configuration failed",
    ]
    for _, failure in failures:
        assert over not in failure
        if DAG_TEST_CALLBACKS_GET_THE_EXCEPTION:  # the error text; see license_manager.compat
            assert denied in failure and "AccessDeniedException" in failure
    assert len(messages) == 3
