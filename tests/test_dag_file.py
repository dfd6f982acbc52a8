"""The DAG file as Airflow's parser sees it: schedule, shape, nothing touched at parse time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from tests.airflow_home import ROOT

DAG_FILE = ROOT / "dags" / "license_tracking.py"


def parse_dag_file(monkeypatch, schedule: str | None):
    from airflow.dag_processing.dagbag import DagBag

    if schedule is None:
        monkeypatch.delenv("LICENSE_TRACKING_SCHEDULE", raising=False)
    else:
        monkeypatch.setenv("LICENSE_TRACKING_SCHEDULE", schedule)
    return DagBag(dag_folder=str(DAG_FILE))


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, "0 0 * * *"),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(6 hours)", timedelta(hours=6)),
        ("cron(0 12 * * ? *)", "0 12 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_schedule_comes_from_the_environment(monkeypatch, schedule, expected):
    bag = parse_dag_file(monkeypatch, schedule)
    assert bag.import_errors == {}
    timetable = bag.dags["license_tracking"].timetable
    if isinstance(expected, timedelta):
        assert timetable.delta == expected
    else:
        assert timetable.expression == expected
    assert bag.dags["license_tracking"].catchup is False


def test_unconvertible_schedule_is_an_import_error_naming_the_variable(monkeypatch):
    bag = parse_dag_file(monkeypatch, "rate(banana)")
    assert "license_tracking" not in bag.dags
    (message,) = bag.import_errors.values()
    assert "LICENSE_TRACKING_SCHEDULE" in message
    assert "rate(banana)" in message


def test_pipeline_shape_and_labels(monkeypatch):
    dag = parse_dag_file(monkeypatch, None).dags["license_tracking"]
    assert set(dag.task_dict) == {
        "resolve_settings",
        "discover_license_configurations",
        "merge_configurations",
        "fetch_license_configuration",
        "write_report",
        "check_collection",
        "compliance_alert",
    }
    fetch = dag.task_dict["fetch_license_configuration"]
    assert "license_configuration_label" in fetch.map_index_template
    assert fetch.downstream_task_ids == {"write_report"}
    assert dag.task_dict["write_report"].trigger_rule == "all_done_min_one_success"
    assert list(dag.params.keys()) == [
        "license_config_arns",
        "license_discovery_regions",
        "license_discovery_accounts",
        "license_report_prefix",
        "license_alert_utilization_percent",
    ]
    discover = dag.task_dict["discover_license_configurations"]
    assert "discovery_scope_label" in discover.map_index_template
    assert discover.downstream_task_ids == {"merge_configurations"}
    assert all(dag.params[name] is None for name in dag.params)
    # The draft whose meta-schema jsonschema checks fast: every task validates every param.
    assert {param.schema["$schema"] for param in dag.params.values()} == {
        "http://json-schema.org/draft-07/schema#"
    }
    # What the dag-processor stores, the scheduler and the trigger form read back.
    from airflow.serialization.serialized_objects import DagSerialization

    stored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    assert {name: param.schema for name, param in stored.params.items()} == {
        name: param.schema for name, param in dag.params.items()
    }
    arns = dict(stored.params.items())["license_config_arns"]
    assert arns.description.startswith("License configuration")
    from license_manager.settings import settings_doc_md

    assert settings_doc_md() in dag.doc_md  # the settings, one line each, from their table
    write = dag.task_dict["write_report"]
    assert [outlet.name for outlet in write.outlets] == ["license_consumption_report"]
    assert dag.task_dict["compliance_alert"].upstream_task_ids == {"write_report"}
    assert dag.task_dict["compliance_alert"].retries == 0


PARSE_IN_ISOLATION = textwrap.dedent(
    """
    import socket, sys
    def refuse(*args, **kwargs):
        raise AssertionError("network touched at parse time")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from airflow.sdk import Variable
    def no_variables(*args, **kwargs):
        raise AssertionError("Variable read at parse time")
    Variable.get = classmethod(no_variables)

    import sqlalchemy.engine
    def no_database(*args, **kwargs):
        raise AssertionError("metadata database touched at parse time")
    sqlalchemy.engine.Engine.connect = no_database

    import runpy
    namespace = runpy.run_path(sys.argv[1])
    dag = namespace["dag"]
    assert dag.dag_id == "license_tracking", dag
    print("parsed", dag.dag_id, len(dag.task_dict))
    """
)


@pytest.mark.slow  # a fresh Airflow interpreter
def test_dag_file_parses_without_network_variables_or_database(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "plugins"),
        # A database that does not exist: any connection attempt would fail loudly.
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/missing/none.db",
        "AIRFLOW_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", PARSE_IN_ISOLATION, str(DAG_FILE)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parsed license_tracking 7" in result.stdout
    assert not (tmp_path / "missing").exists()
