"""Compliance status, the change since the previous report set, and the compliance alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from airflow.sdk import BaseNotifier
from license_manager.compliance import compliance_status, consumed_change, parse_threshold
from license_manager.compliance_alert import (
    SUBJECT_PREFIX,
    compliance_alert,
    send_compliance_alert,
)
from license_manager.report_layout import dated_subfolders, may_hold_earlier, run_folder
from license_manager.settings import SettingsError, resolve_settings

NINETY = Decimal(90)


@pytest.mark.parametrize(
    ("consumed", "count", "status"),
    [
        (25, 20, "OVER_LIMIT"),
        (20, 20, "AT_LIMIT"),
        (18, 20, "NEAR_LIMIT"),
        (17, 20, "OK"),
        (0, 20, "OK"),
        (5, None, "NO_LIMIT"),
        (5, 0, "NO_LIMIT"),
        ("25", "20", "OVER_LIMIT"),
    ],
)
def test_status_rules(consumed, count, status):
    assert compliance_status(consumed, count, NINETY) == status


def test_threshold_is_inclusive_and_configurable():
    assert compliance_status(9, 10, Decimal(90)) == "NEAR_LIMIT"
    assert compliance_status(9, 10, Decimal("90.01")) == "OK"
    assert compliance_status(0, 10, Decimal(0)) == "NEAR_LIMIT"


def test_change_needs_both_values():
    assert consumed_change(25, 22) == 3
    assert consumed_change(20, 22) == -2
    assert consumed_change(20, None) is None
    assert consumed_change(None, 3) is None


@pytest.mark.parametrize("value", ["101", "-1", "ninety", "nan", True])
def test_malformed_threshold_names_the_setting(value):
    with pytest.raises(SettingsError, match="license_alert_utilization_percent"):
        resolve_settings(
            {
                "license_config_arns": "arn:aws:license-manager:us-east-1:111111111111:"
                "license-configuration:lic-0123456789abcdef0123456789abcdef",
                "license_alert_utilization_percent": value,
            },
            {"license_report_bucket": "bucket"}.get,
        )
    if value is not True:
        with pytest.raises(ValueError):
            parse_threshold(value)


def test_threshold_default_and_variable():
    arn = (
        "arn:aws:license-manager:us-east-1:111111111111:"
        "license-configuration:lic-0123456789abcdef0123456789abcdef"
    )
    params = {"license_config_arns": arn}
    bucket = {"license_report_bucket": "reports"}
    assert resolve_settings(params, bucket.get).license_alert_utilization_percent == "90"
    variables = {**bucket, "license_alert_utilization_percent": "75.5"}
    assert resolve_settings(params, variables.get).license_alert_utilization_percent == "75.5"


def test_dated_subfolders_keep_only_the_next_level_newest_first():
    listed = [
        "r/2025/",
        "r/_staging/",
        "r/2026/",
        "r/notes/",
        "r/20261/",
        "r/\u0662\u0660\u0662\u0667/",
    ]
    assert dated_subfolders("r/", "r/", listed) == ["r/2026/", "r/2025/"]
    runs = ["r/2026/11/29/20261129T000000Z/", "r/2026/11/29/20261129T060000Z/", "r/2026/11/29/x/"]
    assert dated_subfolders("r/", "r/2026/11/29/", runs) == runs[1::-1]


def test_only_folders_that_can_hold_an_earlier_run_are_walked():
    ts = "20261129T060000Z"
    assert may_hold_earlier("", "2026/", ts) and not may_hold_earlier("", "2027/", ts)
    assert may_hold_earlier("", "2026/11/29/", ts)
    assert not may_hold_earlier("", "2026/11/30/", ts)
    assert may_hold_earlier("", "2026/11/29/20261129T000000Z/", ts)
    assert not may_hold_earlier("", "2026/11/29/20261129T060000Z/", ts)


#: Summary rows of one report set: one over its limit, one near it, one fine.
ALERT_ROWS = [
    {"ComplianceStatus": "OK", "Name": "fine"},
    {
        "ComplianceStatus": "NEAR_LIMIT",
        "Name": "Windows",
        "AccountId": "111111111111",
        "Region": "eu-west-1",
        "ConsumedLicenses": 95,
        "LicenseCount": 100,
        "UtilizationPercent": "95.00",
        "ConsumedLicensesChange": None,
        "LicenseConfigurationArn": "arn:near",
    },
    {
        "ComplianceStatus": "OVER_LIMIT",
        "Name": "RHEL - Instance",
        "AccountId": "222222222222",
        "Region": "us-east-1",
        "ConsumedLicenses": 25,
        "LicenseCount": 20,
        "UtilizationPercent": "125.00",
        "ConsumedLicensesChange": 3,
        "LicenseConfigurationArn": "arn:over",
    },
]
REPORT_FOLDER = "s3://b/r/2026/11/29/20261129T000000Z/"


def test_alert_message_is_a_table_sorted_by_severity():
    alert = compliance_alert(REPORT_FOLDER, ALERT_ROWS)
    assert alert is not None
    assert alert.subject == f"{SUBJECT_PREFIX}: 1 over limit, 1 near limit"
    lines = alert.message.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Status"))
    assert lines[header].split() == [
        "Status", "Name", "Account", "Region", "Consumed", "/", "Count", "Percent", "Change", "ARN"
    ]  # fmt: skip
    assert lines[header + 1].split() == [
        "OVER_LIMIT", "RHEL", "-", "Instance", "222222222222", "us-east-1", "25", "/", "20",
        "125.00", "%", "+3", "arn:over",
    ]  # fmt: skip
    assert lines[header + 2].startswith("NEAR_LIMIT") and "n/a" in lines[header + 2]
    assert "fine" not in alert.message
    assert "Report folder: s3://b/r/2026/11/29/20261129T000000Z/" in alert.message
    assert compliance_alert("s3://b/", [{"ComplianceStatus": "OK"}]) is None


class CapturingNotifier(BaseNotifier):
    """A notifier of any other kind (Slack, e-mail, ...): keeps what it would send."""

    template_fields = ("subject", "text")

    def __init__(self, subject: str, text: str) -> None:
        super().__init__()
        self.subject = subject
        self.text = text
        self.sent: list[tuple[str, str]] = []

    def notify(self, context) -> None:
        self.sent.append((self.subject, self.text))


def test_the_alert_goes_through_any_notifier_with_its_rows_and_folder():
    alert = compliance_alert(REPORT_FOLDER, ALERT_ROWS)
    assert alert is not None
    notifier = CapturingNotifier(
        subject="{{ compliance_subject }}",
        text="{{ compliance_message }}\n"
        "{% for row in compliance_alert.rows %}{{ row.Name }}: {{ row.ComplianceStatus }};"
        "{% endfor %} {{ report_folder }} {{ run_id }}",
    )

    send_compliance_alert(alert, notifier, {"run_id": "scheduled__2026-11-29"})

    ((subject, text),) = notifier.sent
    assert subject == f"{SUBJECT_PREFIX}: 1 over limit, 1 near limit"
    table = text.splitlines()
    over = next(line for line in table if line.startswith("OVER_LIMIT"))
    assert over.split()[-4:] == ["125.00", "%", "+3", "arn:over"]
    assert any(line.startswith("NEAR_LIMIT  Windows") for line in table)
    assert f"Report folder: {REPORT_FOLDER}" in text
    assert table[-1] == (
        f"RHEL - Instance: OVER_LIMIT;Windows: NEAR_LIMIT; {REPORT_FOLDER} scheduled__2026-11-29"
    )


# --- Finding the previous report set in S3 --------------------------------------------------


def put_set(s3, prefix: str, moment: datetime, consumed: dict | None, complete: bool = True):
    folder = run_folder(prefix, moment)
    s3.conn.put_object(Bucket=s3.bucket, Key=folder + "license-consumption-summary.csv", Body=b"")
    if complete:
        entries = [
            {"arn": arn, "status": "ok", "consumed_licenses": value}
            for arn, value in (consumed or {}).items()
        ]
        body = json.dumps({"configurations": entries}).encode()
        s3.conn.put_object(Bucket=s3.bucket, Key=folder + "manifest.json", Body=body)
    return folder


def test_previous_set_is_the_latest_complete_one_before_the_run(s3):
    from license_manager.history import previous_consumption

    day = datetime(2026, 11, 29, tzinfo=UTC)
    put_set(s3, "r/", datetime(2025, 12, 31, tzinfo=UTC), {"a": 1})
    wanted = put_set(s3, "r/", datetime(2026, 10, 31, 6, tzinfo=UTC), {"a": 7})
    put_set(s3, "r/", datetime(2026, 11, 1, tzinfo=UTC), {"a": 8}, complete=False)
    put_set(s3, "r/", day, {"a": 9})  # the run itself
    put_set(s3, "r/", datetime(2026, 11, 30, tzinfo=UTC), {"a": 10})  # later: a backfill
    put_set(s3, "other/", datetime(2026, 11, 28, tzinfo=UTC), {"a": 99})
    s3.conn.put_object(Bucket=s3.bucket, Key="r/_staging/20261129T000000Z/run.json", Body=b"{}")

    previous = previous_consumption(s3, s3.bucket, "r/", "20261129T000000Z")

    assert previous.folder == wanted
    assert previous.consumed == {"a": 7}
    assert previous_consumption(s3, s3.bucket, "r/", "20251231T000000Z").folder is None


def test_a_schema_1_manifest_is_read_through_its_summary(s3):
    from license_manager.history import previous_consumption

    folder = run_folder("", datetime(2026, 11, 28, tzinfo=UTC))
    summary = "LicenseConfigurationArn,ConsumedLicenses,Error\r\narn:a,12,\r\narn:b,,boom\r\n"
    s3.conn.put_object(
        Bucket=s3.bucket, Key=folder + "license-consumption-summary.csv", Body=summary.encode()
    )
    entries = [{"arn": "arn:a", "status": "ok"}, {"arn": "arn:b", "status": "failed"}]
    manifest = {"configurations": entries}
    s3.conn.put_object(Bucket=s3.bucket, Key=folder + "manifest.json", Body=json.dumps(manifest))

    previous = previous_consumption(s3, s3.bucket, "", "20261129T000000Z")

    assert previous.consumed == {"arn:a": 12}


def test_finding_the_previous_set_lists_a_few_levels_not_every_object(s3):
    from license_manager.history import previous_report_set

    for day in range(1, 31):
        put_set(s3, "", datetime(2026, 9, day, tzinfo=UTC), {"a": day})
        put_set(s3, "", datetime(2026, 10, day, tzinfo=UTC), {"a": day})
    calls: list[str] = []
    s3.conn.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))

    found = previous_report_set(s3, s3.bucket, "", "20261101T000000Z")

    assert found is not None and found.timestamp == "20261030T000000Z"
    # years, months of 2026, days of October, runs of the 30th; one manifest read
    assert calls == ["ListObjectsV2"] * 4 + ["GetObject"]
