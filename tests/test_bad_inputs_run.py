"""Bad settings through a whole DAG run: failed at once, nothing written, the setting named.

The pure checks are in test_validation.py; these runs prove that the task fails on its
first try (no retry could help), that no task after it runs, and that the bucket stays empty.
"""

from __future__ import annotations

import pytest

from tests.support import config_arn, task_instances, task_states

pytestmark = pytest.mark.usefixtures("airflow_db")

LONG_ARN = "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-" + "a" * 2_000


def resolve_try_number(dag_run) -> int:
    (resolve,) = task_instances(dag_run, "resolve_settings")
    return resolve.try_number


def assert_failed_before_writing(world, dag_run, capsys, setting: str) -> None:
    assert dag_run.state == "failed"
    states = task_states(dag_run)
    assert states[("resolve_settings", -1)] == "failed"
    assert resolve_try_number(dag_run) == 1
    assert "success" not in states.values()
    assert world.keys() == []
    assert world.emulator.call_count() == 0
    # The task log's last line of the traceback: the error, naming the setting.
    errors = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("license_manager.settings.SettingsError: ")
    ]
    assert len(errors) == 1
    assert errors[0].startswith(f"license_manager.settings.SettingsError: {setting} ")


@pytest.mark.parametrize("variable", ['{"a": 1}', "12345", "x" * 100_000, LONG_ARN])
def test_a_variable_without_a_valid_arn_fails_the_run(world, monkeypatch, capsys, variable):
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_CONFIG_ARNS", variable)

    dag_run = world.run()

    assert_failed_before_writing(world, dag_run, capsys, "license_config_arns")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("license_report_bucket", "Not_A_Valid_Bucket!"),
        ("license_report_prefix", "../escape/"),
        ("license_report_kms_key_id", "not a key"),
        ("license_report_bucket_owner", "123"),
        ("license_alert_sns_topic_arn", "alerts"),
    ],
)
def test_a_setting_aws_would_reject_fails_the_run(world, capsys, setting, value):
    dag_run = world.run(license_config_arns=[config_arn()], **{setting: value})

    assert_failed_before_writing(world, dag_run, capsys, setting)


def test_invalid_entries_next_to_a_valid_arn_get_their_rows(world):
    arn = world.add(usage_count=2)

    dag_run = world.run(license_config_arns=f"{arn}, 12345, {LONG_ARN}")

    assert dag_run.state == "failed"  # check_collection names the invalid entries
    statuses = [entry["status"] for entry in world.manifest()["configurations"]]
    assert statuses == ["ok", "invalid", "invalid"]
    assert [row["LicenseConfigurationArn"] for row in world.summary()][1] == "12345"


def test_a_prefix_with_empty_segments_is_normalised(world):
    arn = world.add(usage_count=1)

    dag_run = world.run(license_config_arns=[arn], license_report_prefix="a//b/")

    assert dag_run.state == "success"
    assert world.keys() and all(key.startswith("a/b/") for key in world.keys())
