"""LicenseManagerHook through botocore against the emulator: paging and back-off."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from license_manager.hooks import Backoff, LicenseManagerHook

from local_aws.seeding import make_configuration
from tests.support import config_arn

FAST = Backoff(max_attempts=30, base_delay=0.001, max_delay=0.01)


@pytest.fixture
def emulator(local_aws_servers):
    local_aws_servers.emulator.reset()
    return local_aws_servers.emulator


def hook_for(arn: str, backoff: Backoff = FAST) -> LicenseManagerHook:
    return LicenseManagerHook(aws_conn_id=None, region_name=arn.split(":")[3], backoff=backoff)


def test_throttled_pages_resume_from_their_token_without_loss_or_repeats(emulator):
    arn = config_arn("eu-west-1")
    emulator.seed([make_configuration(arn, usage_count=1000)], replace=False)
    emulator.set_faults({"throttle_rate": 0.4, "throttle_seed": 7})

    records = [r["ResourceArn"] for page in hook_for(arn).iter_usage_pages(arn) for r in page]

    assert len(records) == 1000 == len(set(records))
    calls = emulator.call_count("ListUsageForLicenseConfiguration", arn)
    assert calls > 10  # ten pages were served, and some calls were throttled


def test_get_configuration_drops_response_metadata(emulator):
    arn = config_arn("ap-southeast-2")
    emulator.seed([make_configuration(arn, name="Oracle", usage_count=0)], replace=False)
    configuration = hook_for(arn).get_license_configuration(arn)
    assert configuration["Name"] == "Oracle"
    assert "ResponseMetadata" not in configuration


def test_permanent_errors_are_not_retried(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults({"permanent_errors": {arn: "AccessDeniedException"}})
    with pytest.raises(ClientError, match="AccessDeniedException"):
        hook_for(arn).get_license_configuration(arn)
    assert emulator.call_count("GetLicenseConfiguration", arn) == 1


def test_retries_are_bounded(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 10, "error": "ServerInternalException"}}}
    )
    bounded = Backoff(max_attempts=3, base_delay=0.001, max_delay=0.01)
    with pytest.raises(ClientError, match="ServerInternalException"):
        hook_for(arn, bounded).get_license_configuration(arn)
    assert emulator.call_count("GetLicenseConfiguration", arn) == 3


def test_backoff_delays_grow_exponentially_with_full_jitter():
    policy = Backoff(max_attempts=6, base_delay=0.5, max_delay=4.0)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= delay <= cap for delay in delays)
        assert max(delays) > cap / 2


# --- What each task process pays for its clients ------------------------------------------------


def _json_files_read(monkeypatch) -> list[str]:
    """Every botocore data file parsed from now on."""
    import botocore.loaders

    read: list[str] = []
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self, file_path):
        data = original(self, file_path)
        if data is not None:
            read.append(file_path)
        return data

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)
    return read


def test_preloaded_botocore_data_serves_both_hooks_without_parsing_again(monkeypatch):
    from license_manager.hooks import ReportBucketHook, load_botocore_data

    load_botocore_data()
    read = _json_files_read(monkeypatch)

    license_manager = LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1")
    license_manager.conn.get_paginator("list_usage_for_license_configuration")
    ReportBucketHook(aws_conn_id=None).conn.get_paginator("list_objects_v2")

    assert read == []


def test_without_preload_the_second_hook_reuses_what_the_first_parsed(monkeypatch):
    from license_manager import hooks

    monkeypatch.setattr(hooks, "SHARED_BOTOCORE_DATA", hooks.Loader())
    read = _json_files_read(monkeypatch)

    hooks.LicenseManagerHook(aws_conn_id=None, region_name="us-east-1").get_conn()
    first = len(read)
    hooks.LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1").get_conn()

    assert any(path.endswith("endpoints") for path in read)
    assert first > 0 and len(read) == first


def test_sessions_start_from_a_copy_of_botocores_builtin_handlers(monkeypatch, local_aws_servers):
    import uuid

    import botocore.session
    from botocore.exceptions import ParamValidationError
    from license_manager.hooks import ReportBucketHook

    def no_registration(*args, **kwargs):
        raise AssertionError("a session registered botocore's built-in handlers again")

    monkeypatch.setattr(botocore.session.Session, "_register_builtin_handlers", no_registration)
    s3 = ReportBucketHook(aws_conn_id=None).conn

    bucket = f"handlers-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"x\r\n")
    assert s3.get_object(Bucket=bucket, Key="a.csv")["Body"].read() == b"x\r\n"
    with pytest.raises(ParamValidationError, match="Invalid bucket name"):
        s3.head_bucket(Bucket="not/a bucket")  # checked by a built-in handler


@pytest.mark.parametrize("defined", [True, False])
def test_hooks_in_a_shared_block_look_their_connection_up_once(monkeypatch, defined):
    from airflow.sdk.definitions.connection import Connection
    from license_manager.hooks import ReportBucketHook, connection_lookups_shared

    if defined:
        monkeypatch.setenv("AIRFLOW_CONN_REPORTING", '{"conn_type": "aws"}')
    lookups = []
    original = Connection.get.__func__

    def counted(cls, conn_id):
        lookups.append(conn_id)
        return original(cls, conn_id)

    monkeypatch.setattr(Connection, "get", classmethod(counted))

    def both_hooks():
        LicenseManagerHook(aws_conn_id="reporting", region_name="eu-west-1").get_conn()
        ReportBucketHook(aws_conn_id="reporting").get_conn()

    both_hooks()
    assert lookups == ["reporting", "reporting"]
    lookups.clear()
    with connection_lookups_shared():
        both_hooks()
    assert lookups == ["reporting"]


def test_a_session_factory_of_the_users_own_is_still_used(monkeypatch):
    from airflow.providers.amazon.aws.hooks import base_aws

    made = []

    class AuditedSessionFactory(base_aws.BaseSessionFactory):
        def create_session(self, deferrable=False):
            made.append(self.region_name)
            return super().create_session(deferrable=deferrable)

    monkeypatch.setattr(base_aws, "SessionFactory", AuditedSessionFactory)

    LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1").get_conn()

    assert made == ["eu-west-1"]


def test_user_agent_names_the_operator_that_created_the_client(monkeypatch):
    import inspect

    def no_stack_inspection(*args, **kwargs):
        raise AssertionError("inspect.stack() was called")

    # The provider's caller lookup swallows errors into "Unknown": the assertion below fails.
    monkeypatch.setattr(inspect, "stack", no_stack_inspection)

    class InventoryOperator:
        def execute(self):
            return LicenseManagerHook(aws_conn_id=None, region_name="us-east-1").conn

    user_agent = InventoryOperator().execute().meta.config.user_agent_extra

    assert "Caller/InventoryOperator" in user_agent
    assert "Airflow/" in user_agent and "AmPP/" in user_agent


@pytest.mark.parametrize(("setting", "preloaded"), [(None, False), ("True", True)])
def test_plugin_preloads_only_when_asked(setting, preloaded):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__LICENSE_MANAGER")}
    env["PYTHONPATH"] = str(ROOT / "plugins")
    if setting:
        env["AIRFLOW__LICENSE_MANAGER__PRELOAD"] = setting
    probe = (
        "import sys; from license_manager.plugin import LicenseManagerPlugin; "
        "LicenseManagerPlugin.on_load(); "
        "print('license_manager.preload' in sys.modules, 'boto3' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.splitlines()[-1].split() == [str(preloaded), str(preloaded)]
