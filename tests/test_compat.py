"""license_manager.compat: each name comes from where the installed Airflow keeps it.

These tests fail when an Airflow release moves one of the names again (or drops an old
location the package still falls back to); the compatibility matrix (tools/compat_matrix.py)
runs them on every supported minor.
"""

from __future__ import annotations

import importlib
import warnings

import airflow
import pytest
from license_manager import compat
from packaging.version import Version

pytestmark = pytest.mark.provider_seams

INSTALLED = Version(Version(airflow.__version__).base_version)
#: name in license_manager.compat -> (module since 3.2, module in 3.1)
MOVED = {
    "AirflowFailException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowNotFoundException": ("airflow.sdk.exceptions", "airflow.exceptions"),
    "AirflowPlugin": ("airflow.sdk.plugins_manager", "airflow.plugins_manager"),
    "get_hook_lineage_collector": ("airflow.sdk.lineage", "airflow.lineage.hook"),
}


def where(name: str) -> str:
    newer, older = MOVED[name]
    return newer if INSTALLED >= Version("3.2") else older


@pytest.mark.parametrize("name", sorted(MOVED))
def test_each_moved_name_is_the_installed_airflows_own(name):
    module = importlib.import_module(where(name))
    assert getattr(compat, name) is getattr(module, name)


@pytest.mark.parametrize("name", ["AirflowFailException", "AirflowNotFoundException"])
def test_the_task_runner_and_connections_raise_what_the_package_catches(name):
    """The exceptions the package raises and catches are the ones the task runner and
    ``Connection.get`` use in this minor (old and new names are one class from 3.2 on)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from airflow import exceptions

        assert getattr(exceptions, name) is getattr(compat, name)


def test_the_asset_manager_is_the_one_the_hook_lineage_reads():
    """The preload warms ``compat.ProvidersAssetManager``: it must be the class whose
    ``asset_factories`` this minor's hook lineage collector reads."""
    lineage = importlib.import_module(where("get_hook_lineage_collector"))
    name = "ProvidersManagerTaskRuntime" if INSTALLED >= Version("3.2") else "ProvidersManager"
    assert compat.ProvidersAssetManager is getattr(lineage, name)


def test_the_configuration_is_the_one_task_code_reads():
    module = "airflow.sdk.configuration" if INSTALLED >= Version("3.2") else "airflow.configuration"
    assert compat.airflow_conf() is importlib.import_module(module).conf
    assert compat.airflow_conf().getint("core", "max_map_length") > 0


def test_true_is_a_doubling_retry_backoff_in_this_minor():
    from airflow.sdk import BaseOperator

    task = BaseOperator(
        task_id="t", retries=3, retry_exponential_backoff=compat.EXPONENTIAL_RETRY_BACKOFF
    )
    assert task.retry_exponential_backoff in (True, 2.0)


def test_the_version_flags_follow_the_installed_airflow():
    assert compat.AIRFLOW_VERSION == INSTALLED
    assert compat.AIRFLOW_VERSION >= compat.MINIMUM_AIRFLOW
    assert compat.DAG_TEST_CALLBACKS_GET_THE_EXCEPTION is (INSTALLED >= Version("3.3"))


@pytest.mark.usefixtures("airflow_db")
def test_dag_test_reuses_one_in_process_execution_api():
    """tests/conftest.py gives Airflow 3.1 the cache newer Airflow has; this fails when the
    function it caches is renamed or stops being what dag.test's tasks call."""
    import inspect

    from airflow.sdk.execution_time import supervisor

    assert "in_process_api_server()" in inspect.getsource(
        supervisor.InProcessTestSupervisor._api_client
    )
    assert supervisor.in_process_api_server() is supervisor.in_process_api_server()
