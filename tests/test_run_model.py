"""The run's XCom shapes (``license_manager.run_model``) against what the run really builds,
after a trip through JSON as XCom makes it: the types and the dicts cannot drift apart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, get_type_hints

from license_manager.run_model import (
    AccountAccessArgs,
    AccountRegion,
    DiscoveryEntry,
    DiscoveryScope,
    InvalidConfiguration,
    PendingConfiguration,
    RunPlan,
    Verdict,
)

WHEN = datetime(2026, 11, 29, tzinfo=UTC)
HOME = "111111111111"
OTHER = "222222222222"
LISTED = f"arn:aws:license-manager:us-east-1:{HOME}:license-configuration:lic-" + "1" * 32
FOUND = f"arn:aws:license-manager:eu-west-1:{OTHER}:license-configuration:lic-" + "2" * 32


class _Bucket:
    """Takes the run's settings file, the one S3 request of ``resolve_run``."""

    def put_bytes(self, data: bytes, key: str, bucket_name: str, content_type: Any = None) -> None:
        pass


def through_xcom(value: Any) -> Any:
    return json.loads(json.dumps(value))


def assert_shape(value: dict, typed_dict: type) -> None:
    """Every required key of ``typed_dict`` is in ``value``, and no key that it lacks."""
    keys = set(value)
    assert typed_dict.__required_keys__ <= keys, typed_dict.__required_keys__ - keys
    assert keys <= set(get_type_hints(typed_dict)), keys - set(get_type_hints(typed_dict))


def resolved() -> dict:
    from license_manager import run_plan

    return run_plan.resolve_run(
        {
            "license_config_arns": f"{LISTED}, not-an-arn",
            "license_discovery_regions": "eu-west-1",
            "license_discovery_accounts": OTHER,
        },
        "license_tracking",
        "manual__1",
        WHEN,
        variable={
            "license_report_bucket": "reports",
            "license_account_role_arn_template": "arn:aws:iam::{account_id}:role/Reader",
            "license_report_bucket_owner": HOME,
        }.get,
        s3_hook=lambda *_, **__: _Bucket(),
        caller_account=lambda aws_conn_id: HOME,
        map_limit=lambda: 1024,
        connection_defined=lambda aws_conn_id: True,
    )


def merged_plan() -> dict:
    from license_manager.run_plan import merge_discovered

    run = resolved()
    (scope,) = through_xcom(run["discovery_scopes"])
    record = {**scope, "status": "ok", "error": None, "arns": [FOUND]}
    return merge_discovered(through_xcom(run["report"]), [through_xcom(record)])["report"]


def test_the_plan_of_resolve_run_is_a_run_plan_after_xcom():
    run = resolved()
    plan = through_xcom(run["report"])

    assert plan == run["report"]
    assert set(plan) == set(get_type_hints(RunPlan))  # a new plan holds every key
    assert_shape(plan["account_access"], AccountAccessArgs)
    assert set(plan["account_access"]) == set(get_type_hints(AccountAccessArgs))
    pending, invalid = plan["requested"]
    assert_shape(pending, PendingConfiguration)
    assert_shape(invalid, InvalidConfiguration)
    for scope in plan["discovery_scopes"]:
        assert_shape(scope, AccountRegion)
    for scope in through_xcom(run["discovery_scopes"]):
        assert_shape(scope, DiscoveryScope)


def test_the_plan_completed_by_discovery_is_a_run_plan_after_xcom():
    plan = merged_plan()

    assert set(plan) == set(get_type_hints(RunPlan))
    assert [entry["source"] for entry in plan["requested"]] == ["listed", "listed", "discovered"]
    assert_shape(plan["requested"][2], PendingConfiguration)
    (entry,) = plan["discovery"]
    assert_shape(entry, DiscoveryEntry)


def test_the_verdict_is_a_verdict_after_xcom():
    from license_manager.pipeline import _verdict
    from license_manager.report_writer import RunReport

    plan = merged_plan()
    manifest = {
        "previous_folder": None,
        "configurations": [{"arn": LISTED, "status": "failed", "error": "AccessDenied"}],
        "discovery": [{"account_id": OTHER, "region": "eu-west-1", "status": "failed"}],
    }

    verdict = through_xcom(_verdict(plan, RunReport.from_plan(plan), manifest, []))

    assert set(verdict) == set(get_type_hints(Verdict))
    assert verdict["location"] == f"s3://reports/{plan['folder']}"
