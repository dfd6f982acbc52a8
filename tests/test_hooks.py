"""LicenseManagerHook through botocore against the emulator: its calls, and the back-off the
operator applies around them (paging from each page's token, bounded retries)."""

from __future__ import annotations

from functools import partial

import pytest
from botocore.exceptions import ClientError
from license_manager.hooks import LicenseManagerHook
from license_manager.retries import Backoff

from local_aws.seeding import make_configuration
from tests.support import config_arn

FAST = Backoff(max_attempts=30, base_delay=0.001, max_delay=0.01)


def last_line_printed_by_a_fresh_interpreter(probe: str, **settings: str) -> str:
    """What ``python -c probe`` prints last, with the plugins folder on its path, none of this
    package's settings from the test session, and ``settings`` added to its environment."""
    import os
    import subprocess
    import sys

    from tests.airflow_home import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__LICENSE_MANAGER")}
    env["PYTHONPATH"] = str(ROOT / "plugins")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**env, **settings},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()[-1]


@pytest.fixture
def emulator(local_aws_servers):
    local_aws_servers.emulator.reset()
    return local_aws_servers.emulator


def hook_for(arn: str) -> LicenseManagerHook:
    return LicenseManagerHook(aws_conn_id=None, region_name=arn.split(":")[3])


def test_throttled_pages_resume_from_their_token_without_loss_or_repeats(emulator):
    arn = config_arn("eu-west-1")
    emulator.seed([make_configuration(arn, usage_count=1000)], replace=False)
    emulator.set_faults({"throttle_rate": 0.4, "throttle_seed": 7})

    pages = FAST.pages(partial(hook_for(arn).get_usage_page, arn, 100), "usage")
    records = [record["ResourceArn"] for page in pages for record in page]

    assert len(records) == 1000 == len(set(records))
    calls = emulator.call_count("ListUsageForLicenseConfiguration", arn)
    assert calls > 10  # ten pages were served, and some calls were throttled


def test_a_usage_page_is_one_call_and_names_the_next(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn, usage_count=25)], replace=False)
    hook = hook_for(arn)

    first, token = hook.get_usage_page(arn, page_size=20)
    last, no_token = hook.get_usage_page(arn, page_size=20, next_token=token)

    assert (len(first), len(last), no_token) == (20, 5, None)
    assert emulator.call_count("ListUsageForLicenseConfiguration", arn) == 2


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
        FAST.call(partial(hook_for(arn).get_license_configuration, arn), "configuration")
    assert emulator.call_count("GetLicenseConfiguration", arn) == 1


def test_retries_are_bounded(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 10, "error": "ServerInternalException"}}}
    )
    bounded = Backoff(max_attempts=3, base_delay=0.001, max_delay=0.01)
    with pytest.raises(ClientError, match="ServerInternalException"):
        bounded.call(partial(hook_for(arn).get_license_configuration, arn), "configuration")
    assert emulator.call_count("GetLicenseConfiguration", arn) == 3


def test_botocore_itself_never_retries_license_manager(emulator):
    arn = config_arn()
    emulator.seed([make_configuration(arn)], replace=False)
    emulator.set_faults(
        {"fail_then_succeed": {arn: {"failures": 1, "error": "ServerInternalException"}}}
    )
    with pytest.raises(ClientError, match="ServerInternalException"):
        hook_for(arn).get_license_configuration(arn)
    assert emulator.call_count("GetLicenseConfiguration", arn) == 1


def test_backoff_delays_grow_exponentially_with_full_jitter():
    policy = Backoff(max_attempts=6, base_delay=0.5, max_delay=4.0)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(0 <= delay <= cap for delay in delays)
        assert max(delays) > cap / 2


# --- Connection lookups and the plugin ----------------------------------------------------------


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


def test_hooks_in_a_shared_block_say_where_they_found_credentials_once(caplog):
    from license_manager.hooks import ReportBucketHook, connection_lookups_shared

    def both_hooks():
        LicenseManagerHook(aws_conn_id=None, region_name="eu-west-1").get_conn()
        ReportBucketHook(aws_conn_id=None).get_conn()

    def found_credentials() -> int:
        lines = [r for r in caplog.records if r.getMessage().startswith("Found credentials")]
        caplog.clear()
        return len(lines)

    with caplog.at_level("INFO", logger="botocore.credentials"):
        both_hooks()
        assert found_credentials() == 2  # one for each hook's session
        with connection_lookups_shared():
            both_hooks()
            both_hooks()
        assert found_credentials() == 1
        both_hooks()
        assert found_credentials() == 2  # the block's filter is gone with it


@pytest.mark.slow  # a fresh Airflow interpreter per case
@pytest.mark.parametrize(("setting", "preloaded"), [(None, False), ("True", True)])
def test_plugin_preloads_only_when_asked(setting, preloaded):
    probe = (
        "import sys; from license_manager.plugin import LicenseManagerPlugin; "
        "LicenseManagerPlugin.on_load(); "
        "print('license_manager.preload' in sys.modules, 'boto3' in sys.modules)"
    )
    settings = {"AIRFLOW__LICENSE_MANAGER__PRELOAD": setting} if setting else {}

    printed = last_line_printed_by_a_fresh_interpreter(probe, **settings)

    assert printed.split() == [str(preloaded), str(preloaded)]


def _names_report_bucket_hook(node) -> bool:
    import ast

    return isinstance(node, ast.Name | ast.Attribute) and ast.unparse(node).endswith(
        "ReportBucketHook"
    )


def test_the_package_makes_its_report_bucket_hooks_with_one_factory():
    """No module but hooks.py calls or subclasses ReportBucketHook: hooks.report_bucket_hook."""
    import ast

    from tests.airflow_home import ROOT

    package = ROOT / "plugins" / "license_manager"
    elsewhere = [
        f"{path.relative_to(package)}:{node.lineno}"
        for path in package.rglob("*.py")
        if path.name != "hooks.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.Call) and _names_report_bucket_hook(node.func))
        or (isinstance(node, ast.ClassDef) and any(map(_names_report_bucket_hook, node.bases)))
    ]
    assert not elsewhere


@pytest.mark.slow  # a fresh Airflow interpreter per case
@pytest.mark.parametrize("preload", [False, True])
def test_the_preload_discovers_the_asset_handlers_the_s3_hooks_lineage_needs(preload):
    """A fetch task's first S3 write reports to the hook lineage, which reads the providers'
    asset URI handlers; after the preload, that read imports nothing more."""
    probe = (
        "import sys\n"
        + ("import license_manager.preload\n" if preload else "import license_manager.hooks\n")
        + "from license_manager.compat import ProvidersAssetManager\n"
        "before = set(sys.modules)\n"
        "factories = ProvidersAssetManager().asset_factories\n"
        "print('s3' in factories, len(set(sys.modules) - before))\n"
    )
    has_s3, imported = last_line_printed_by_a_fresh_interpreter(probe).split()
    assert has_s3 == "True"
    assert (int(imported) == 0) is preload


@pytest.mark.slow  # a fresh Airflow interpreter
def test_after_the_preload_the_dag_files_imports_import_nothing_more():
    """A task process parses the DAG file before it runs its task: with the preload, its import
    lines (Airflow's task decorators among them) find every module already loaded."""
    import ast

    from tests.airflow_home import ROOT

    dag_file = ROOT / "dags" / "license_tracking.py"
    imports = "\n".join(
        ast.unparse(node)
        for node in ast.parse(dag_file.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Import)
        or (isinstance(node, ast.ImportFrom) and node.module != "__future__")
    )
    probe = (
        "import sys\n"
        "import license_manager.preload\n"
        "before = set(sys.modules)\n"
        f"{imports}\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    printed = last_line_printed_by_a_fresh_interpreter(probe)

    assert "from airflow.sdk import" in imports
    assert printed == "[]"
