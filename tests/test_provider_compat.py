"""Each override of license_manager.provider_compat: still reached by the provider and boto3 in
the installed versions (these tests fail after an upgrade that renames or bypasses one), and
switched off by ``[license_manager] provider_overrides = False``."""

from __future__ import annotations

import json

import pytest
from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
from license_manager import provider_compat
from license_manager.hooks import LicenseManagerHook
from license_manager.sessions import SHARED_BOTOCORE_DATA, SharedBotocoreSessionFactory

pytestmark = pytest.mark.provider_seams  # also run by every compatibility matrix cell

SWITCH = "AIRFLOW__LICENSE_MANAGER__PROVIDER_OVERRIDES"


@pytest.fixture(params=[True, False], ids=["overrides on", "overrides off"])
def overrides(request, monkeypatch) -> bool:
    if request.param:
        monkeypatch.delenv(SWITCH, raising=False)
    else:
        monkeypatch.setenv(SWITCH, "False")
    assert provider_compat.overrides_enabled() is request.param
    return request.param


class InventoryOperator:
    def execute(self):
        return LicenseManagerHook(aws_conn_id=None, region_name="us-east-1").conn


def test_the_provider_names_the_caller_through_the_override(monkeypatch, overrides):
    import inspect

    stack_reads = []
    stack = inspect.stack

    def counted_stack(*args, **kwargs):
        stack_reads.append(1)
        return stack(*args, **kwargs)

    monkeypatch.setattr(inspect, "stack", counted_stack)
    walks = []
    walk = provider_compat.CallerFromFrames._get_caller

    def counted_walk(self, *args, **kwargs):
        walks.append(1)
        return walk(self, *args, **kwargs)

    monkeypatch.setattr(provider_compat.CallerFromFrames, "_get_caller", counted_walk)

    user_agent = InventoryOperator().execute().meta.config.user_agent_extra

    assert "_get_caller" in vars(AwsGenericHook)  # the private method the override replaces
    assert walks == [1]  # the provider still asks it once per client
    assert "Caller/InventoryOperator" in user_agent  # either way, the same name
    assert bool(stack_reads) is not overrides  # and only the provider's way reads the stack


@pytest.fixture
def role_connection(monkeypatch, local_aws_servers):
    connection = {
        "conn_type": "aws",
        "login": "AKIAROLESOURCEKEYS01",
        "password": "source-secret",
        "extra": {"role_arn": "arn:aws:iam::123456789012:role/compat", "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_COMPAT_ROLE", json.dumps(connection))
    return "aws_compat_role"


def test_an_assumed_role_session_gets_the_shared_data_through_the_override(
    role_connection, overrides
):
    import boto3

    hook = LicenseManagerHook(aws_conn_id=role_connection, region_name="eu-west-1")
    session = SharedBotocoreSessionFactory(conn=hook.conn_config).create_session()

    # boto3 still wraps the botocore session in the private attribute the override reaches.
    assert isinstance(session, boto3.session.Session)
    loader = session._session.get_component("data_loader")
    # The provider still builds the assumed role's session itself: without the override, its
    # own loader. (Should this fail with the override off, the override is no longer needed.)
    assert (loader is SHARED_BOTOCORE_DATA) is overrides
    assert session.get_credentials().method == "sts-assume-role"


def test_overrides_are_on_unless_switched_off(monkeypatch):
    monkeypatch.delenv(SWITCH, raising=False)
    assert provider_compat.overrides_enabled()
    monkeypatch.setenv(SWITCH, "True")
    assert provider_compat.overrides_enabled()
    monkeypatch.setenv(SWITCH, "false")
    assert not provider_compat.overrides_enabled()
