"""Organisation scale through the DAG (dag.test) against the local AWS: discovery in accounts and
Regions with assumed roles, failures per account and Region, bad input, Airflow's map limit.

The emulator isolates accounts here as AWS does: the connection's keys belong to the home
account, and another account's configurations answer AccessDenied unless its role is assumed.
"""

from __future__ import annotations

import json

import pytest
from license_manager.compat import DAG_TEST_CALLBACKS_GET_THE_EXCEPTION

from local_aws.arns import DEFAULT_ACCOUNT
from local_aws.seeding import make_configuration
from tests.support import config_arn, mapped_labels, task_states

HOME = DEFAULT_ACCOUNT  # the account of the connection's keys (moto's and the emulator's)
MEMBER_A = "111111111111"
MEMBER_B = "222222222222"
TEMPLATE = "arn:{partition}:iam::{account_id}:role/LicenseTrackingReader"
REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture
def org(world):
    """Configurations in three accounts and two Regions; accounts isolated."""
    world.emulator.update_settings(isolate_accounts=True)
    arns = {
        (account, region): [config_arn(region, account) for _ in range(count)]
        for account, region, count in [
            (HOME, "us-east-1", 2),
            (HOME, "eu-west-1", 1),
            (MEMBER_A, "us-east-1", 3),
            (MEMBER_B, "eu-west-1", 2),
        ]
    }
    world.seed(
        *(make_configuration(arn, usage_count=2) for group in arns.values() for arn in group)
    )
    return world, arns


def _discovery_conf(**conf):
    return {
        "license_discovery_regions": ",".join(REGIONS),
        "license_discovery_accounts": [HOME, MEMBER_A, MEMBER_B],
        "license_account_role_arn_template": TEMPLATE,
        **conf,
    }


def _xcom_values(dag_run) -> list[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
        return [(row.task_id, json.dumps(row.value)) for row in rows]


def test_discovery_in_three_accounts_collects_everything_once_in_contract_order(org):
    world, arns = org
    world.emulator.update_settings(page_size_cap=1)  # every listing takes several pages
    listed_member = arns[(MEMBER_A, "us-east-1")][1]
    listed_other_region = world.add(config_arn("us-west-2", HOME), usage_count=1)

    dag_run = world.run(**_discovery_conf(license_config_arns=[listed_member, listed_other_region]))

    assert dag_run.state == "success"
    discovered = sorted(
        (arn for group in arns.values() for arn in group if arn != listed_member),
        key=lambda arn: (arn.split(":")[4], arn.split(":")[3], arn),
    )
    summary = world.summary()
    assert [row["LicenseConfigurationArn"] for row in summary] == [
        listed_member,
        listed_other_region,
        *discovered,
    ]
    assert [row["Source"] for row in summary] == ["listed"] * 2 + ["discovered"] * 7
    assert all(row["Error"] == "" and row["Name"] for row in summary)
    manifest = world.manifest()
    assert [
        (d["account_id"], d["region"], d["status"], d["configurations"])
        for d in manifest["discovery"]
    ] == [
        (MEMBER_A, "eu-west-1", "ok", 0),
        (MEMBER_A, "us-east-1", "ok", 3),
        (HOME, "eu-west-1", "ok", 1),
        (HOME, "us-east-1", "ok", 2),
        (MEMBER_B, "eu-west-1", "ok", 2),
        (MEMBER_B, "us-east-1", "ok", 0),
    ]
    assert [c["source"] for c in manifest["configurations"]][:3] == [
        "listed",
        "listed",
        "discovered",
    ]
    # every page of every listing, each configuration fetched once
    assert world.emulator.call_count("ListLicenseConfigurations") == 3 + 1 + 1 + 2 + 1 + 1 + 1
    assert world.emulator.call_count("GetLicenseConfiguration") == 9
    # one AssumeRole per task and member account: 2 accounts x 2 Regions of discovery, and the
    # fetch of each member configuration (3 in A, 2 in B); none for the connection's own account
    assert world.emulator.call_count("sts:AssumeRole") == 4 + 5
    role = TEMPLATE.format(partition="aws", account_id=HOME)
    assert world.emulator.call_count("sts:AssumeRole", role) == 0
    assert sorted(mapped_labels(dag_run, "discover_license_configurations")) == sorted(
        f"{account} / {region}" for account in (HOME, MEMBER_A, MEMBER_B) for region in REGIONS
    )


def test_assumed_credentials_never_reach_xcom_or_s3(org):
    world, arns = org
    dag_run = world.run(**_discovery_conf())
    assert dag_run.state == "success"
    values = _xcom_values(dag_run)
    assert values
    for task_id, value in values:
        for secret in ("SecretAccessKey", "SessionToken", "AccessKeyId", "FQoGZXIvYXdzE"):
            assert secret not in value, task_id
    discovery_records = [json.loads(v) for t, v in values if t == "discover_license_configurations"]
    assert {tuple(sorted(record)) for record in discovery_records} == {
        ("account_id", "arns", "error", "region", "status")
    }
    for key in world.keys():
        assert b"SessionToken" not in world.read(key)


def test_forgetting_the_role_is_access_denied(org):
    world, arns = org
    member_arn = arns[(MEMBER_A, "us-east-1")][0]
    dag_run = world.run(license_config_arns=[member_arn], license_report_prefix="without/")
    assert dag_run.state == "failed"
    (row,) = _summary(world, "without/")
    assert row["Error"].startswith("AccessDeniedException")

    dag_run = world.run(
        license_config_arns=[member_arn],
        license_account_role_arn_template=TEMPLATE,
        license_report_prefix="with/",
    )
    assert dag_run.state == "success"
    (row,) = _summary(world, "with/")
    assert row["Error"] == "" and row["Source"] == "listed"


def _summary(world, prefix: str) -> list[dict[str, str]]:
    (key,) = [k for k in world.keys(prefix) if k.endswith("/license-consumption-summary.csv")]
    return world.read_dicts(key)


def test_failures_per_account_and_region_never_stop_the_others(org):
    world, arns = org
    world.emulator.update_settings(
        denied_roles=[f"arn:aws:iam::{MEMBER_B}:role/LicenseTrackingReader"],
        scope_errors={
            f"{MEMBER_A}/eu-west-1": "UnrecognizedClientException",
            f"{HOME}/eu-west-1": "AccessDeniedException",
        },
    )
    dag_run = world.run(**_discovery_conf())

    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("check_collection", -1)] == "failed"
    assert states[("write_report", -1)] == "success"
    discovery = {(d["account_id"], d["region"]): d for d in world.manifest()["discovery"]}
    assert discovery[(MEMBER_A, "us-east-1")]["status"] == "ok"
    assert discovery[(HOME, "us-east-1")]["status"] == "ok"
    assert discovery[(MEMBER_A, "eu-west-1")]["error"].startswith("UnrecognizedClientException")
    assert discovery[(HOME, "eu-west-1")]["error"].startswith("AccessDeniedException")
    for region in REGIONS:
        assert discovery[(MEMBER_B, region)]["status"] == "failed"
        assert "AccessDenied" in discovery[(MEMBER_B, region)]["error"]
    collected = {row["LicenseConfigurationArn"] for row in world.summary()}
    assert collected == set(arns[(HOME, "us-east-1")] + arns[(MEMBER_A, "us-east-1")])


def test_failed_discovery_alert_names_the_accounts_and_regions(org, alert_queue):
    world, _ = org
    topic, messages = alert_queue
    world.emulator.update_settings(
        denied_roles=[f"arn:aws:iam::{MEMBER_B}:role/LicenseTrackingReader"]
    )
    dag_run = world.run(**_discovery_conf(license_alert_sns_topic_arn=topic))
    assert dag_run.state == "failed"
    (alert,) = [m for m in messages() if "Task: check_collection" in m]
    if DAG_TEST_CALLBACKS_GET_THE_EXCEPTION:  # the error text; see license_manager.compat
        assert f"{MEMBER_B} / us-east-1" in alert and f"{MEMBER_B} / eu-west-1" in alert
        assert f"{MEMBER_A} / us-east-1" not in alert


@pytest.mark.parametrize(
    ("conf", "named"),
    [
        ({"license_discovery_regions": "us-east-1, moon-base-1x"}, "license_discovery_regions"),
        (
            {"license_discovery_regions": "us-east-1", "license_discovery_accounts": "12345"},
            "license_discovery_accounts",
        ),
        (
            {
                "license_discovery_regions": "us-east-1",
                "license_account_role_arn_template": "arn:aws:iam::111111111111:role/Reader",
            },
            "license_account_role_arn_template",
        ),
        ({"license_config_arns": ""}, "license_discovery_regions"),
    ],
)
def test_bad_input_fails_before_anything_is_written(world, conf, named):
    from license_manager.settings import RUN_SETTINGS, SettingsError, resolve_settings

    dag_run = world.run(**conf)
    assert dag_run.state == "failed"
    assert task_states(dag_run)[("resolve_settings", -1)] == "failed"
    assert world.keys() == []
    params = {name: value for name, value in conf.items() if name in RUN_SETTINGS}
    variables = {"license_report_bucket": world.bucket, **conf}
    with pytest.raises(SettingsError, match=named):
        resolve_settings(params, variables.get)


def test_more_configurations_than_airflow_can_map_fail_before_any_fetch(org, monkeypatch):
    world, arns = org
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "4")
    dag_run = world.run(**_discovery_conf(license_discovery_accounts=[HOME, MEMBER_A]))
    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("merge_configurations", -1)] == "failed"
    assert not [key for key in states if key[0] == "fetch_license_configuration"] or all(
        state != "success"
        for key, state in states.items()
        if key[0] == "fetch_license_configuration"
    )
    assert world.emulator.call_count("GetLicenseConfiguration") == 0


def test_max_map_length_message_names_the_count_and_the_option():
    from license_manager.run_plan import CollectionFailed, merge_discovered

    report = {
        "requested": [],
        "discovery_scopes": [{"account_id": HOME, "region": "us-east-1"}],
        "bucket": "b",
        "staging": "s/",
        "aws_conn_id": "aws_default",
        "account_access": {},
    }
    record = {
        "account_id": HOME,
        "region": "us-east-1",
        "status": "ok",
        "error": None,
        "arns": [config_arn("us-east-1", HOME) for _ in range(5)],
    }
    with pytest.raises(CollectionFailed, match=r"5 license configurations.*max_map_length \(4\)"):
        merge_discovered(report, [record], map_limit=lambda: 4)
    assert len(merge_discovered(report, [record], map_limit=lambda: 5)["fetch_requests"]) == 5


def test_without_discovery_the_discovery_task_is_skipped_and_listed_arns_are_fetched(world):
    arn = world.add(usage_count=1)
    dag_run = world.run(license_config_arns=[arn])
    assert dag_run.state == "success"
    states = task_states(dag_run)
    assert states[("discover_license_configurations", -1)] == "skipped"
    assert states[("merge_configurations", -1)] == "success"
    assert world.manifest()["discovery"] == []
    assert [row["Source"] for row in world.summary()] == ["listed"]
