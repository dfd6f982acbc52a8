"""The native topology's translation of deploy/airflow.env, and its service checks (no
PostgreSQL, Redis or Airflow processes needed)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.deployment import ROOT, load_compose, shared_airflow_env
from tests.topology import harness


def test_compose_hosts_and_image_paths_become_this_machine_s(tmp_path):
    shared = shared_airflow_env()
    native = harness.native_settings(
        shared, airflow_home=tmp_path, database="topology_db", redis_db=7, api_port=18080
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


def test_a_host_without_a_native_stand_in_is_refused(tmp_path):
    with pytest.raises(harness.TopologyError, match="'mysql'"):
        harness.native_settings(
            {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "mysql://airflow@mysql/airflow"},
            airflow_home=tmp_path,
            database="x",
            redis_db=1,
            api_port=1,
        )


def test_unreachable_services_are_named_with_how_to_start_them(monkeypatch):
    monkeypatch.setattr(harness, "POSTGRES_PORT", harness.free_port())
    monkeypatch.setattr(harness, "REDIS_PORT", harness.free_port())
    postgres, redis = harness.unavailable_services()
    assert postgres.startswith("PostgreSQL is not reachable at 127.0.0.1:")
    assert postgres.endswith(
        "start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
    assert redis.startswith("Redis is not reachable at 127.0.0.1:")
    assert redis.endswith(f"start it with: {harness.REDIS_START}")
    assert "--bind 127.0.0.1 -::1 --port 6379" in harness.REDIS_START
