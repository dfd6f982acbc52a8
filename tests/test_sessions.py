"""The sessions behind the package's hooks: the credentials and botocore config each kind of
connection gives them, and the shared botocore data and handlers that keep them cheap.

The production paths are a connection defined in AIRFLOW_CONN_* (keys, a role to assume, botocore
config_kwargs), each with the factory chosen by the hooks themselves and with the one that
deploy/airflow.env names in ``[aws] session_factory``. Calls go to the emulator and moto."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from airflow.providers.amazon.aws.hooks import base_aws
from license_manager.hooks import LicenseManagerHook, ReportBucketHook, connection_lookups_shared
from license_manager.sessions import SharedBotocoreSessionFactory, load_botocore_data

from local_aws.seeding import make_configuration
from tests.support import config_arn

pytestmark = pytest.mark.provider_seams  # also run by every compatibility matrix cell

ROLE_ARN = "arn:aws:iam::123456789012:role/license-reader"
CONNECTIONS = {
    "aws_keys": {
        "conn_type": "aws",
        "login": "AKIACONNECTIONKEYS01",
        "password": "connection-secret",
        "extra": {"region_name": "us-east-1"},
    },
    "aws_role": {
        "conn_type": "aws",
        "login": "AKIAROLESOURCEKEYS01",
        "password": "source-secret",
        "extra": {"role_arn": ROLE_ARN, "region_name": "us-east-1"},
    },
    "aws_tuned": {
        "conn_type": "aws",
        "extra": {
            "region_name": "us-east-1",
            "config_kwargs": {
                "connect_timeout": 7,
                "user_agent_extra": "marker/1",
                "retries": {"mode": "standard", "max_attempts": 5},
            },
        },
    },
}


@pytest.fixture
def connections(monkeypatch):
    for conn_id, connection in CONNECTIONS.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


@pytest.fixture(params=["chosen by the hooks", "named in [aws] session_factory"])
def factory_setting(request, monkeypatch):
    """Both ways the package's factory is used: by default, and named as deploy/airflow.env does
    (the provider resolves ``[aws] session_factory`` once, into ``base_aws.SessionFactory``)."""
    if request.param.startswith("named"):
        monkeypatch.setattr(base_aws, "SessionFactory", SharedBotocoreSessionFactory)
    return request.param


class FastPathProbe:
    """What creating clients costs: handler registrations, connection lookups, stack reads."""

    def __init__(self, monkeypatch, files_read: list[str]) -> None:
        import inspect

        import botocore.session
        from airflow.sdk.definitions.connection import Connection

        self.files_read = files_read
        self.registrations = 0
        self.lookups: list[str] = []
        register = botocore.session.Session._register_builtin_handlers
        lookup = Connection.get.__func__

        def counted_registration(session, events):
            self.registrations += 1
            return register(session, events)

        def counted_lookup(cls, conn_id):
            self.lookups.append(conn_id)
            return lookup(cls, conn_id)

        def no_stack_inspection(*args, **kwargs):
            raise AssertionError("inspect.stack() was called")  # the user agent shows "Unknown"

        monkeypatch.setattr(
            botocore.session.Session, "_register_builtin_handlers", counted_registration
        )
        monkeypatch.setattr(Connection, "get", classmethod(counted_lookup))
        monkeypatch.setattr(inspect, "stack", no_stack_inspection)


@pytest.fixture
def probe(monkeypatch, botocore_files_read):
    load_botocore_data()  # as the preload does in a deployment
    botocore_files_read.clear()
    return FastPathProbe(monkeypatch, botocore_files_read)


class FetchTask:
    """Makes the clients a fetch task makes, as ``LicenseManagerOperator.execute`` does."""

    def execute(self, conn_id: str, region: str):
        with connection_lookups_shared():
            license_manager = LicenseManagerHook(aws_conn_id=conn_id, region_name=region).conn
            s3 = ReportBucketHook(aws_conn_id=conn_id).conn
        return license_manager, s3


def access_keys_signing(client) -> list[str]:
    """The access key id of every request the client sends from now on."""
    keys: list[str] = []

    def record(request, **kwargs):
        authorization = request.headers["Authorization"]
        if isinstance(authorization, bytes):
            authorization = authorization.decode()
        keys.append(re.search(r"Credential=([^/]+)/", authorization).group(1))

    client.meta.events.register("before-send", record)
    return keys


def read_a_configuration_and_a_bucket(license_manager, s3, emulator) -> None:
    arn = config_arn(license_manager.meta.region_name)
    emulator.seed([make_configuration(arn, name="Seeded", usage_count=0)], replace=False)
    assert license_manager.get_license_configuration(LicenseConfigurationArn=arn)["Name"]
    bucket = f"sessions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.head_bucket(Bucket=bucket)


# --- Production paths ---------------------------------------------------------------------------


@pytest.mark.usefixtures("connections", "factory_setting")
def test_a_connection_with_keys_signs_with_them_on_the_fast_path(probe, local_aws_servers):
    license_manager, s3 = FetchTask().execute("aws_keys", "eu-west-1")

    assert probe.files_read == []  # botocore data came from the shared loader
    assert probe.registrations == 0  # built-in handlers copied, not registered again
    assert probe.lookups == ["aws_keys"]
    assert "Caller/FetchTask" in license_manager.meta.config.user_agent_extra
    signed = access_keys_signing(license_manager), access_keys_signing(s3)
    read_a_configuration_and_a_bucket(license_manager, s3, local_aws_servers.emulator)
    assert [set(keys) for keys in signed] == [{CONNECTIONS["aws_keys"]["login"]}] * 2


@pytest.mark.usefixtures("connections", "factory_setting")
def test_a_connection_with_a_role_signs_with_what_sts_assume_role_returned(
    probe, local_aws_servers
):
    import boto3

    license_manager, s3 = FetchTask().execute("aws_role", "eu-west-1")

    # Only STS's own model was parsed (it is not preloaded): the rest came from the shared
    # loader. The provider makes the assumed role's botocore session itself, one per hook,
    # which registers the handlers; the sessions that ask STS start from a copy.
    assert all("/sts/" in path for path in probe.files_read)
    assert probe.registrations == 2
    assert probe.lookups == ["aws_role"]
    assert "Caller/FetchTask" in license_manager.meta.config.user_agent_extra
    signed = access_keys_signing(license_manager), access_keys_signing(s3)
    read_a_configuration_and_a_bucket(license_manager, s3, local_aws_servers.emulator)
    # Each hook assumed the role: moto knows the temporary key it handed out, and whose it is.
    keys = {key for client_keys in signed for key in client_keys}
    assert len(keys) == 2 and CONNECTIONS["aws_role"]["login"] not in keys
    for key in keys:
        sts = boto3.client("sts", aws_access_key_id=key, aws_secret_access_key="-")
        identity = sts.get_caller_identity()["Arn"]
        assert identity == "arn:aws:sts::123456789012:assumed-role/license-reader/airflow_aws_role"


@pytest.mark.usefixtures("connections", "factory_setting")
def test_a_connections_botocore_config_reaches_both_clients(probe, local_aws_servers):
    license_manager, s3 = FetchTask().execute("aws_tuned", "eu-west-1")

    assert probe.files_read == []
    assert probe.registrations == 0
    assert probe.lookups == ["aws_tuned"]
    for client in (license_manager, s3):
        assert client.meta.config.connect_timeout == 7
        assert "marker/1" in client.meta.config.user_agent_extra
    assert "Caller/FetchTask" in license_manager.meta.config.user_agent_extra
    # The package's back-off (license_manager.retries) is the only retry layer of both clients.
    for client in (license_manager, s3):
        assert client.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    read_a_configuration_and_a_bucket(license_manager, s3, local_aws_servers.emulator)


@pytest.mark.usefixtures("connections")
def test_botocore_never_retries_license_manager_whatever_the_connection_asks(local_aws_servers):
    emulator = local_aws_servers.emulator
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 1, "error": "ServerInternalException"}}}
    )
    hook = LicenseManagerHook(aws_conn_id="aws_tuned", region_name="us-east-1")
    try:
        with pytest.raises(Exception, match="ServerInternalException"):
            hook.get_license_configuration(arn)
        assert emulator.call_count("GetLicenseConfiguration", arn) == 1
    finally:
        emulator.clear_faults()


@pytest.mark.usefixtures("connections")
def test_with_the_deployments_setting_the_providers_own_hooks_take_the_fast_path(
    monkeypatch, probe
):
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    monkeypatch.setattr(base_aws, "SessionFactory", SharedBotocoreSessionFactory)
    load_botocore_data(("sns",))
    probe.files_read.clear()

    SnsHook(aws_conn_id="aws_keys", region_name="eu-west-1").get_conn()

    assert probe.registrations == 0 and probe.files_read == []


@pytest.mark.slow  # a fresh Airflow interpreter
def test_the_deployment_names_this_factory_and_the_provider_resolves_it():
    """deploy/airflow.env's ``[aws] session_factory``, in a process that first imports the
    provider with it: the provider imports this package while importing ``base_aws``."""
    import os
    import subprocess
    import sys

    from local_airflow.environment import shared_airflow_env
    from tests.airflow_home import ROOT

    setting = shared_airflow_env()["AIRFLOW__AWS__SESSION_FACTORY"]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"), AIRFLOW__AWS__SESSION_FACTORY=setting)
    probe = (
        "from airflow.providers.amazon.aws.hooks.s3 import S3Hook; "
        "from airflow.providers.amazon.aws.hooks import base_aws; "
        "factory = base_aws.SessionFactory; print(factory.__module__ + '.' + factory.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.splitlines()[-1] == setting
    assert setting == f"{SharedBotocoreSessionFactory.__module__}.SharedBotocoreSessionFactory"


def test_a_session_factory_of_the_users_own_is_still_used(monkeypatch):
    made = []

    class AuditedSessionFactory(base_aws.BaseSessionFactory):
        def create_session(self, deferrable=False):
            made.append(self.region_name)
            return super().create_session(deferrable=deferrable)

    monkeypatch.setattr(base_aws, "SessionFactory", AuditedSessionFactory)

    LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1").get_conn()

    assert made == ["eu-west-1"]


# --- The shared parts -----------------------------------------------------------------------------


def test_preloaded_botocore_data_serves_both_hooks_without_parsing_again(botocore_files_read):
    load_botocore_data()
    botocore_files_read.clear()

    license_manager = LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1")
    license_manager.conn.get_paginator("list_usage_for_license_configuration")
    ReportBucketHook(aws_conn_id=None).conn.get_paginator("list_objects_v2")

    assert botocore_files_read == []


def test_without_preload_the_second_hook_reuses_what_the_first_parsed(
    monkeypatch, botocore_files_read
):
    from license_manager import sessions

    monkeypatch.setattr(sessions, "SHARED_BOTOCORE_DATA", sessions.FixedSearchPathLoader())

    LicenseManagerHook(aws_conn_id=None, region_name="us-east-1").get_conn()
    first = len(botocore_files_read)
    LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1").get_conn()

    assert any(path.endswith("endpoints") for path in botocore_files_read)
    assert first > 0 and len(botocore_files_read) == first


def test_the_shared_loader_searches_what_a_new_boto3_session_searches():
    import boto3
    from license_manager.sessions import SHARED_BOTOCORE_DATA

    default = boto3.session.Session()._session.get_component("data_loader").search_paths
    for _ in range(3):
        ReportBucketHook(aws_conn_id=None).get_conn()  # boto3 adds its folder to each session's

    assert SHARED_BOTOCORE_DATA.search_paths == default


def test_sessions_start_from_a_copy_of_botocores_builtin_handlers(monkeypatch, local_aws_servers):
    import botocore.session
    from botocore.exceptions import ParamValidationError

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
