"""End-to-end fixtures: a running Airflow stack per test module, and what the tests read back."""

from __future__ import annotations

import json
import sys
import uuid
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


@pytest.fixture
def alert_queue(local_aws_servers) -> tuple[str, Callable[[], list[str]]]:
    """An SNS topic and a function returning the messages of an SQS queue subscribed to it."""
    name = f"license-alerts-{uuid.uuid4().hex[:8]}"
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    received: list[str] = []

    def messages() -> list[str]:
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        for message in answer.get("Messages", []):
            received.append(json.loads(message["Body"])["Message"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return list(received)

    return topic, messages
