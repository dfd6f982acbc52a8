"""How the License consumption page reads S3: outside the cache's lock, with a client that
fails fast, through the page's own connection, and only the files of the report layout.

Report sets are written straight to moto's S3 here (no DAG run): what matters is what the
page does with what it finds.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support import MOTO_ACCOUNT, config_arn

PAGE = "/license-consumption"
FOLDER = "2026/11/29/20261129T000000Z/"
#: How long a test waits for a thread that should have finished: a bound that keeps a failing
#: test from hanging, not a performance target.
LIVENESS_SECONDS = 20


def put_report_set(
    bucket: str, folder: str, extra_files: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """One complete report set of one configuration in ``folder`` (its summary, usage file and
    manifest); the manifest lists ``extra_files`` too. The keys written, by file name."""
    s3 = boto3.client("s3", region_name="us-east-1")
    arn = config_arn()
    configuration_id = arn.rsplit(":", 1)[-1]
    summary = io.StringIO()
    writer = csv.writer(summary)
    writer.writerow(
        ["LicenseConfigurationArn", "LicenseConfigurationId", "Name", "ConsumedLicenses"]
    )
    writer.writerow([arn, configuration_id, "Windows Server", "3"])
    keys = {
        "license-consumption-summary.csv": f"{folder}license-consumption-summary.csv",
        f"{configuration_id}-usage.csv": f"{folder}{configuration_id}-usage.csv",
    }
    s3.put_object(
        Bucket=bucket, Key=keys["license-consumption-summary.csv"], Body=summary.getvalue()
    )
    s3.put_object(Bucket=bucket, Key=keys[f"{configuration_id}-usage.csv"], Body=b"usage\n")
    files = [{"key": key, "rows": 1, "bytes": 1} for key in keys.values()]
    manifest = {
        "run_id": "manual",
        "configurations": [{"arn": arn, "status": "ok", "consumed_licenses": 3}],
        "files": files + (extra_files or []),
    }
    s3.put_object(Bucket=bucket, Key=f"{folder}manifest.json", Body=json.dumps(manifest))
    return keys


@pytest.fixture
def bucket(local_aws_servers) -> str:
    name = f"page-reads-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=name)
    return name


def in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, threading.Event, list[Any]]:
    """Start ``work`` in a thread: the thread, an event set when it has returned, its result."""
    done, result = threading.Event(), []

    def run() -> None:
        result.append(work())
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, done, result


def held_listings(hook: Any, prefix: str) -> tuple[threading.Event, threading.Event]:
    """Hold every listing of ``prefix`` by ``hook``'s client until the returned gate is set;
    the other event is set when the first such listing is being held."""
    gate, holding = threading.Event(), threading.Event()

    def hold(params: dict[str, Any], **_: Any) -> None:
        if params.get("Prefix") == prefix:
            holding.set()
            gate.wait(LIVENESS_SECONDS)

    hook.get_conn().meta.events.register("before-parameter-build.s3.ListObjectsV2", hold)
    return gate, holding


# --- The cache: S3 is read outside its lock -----------------------------------------------------


def test_a_slow_location_does_not_delay_a_cached_one(bucket):
    from license_manager.hooks import ReportBucketHook
    from license_manager.ui.data import Location, PageCache

    put_report_set(bucket, f"fast/{FOLDER}")
    put_report_set(bucket, f"slow/{FOLDER}")
    hook = ReportBucketHook(aws_conn_id=None)
    cache = PageCache()
    fast, slow = Location(bucket, "fast/", "unused"), Location(bucket, "slow/", "unused")
    cached = cache.page_json(lambda _: hook, fast)
    gate, holding = held_listings(hook, "slow/")
    try:
        slow_thread, slow_done, _ = in_thread(lambda: cache.page_json(lambda _: hook, slow))
        assert holding.wait(LIVENESS_SECONDS), "the slow location's listing never started"
        _, fast_done, fast_result = in_thread(lambda: cache.page_json(lambda _: hook, fast))
        # The cached location answers while the slow one's listing is still held.
        assert fast_done.wait(LIVENESS_SECONDS), "the cached location waited for the slow one"
        assert fast_result == [cached]
        assert not slow_done.is_set()
    finally:
        gate.set()
    slow_thread.join(LIVENESS_SECONDS)
    assert slow_done.is_set()


def test_requests_for_a_location_being_built_wait_for_that_one_build(bucket):
    from license_manager.hooks import ReportBucketHook
    from license_manager.ui.data import Location, PageCache

    put_report_set(bucket, f"slow/{FOLDER}")
    hook = ReportBucketHook(aws_conn_id=None)
    builds: list[Location] = []

    def s3_hook(location: Location) -> ReportBucketHook:
        builds.append(location)
        return hook

    cache = PageCache()
    slow = Location(bucket, "slow/", "unused")
    gate, holding = held_listings(hook, "slow/")
    try:
        first = in_thread(lambda: cache.page_json(s3_hook, slow))
        assert holding.wait(LIVENESS_SECONDS)
        waiting = [in_thread(lambda: cache.page_json(s3_hook, slow)) for _ in range(3)]
    finally:
        gate.set()
    bodies = []
    for thread, done, result in [first, *waiting]:
        thread.join(LIVENESS_SECONDS)
        assert done.is_set()
        bodies += result
    assert builds == [slow]
    assert len(set(bodies)) == 1 and json.loads(bodies[0])["run_timestamp"] == "20261129T000000Z"


# --- The page's S3 client fails fast ------------------------------------------------------------


def test_the_page_client_has_short_timeouts_and_one_retry(local_aws_servers, bucket, s3_proxy):
    from license_manager.ui.data import Location, PageCache, s3_hook

    location = Location(bucket, "", "aws_default")
    client = s3_hook(location).get_conn()
    assert client.meta.config.connect_timeout <= 5
    assert client.meta.config.read_timeout <= 10

    # Listings that keep failing with 503 SlowDown: tried twice, then the error.
    s3_proxy.fail("ListObjectsV2", [503] * 10)
    with pytest.raises(Exception, match="SlowDown"):
        PageCache().page_json(s3_hook, location)
    assert s3_proxy.faults_served["ListObjectsV2"] == 2


def test_the_page_client_keeps_the_connection_s_own_botocore_config(monkeypatch, local_aws_servers):
    from license_manager.ui.data import Location, s3_hook

    extra = {"config_kwargs": {"user_agent_extra": "license-page", "read_timeout": 300}}
    monkeypatch.setenv(
        "AIRFLOW_CONN_PAGE_CONFIGURED", json.dumps({"conn_type": "aws", "extra": extra})
    )
    client = s3_hook(Location("any-bucket", "", "page_configured")).get_conn()
    assert "license-page" in client.meta.config.user_agent_extra
    assert client.meta.config.read_timeout <= 10  # the page's, over the connection's


# --- The page's own connection ------------------------------------------------------------------


@pytest.fixture
def page_variables(monkeypatch, bucket):
    """The page reads ``bucket``; no connection Variables set."""
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET", bucket)
    for name in ("LICENSE_REPORT_PREFIX", "LICENSE_REPORT_BUCKET_OWNER", "AWS_CONN_ID"):
        monkeypatch.delenv(f"AIRFLOW_VAR_{name}", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_LICENSE_PAGE_AWS_CONN_ID", raising=False)
    return monkeypatch


def aws_connection(monkeypatch, conn_id: str, access_key: str) -> None:
    """An Airflow connection (environment variable) with its own access key."""
    connection = {"conn_type": "aws", "login": access_key, "password": "not-a-secret"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def access_keys_sent(requests: list[Any]) -> set[str]:
    """The access key IDs of the SigV4 signatures of ``requests``."""
    return {
        request.headers["authorization"].split("Credential=")[1].split("/")[0]
        for request in requests
    }


def test_the_page_reads_with_license_page_aws_conn_id(page_variables, s3_proxy, bucket):
    from license_manager.ui.data import PageCache, page_location, s3_hook

    put_report_set(bucket, FOLDER)
    aws_connection(page_variables, "pipeline_conn", "AKIAPIPELINE")
    aws_connection(page_variables, "page_reader", "AKIAPAGEREADER")
    page_variables.setenv("AIRFLOW_VAR_AWS_CONN_ID", "pipeline_conn")
    page_variables.setenv("AIRFLOW_VAR_LICENSE_PAGE_AWS_CONN_ID", "page_reader")

    first = len(s3_proxy.requests)
    location = page_location()
    PageCache().page_json(s3_hook, location)

    assert location.aws_conn_id == "page_reader"
    assert access_keys_sent(s3_proxy.requests[first:]) == {"AKIAPAGEREADER"}


def test_without_license_page_aws_conn_id_the_page_reads_with_aws_conn_id(
    page_variables, s3_proxy, bucket
):
    from license_manager.ui.data import PageCache, page_location, s3_hook

    put_report_set(bucket, FOLDER)
    aws_connection(page_variables, "pipeline_conn", "AKIAPIPELINE")
    page_variables.setenv("AIRFLOW_VAR_AWS_CONN_ID", "pipeline_conn")

    first = len(s3_proxy.requests)
    PageCache().page_json(s3_hook, page_location())

    assert access_keys_sent(s3_proxy.requests[first:]) == {"AKIAPIPELINE"}


@pytest.mark.parametrize("value", ["not a connection id", "x" * 251, "conn;id"])
def test_a_malformed_license_page_aws_conn_id_is_refused_naming_it(page_variables, value):
    from license_manager.ui.data import LocationRefused, page_location

    page_variables.setenv("AIRFLOW_VAR_LICENSE_PAGE_AWS_CONN_ID", value)
    with pytest.raises(LocationRefused, match="license_page_aws_conn_id"):
        page_location()


# --- Downloads: the report layout, whatever the manifest says -----------------------------------


def test_only_files_of_the_report_layout_in_the_set_s_folder_are_offered(bucket):
    from license_manager.ui.data import downloadable_files, layout_key

    usage = "lic-" + "0123456789abcdef" * 2 + "-usage.csv"
    assert layout_key(FOLDER, "license-consumption-summary.csv") == (
        FOLDER + "license-consumption-summary.csv"
    )
    assert layout_key(FOLDER, usage) == FOLDER + usage
    assert layout_key(FOLDER, "manifest.json") == FOLDER + "manifest.json"
    for name in ("payroll.csv", "lic-0-usage.csv", "lic-XYZ-usage.csv", "../x.csv", ""):
        assert layout_key(FOLDER, name) is None, name
    manifest = {
        "files": [
            {"key": FOLDER + "license-consumption-summary.csv"},
            {"key": FOLDER + usage},
            {"key": "private/payroll.csv"},
            {"key": f"other/{usage}"},
            {"key": FOLDER + "notes.csv"},
            {"key": FOLDER + "sub/license-consumption-summary.csv"},
            {"key": None},
            "not an entry",
        ]
    }
    assert set(downloadable_files(FOLDER, manifest)) == {"license-consumption-summary.csv", usage}


def test_the_page_owner_header_and_the_page_connection_together(page_variables, s3_proxy, bucket):
    """The page's connection does not drop the bucket owner guard."""
    from license_manager.ui.data import PageCache, page_location, s3_hook

    put_report_set(bucket, FOLDER)
    aws_connection(page_variables, "page_reader", "AKIAPAGEREADER")
    page_variables.setenv("AIRFLOW_VAR_LICENSE_PAGE_AWS_CONN_ID", "page_reader")
    page_variables.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", MOTO_ACCOUNT)
    s3_proxy.expect_bucket_owner(MOTO_ACCOUNT)
    first = len(s3_proxy.requests)

    PageCache().page_json(s3_hook, page_location())

    assert access_keys_sent(s3_proxy.requests[first:]) == {"AKIAPAGEREADER"}
    for request in s3_proxy.requests[first:]:
        assert request.headers.get("x-amz-expected-bucket-owner") == MOTO_ACCOUNT
