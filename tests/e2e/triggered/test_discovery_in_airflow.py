"""Discovery in a running Airflow: three accounts through their roles, one of them denied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_aws.arns import DEFAULT_ACCOUNT
from local_aws.seeding import make_configuration
from tests.e2e.license_runs import DAG_ID, FETCH, trigger
from tests.support import config_arn

HOME = DEFAULT_ACCOUNT
MEMBER_A = "555555555555"
DENIED = "666666666666"
TEMPLATE = "arn:{partition}:iam::{account_id}:role/LicenseTrackingReader"
DENIED_ROLE = f"arn:aws:iam::{DENIED}:role/LicenseTrackingReader"
REGIONS = ("us-east-1", "eu-west-1")


@pytest.fixture
def isolated_accounts(local_aws_servers) -> Iterator[None]:
    """Accounts isolated as on AWS, the denied account's role refused; restored afterwards."""
    emulator = local_aws_servers.emulator
    emulator.update_settings(isolate_accounts=True, denied_roles=[DENIED_ROLE])
    yield
    emulator.update_settings(isolate_accounts=False, denied_roles=[])


def test_discovery_in_three_accounts_one_denied(
    stack, variables, reports, alert_queue, isolated_accounts, local_aws_servers
):
    topic, messages = alert_queue
    found = [
        config_arn("us-east-1", HOME),
        config_arn("us-east-1", MEMBER_A),
        config_arn("eu-west-1", MEMBER_A),
    ]
    hidden = config_arn("eu-west-1", DENIED)
    local_aws_servers.emulator.seed(
        [make_configuration(arn, usage_count=3) for arn in [*found, hidden]], replace=False
    )

    run = trigger(
        stack,
        {
            "license_report_bucket": reports.bucket,
            "license_discovery_regions": ",".join(REGIONS),
            "license_discovery_accounts": [HOME, MEMBER_A, DENIED],
            "license_account_role_arn_template": TEMPLATE,
            "license_alert_sns_topic_arn": topic,
        },
    )

    assert run["state"] == "failed"
    manifest = reports.manifest()
    statuses = {(d["account_id"], d["region"]): d["status"] for d in manifest["discovery"]}
    assert statuses == {
        (account, region): "failed" if account == DENIED else "ok"
        for account in (HOME, MEMBER_A, DENIED)
        for region in REGIONS
    }
    assert all("AccessDenied" in d["error"] for d in manifest["discovery"] if d["status"] != "ok")
    # The stack's Variable lists one ARN: listed ARNs come first, then the discovered ones.
    # The home account also holds what earlier tests of the session seeded: all discovered.
    listed, *discovered = [c["arn"] for c in manifest["configurations"]]
    assert listed == variables[1]
    assert set(found) <= set(discovered) and hidden not in discovered
    assert not [arn for arn in discovered if arn.split(":")[4] not in (HOME, MEMBER_A)]
    assert discovered == sorted(
        discovered, key=lambda arn: (arn.split(":")[4], arn.split(":")[3], arn)
    )
    assert {c["status"] for c in manifest["configurations"]} == {"ok"}

    instances = stack.task_instances(DAG_ID, run["dag_run_id"])
    labels = sorted(
        ti["rendered_map_index"]
        for (task_id, _), ti in instances.items()
        if task_id == "discover_license_configurations"
    )
    assert labels == sorted(f"{a} / {r}" for a in (HOME, MEMBER_A, DENIED) for r in REGIONS)
    assert [ti["state"] for (task_id, _), ti in instances.items() if task_id == FETCH] == [
        "success"
    ] * (1 + len(discovered))
    assert instances[("check_collection", -1)]["state"] == "failed"

    alerts = stack.wait_for(
        lambda: [m for m in messages() if "Task: check_collection" in m], "the alert", timeout=60
    )
    assert f"{DENIED} / eu-west-1" in alerts[0] and f"{DENIED} / us-east-1" in alerts[0]
    assert f"{MEMBER_A} / us-east-1" not in alerts[0]
