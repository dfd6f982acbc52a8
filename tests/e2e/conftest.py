"""End-to-end fixtures: a running Airflow stack per test module, and what the tests read back."""

from __future__ import annotations

import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

import boto3
import pytest

from local_airflow import LightAirflow
from tests.e2e.license_runs import new_world
from tests.support import World

StackFactory = Callable[[str, Mapping[str, str]], AbstractContextManager[LightAirflow]]

_running: list[LightAirflow] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def airflow_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """When a test fails, show the end of each running Airflow component's log."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for stack in _running:
            sys.stderr.write(stack.log_tails())


@pytest.fixture(scope="module", autouse=True)
def boto3_default_session_as_found() -> Iterator[None]:
    """boto3's default session keeps the credentials it first resolved; tests that run later
    set their own in the environment, so this suite leaves it as it found it."""
    saved = boto3.DEFAULT_SESSION
    yield
    boto3.DEFAULT_SESSION = saved


@pytest.fixture(scope="session")
def airflow_stack(local_aws_servers, tmp_path_factory) -> StackFactory:
    """``with airflow_stack(name, env) as stack:`` starts Airflow against the local AWS."""

    @contextmanager
    def start(name: str, env: Mapping[str, str]) -> Generator[LightAirflow]:
        home = tmp_path_factory.mktemp(f"airflow-{name}")
        with LightAirflow(home, {**local_aws_servers.env, **env}, name=name) as stack:
            _running.append(stack)
            try:
                yield stack
            finally:
                _running.remove(stack)

    return start


@pytest.fixture
def reports(local_aws_servers) -> Iterator[World]:
    """A fresh bucket for one test.

    The emulator's data is never reset here: a stack may still be using configurations
    seeded for its Variables. Faults are cleared after each test.
    """
    yield new_world(local_aws_servers)
    local_aws_servers.emulator.clear_faults()
