"""The local deployments' environment: deploy/airflow.env translated for processes of this
machine, for the topology and the light flavour, and the topology's service checks (no
PostgreSQL, Redis or Airflow processes needed)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from local_airflow import topology
from local_airflow.environment import (
    LIGHT_OVERRIDES,
    ROOT,
    base_environment,
    light_settings,
    load_compose,
    native_settings,
    shared_airflow_env,
)
from local_airflow.processes import LocalAirflowError, free_port


def test_compose_hosts_and_image_paths_become_this_machine_s(tmp_path):
    shared = shared_airflow_env()
    native = topology.topology_settings(
        shared, home=tmp_path, database="topology_db", redis_db=7, api_port=18080
    )
    assert native["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://postgres@127.0.0.1:5432/topology_db"
    )
    assert native["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql+psycopg2://postgres@127.0.0.1:5432/topology_db"
    )
    assert native["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/7"
    assert native["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert native["AIRFLOW_CONFIG"] == f"{tmp_path}/config/airflow.cfg"
    services = set(load_compose()["services"])
    for key, value in native.items():
        if "://" in value:
            assert urlsplit(value).hostname == "127.0.0.1", key
        assert "/opt/airflow" not in value, key
    # Everything else is the shared value, unchanged.
    unchanged = {k for k, v in shared.items() if "://" not in v and not v.startswith("/")}
    assert unchanged and all(native[key] == shared[key] for key in unchanged)
    assert native["AIRFLOW__CORE__DAGS_FOLDER"] == str(ROOT / "dags")
    assert native["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(ROOT / "plugins")
    assert not services & {urlsplit(v).hostname for v in native.values() if "://" in v}


def test_the_light_flavour_changes_only_its_listed_overrides(tmp_path):
    shared = shared_airflow_env()
    light = light_settings(tmp_path, api_port=18080)
    assert light["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        f"sqlite:///{tmp_path}/airflow.db?timeout=60"
    )
    assert light["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW__CELERY__BROKER_URL" not in light
    assert "AIRFLOW__CELERY__RESULT_BACKEND" not in light
    # Every other shared setting is the compose topology's, natively substituted.
    topology_native = native_settings(
        {k: v for k, v in shared.items() if k not in LIGHT_OVERRIDES},
        home=tmp_path,
        api_port=18080,
    )
    ports = {k for k in topology_native if k.endswith("_PORT") and k != "AIRFLOW__API__PORT"}
    for key, value in topology_native.items():
        if key not in ports:
            assert light[key] == value, key
    assert set(light) == set(topology_native) | {k for k, v in LIGHT_OVERRIDES.items() if v}
    assert light["AIRFLOW__CORE__LAZY_LOAD_PLUGINS"] == shared["AIRFLOW__CORE__LAZY_LOAD_PLUGINS"]
    assert light["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"


def test_a_host_without_a_native_stand_in_is_refused(tmp_path):
    with pytest.raises(LocalAirflowError, match="'mysql'"):
        native_settings(
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "mysql://airflow@mysql/airflow"},
            home=tmp_path,
            api_port=1,
        )


def test_no_airflow_aws_or_session_setting_is_inherited(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("LICENSE_TRACKING_SCHEDULE", "@hourly")
    monkeypatch.setenv("PATH_KEPT_FOR_THE_TEST", "kept")
    inherited = base_environment()
    assert inherited["PATH_KEPT_FOR_THE_TEST"] == "kept"
    assert not [k for k in inherited if k.startswith(("AIRFLOW", "AWS_", "LICENSE_TRACKING_"))]


@pytest.mark.slow  # waits for connections to time out
def test_unreachable_services_are_named_with_how_to_start_them(monkeypatch):
    monkeypatch.setattr(topology, "POSTGRES_PORT", free_port())
    monkeypatch.setattr(topology, "REDIS_PORT", free_port())
    postgres, redis = topology.unavailable_services()
    assert postgres.startswith("PostgreSQL is not reachable at 127.0.0.1:")
    assert postgres.endswith(
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
    assert redis.startswith("Redis is not reachable at 127.0.0.1:")
    assert redis.endswith(f"start it with: {topology.REDIS_START}")
    assert "--bind 127.0.0.1 -::1 --port 6379" in topology.REDIS_START
