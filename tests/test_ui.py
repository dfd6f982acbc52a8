"""The License consumption page under FastAPI's TestClient, mounted by the api-server's app."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from tests.support import MOTO_ACCOUNT, config_arn, fetch_label

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.xdist_group("ui")]

PAGE = "/license-consumption"
#: The folder of the later of the two runs (fixture ``two_runs``).
LATEST = "2026/11/29/20261129T000000Z/"
#: Every route of the page's app, with a name the page's data lists.
ROUTES = (
    f"{PAGE}/",
    f"{PAGE}/assets/page.js",
    f"{PAGE}/assets/page.css",
    f"{PAGE}/api/report",
    f"{PAGE}/download/license-consumption-summary.csv",
)
DOCS = (f"{PAGE}/docs", f"{PAGE}/redoc", f"{PAGE}/openapi.json")


@pytest.fixture(scope="module")
def api(airflow_db):
    """The api-server's own app (plugins mounted as in production) and a token maker."""
    import os

    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    os.environ.setdefault(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    client = TestClient(create_app(), base_url="http://airflow.test")

    def token(role: str | None) -> str:
        user = SimpleAuthManagerUser(username=f"user-{role}", role=role)
        return get_auth_manager().generate_jwt(user)

    return client, token


@contextmanager
def page_reading(bucket: str) -> Generator[None]:
    """The page reads ``bucket`` (the Variable, no prefix), with an empty cache."""
    from license_manager.ui.app import cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET", bucket)
        patch.delenv("AIRFLOW_VAR_LICENSE_REPORT_PREFIX", raising=False)
        patch.delenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", raising=False)
        cache.clear()
        try:
            yield
        finally:
            cache.clear()


@pytest.fixture
def page_reads_world(world):
    """The page reads the world's bucket, with an empty cache."""
    with page_reading(world.bucket):
        yield world


@pytest.fixture(scope="module")
def two_runs(local_aws_servers, airflow_db):
    """Two runs of the DAG into a bucket of their own, made once for the module's tests (they
    only read it): an over-limit RHEL configuration whose consumption grew."""
    from local_aws.seeding import make_configuration
    from tests.support import World, load_dag

    local_aws_servers.emulator.reset()
    world = World(local_aws_servers, load_dag(), f"page-{uuid.uuid4().hex[:12]}")
    world.s3.create_bucket(Bucket=world.bucket)

    def seed(consumed: int) -> str:
        entry = make_configuration(rhel, name="RHEL - Instance", license_count=20, usage_count=2)
        entry["ConsumedLicenses"] = consumed
        world.seed(entry)
        return rhel

    rhel = config_arn("us-east-1", "222222222222")
    fine = world.add(name="Windows Server", license_count=100, usage_count=3)
    seed(22)
    world.run(datetime(2026, 11, 28, tzinfo=UTC), license_config_arns=[rhel, fine])
    seed(25)
    world.run(datetime(2026, 11, 29, tzinfo=UTC), license_config_arns=[rhel, fine])
    return {"rhel": rhel, "fine": fine, "bucket": world.bucket, "world": world}


@pytest.fixture
def reports(two_runs):
    """The page reads the bucket of the module's two runs, with an empty cache."""
    with page_reading(two_runs["bucket"]):
        yield two_runs


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_a_request_without_login(api, route):
    client, _ = api
    assert client.get(route).status_code in (401, 403)
    assert client.get(route, headers={"Authorization": "Bearer not-a-token"}).status_code in (
        401,
        403,
    )


@pytest.mark.parametrize("route", ROUTES)
def test_a_user_without_access_to_the_dag_is_refused(api, route):
    client, token = api
    response = client.get(route, headers={"Authorization": f"Bearer {token(None)}"})
    assert response.status_code == 403


@pytest.mark.parametrize("route", DOCS)
def test_generated_docs_and_schema_are_off(api, route):
    client, token = api
    assert client.get(route).status_code == 404
    assert (
        client.get(route, headers={"Authorization": f"Bearer {token('admin')}"}).status_code == 404
    )


def test_the_page_and_its_assets_with_a_token_and_with_the_ui_session(api):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    page = client.get(f"{PAGE}/", headers=bearer)
    assert page.status_code == 200
    assert f'src="{PAGE}/assets/page.js"' in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # 'self' only
    assert client.get(f"{PAGE}/assets/page.js", headers=bearer).status_code == 200
    assert client.get(f"{PAGE}/assets/page.css", headers=bearer).status_code == 200
    assert client.get(f"{PAGE}/assets/other.js", headers=bearer).status_code == 404
    # The UI's own session: the api-server's JWT cookie, as a browser sends it.
    client.cookies.set("_token", token("viewer"))
    try:
        assert client.get(f"{PAGE}/").status_code == 200
    finally:
        client.cookies.clear()


def test_the_page_data_shows_status_change_and_history(api, reports):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    response = client.get(f"{PAGE}/api/report", headers=bearer)
    assert response.status_code == 200
    data = response.json()
    assert data["run_timestamp"] == "20261129T000000Z"
    assert data["history_timestamps"] == ["20261128T000000Z", "20261129T000000Z"]
    rows = {row["arn"]: row for row in data["configurations"]}
    rhel = rows[reports["rhel"]]
    assert (rhel["name"], rhel["status"], rhel["consumed"], rhel["count"]) == (
        "RHEL - Instance",
        "OVER_LIMIT",
        25,
        20,
    )
    assert (rhel["percent"], rhel["change"], rhel["history"]) == (125.0, 3, [22, 25])
    assert rows[reports["fine"]]["status"] == "OK"
    assert data["not_collected"] == []
    names = {file["name"]: file["configuration"] for file in data["files"]}
    assert names["license-consumption-summary.csv"] is None
    rhel_id = reports["rhel"].rsplit(":", 1)[1]
    assert names[f"{rhel_id}-usage.csv"] == fetch_label("RHEL - Instance", reports["rhel"])


def test_downloads_go_through_the_page_and_only_for_files_of_the_set(api, reports):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    summary = client.get(f"{PAGE}/download/license-consumption-summary.csv", headers=bearer)
    assert summary.status_code == 200
    assert summary.headers["content-disposition"].startswith("attachment;")
    assert summary.content == reports["world"].read(LATEST + "license-consumption-summary.csv")
    assert client.get(f"{PAGE}/download/manifest.json", headers=bearer).status_code == 404
    assert client.get(f"{PAGE}/download/..%2Fsecret.csv", headers=bearer).status_code == 404


def test_downloads_refuse_keys_a_manifest_places_outside_the_layout(api, page_reads_world):
    """A manifest that lists a key outside the set's folder, or a file the report layout does
    not have, never makes the page serve it."""
    from tests.test_ui_page_reads import FOLDER, put_report_set

    world = page_reads_world
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    usage = f"lic-{uuid.uuid4().hex}-usage.csv"
    outside = ("private/payroll.csv", f"private/{usage}", FOLDER + "notes.csv")
    for key in outside:
        world.s3.put_object(Bucket=world.bucket, Key=key, Body=b"not for the page")
    listed = [{"key": key, "rows": 1, "bytes": 16} for key in outside]
    keys = put_report_set(world.bucket, FOLDER, extra_files=listed)

    for name in ("payroll.csv", usage, "notes.csv", "manifest.json"):
        response = client.get(f"{PAGE}/download/{name}", headers=bearer)
        assert response.status_code == 404, name
        assert b"not for the page" not in response.content
    for name, key in keys.items():
        response = client.get(f"{PAGE}/download/{name}", headers=bearer)
        assert (response.status_code, response.content) == (200, world.read(key)), name
    data = client.get(f"{PAGE}/api/report", headers=bearer).json()
    assert {file["name"] for file in data["files"]} == set(keys)  # the page links no other


def test_no_other_bucket_and_no_dot_dot_prefix(api, reports):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('admin')}"}
    other = client.get(f"{PAGE}/api/report", params={"bucket": "someone-elses"}, headers=bearer)
    assert other.status_code == 403
    dots = client.get(f"{PAGE}/api/report", params={"prefix": "a/../b"}, headers=bearer)
    assert dots.status_code == 403
    empty = client.get(f"{PAGE}/api/report", params={"prefix": "nothing-here/"}, headers=bearer)
    assert empty.status_code == 200 and empty.json()["configurations"] == []


def test_the_prefix_is_the_one_the_dag_writes_and_what_the_dag_refuses_is_refused(
    api, page_reads_world, monkeypatch
):
    from license_manager.validation import report_prefix

    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    doubled = client.get(f"{PAGE}/api/report", params={"prefix": "a//b"}, headers=bearer)
    assert doubled.status_code == 200
    assert doubled.json()["prefix"] == report_prefix("a//b") == "a/b/"
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_PREFIX", "/team//reports")
    assert client.get(f"{PAGE}/api/report", headers=bearer).json()["prefix"] == "team/reports/"
    for refused in ("a/../b", "./a", "a\x01b"):
        response = client.get(f"{PAGE}/api/report", params={"prefix": refused}, headers=bearer)
        assert response.status_code == 403, refused
        assert "license_report_prefix" in response.json()["detail"], refused
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", "123")
    response = client.get(f"{PAGE}/api/report", headers=bearer)
    assert response.status_code == 403
    assert "license_report_bucket_owner" in response.json()["detail"]


def test_every_s3_request_of_the_page_names_the_bucket_owner(api, reports, s3_proxy, monkeypatch):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    s3_proxy.expect_bucket_owner(MOTO_ACCOUNT)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", MOTO_ACCOUNT)
    first = len(s3_proxy.requests)

    data = client.get(f"{PAGE}/api/report", headers=bearer)
    summary = client.get(f"{PAGE}/download/license-consumption-summary.csv", headers=bearer)
    sent = s3_proxy.requests[first:]

    assert data.status_code == 200 and len(data.json()["configurations"]) == 2
    assert summary.status_code == 200
    assert summary.content == reports["world"].read(LATEST + "license-consumption-summary.csv")
    assert {"ListObjectsV2", "GetObject"} <= {request.operation for request in sent}
    for request in sent:
        assert request.headers.get("x-amz-expected-bucket-owner") == MOTO_ACCOUNT, request


def test_a_bucket_of_another_owner_shows_an_error_and_no_data(api, reports, s3_proxy, monkeypatch):
    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    s3_proxy.expect_bucket_owner(MOTO_ACCOUNT)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", "999999999999")

    data = client.get(f"{PAGE}/api/report", headers=bearer)
    summary = client.get(f"{PAGE}/download/license-consumption-summary.csv", headers=bearer)

    for response in (data, summary):
        assert response.status_code == 502
        assert response.json() == {
            "detail": f"S3 refused reading s3://{reports['bucket']}/ "
            "(expected owner 999999999999): AccessDenied"
        }
    assert reports["rhel"] not in data.text + summary.text


def test_a_configuration_that_was_not_collected_is_listed_as_not_collected(api, page_reads_world):
    world = page_reads_world
    client, token = api
    fine = world.add(name="Fine", license_count=100, usage_count=1)
    denied = world.add(name="Locked away", usage_count=1)
    world.emulator.set_faults({"permanent_errors": {denied: "AccessDeniedException"}})
    dag_run = world.run(datetime(2026, 11, 29, tzinfo=UTC), license_config_arns=[fine, denied])
    assert dag_run.state == "failed"

    response = client.get(
        f"{PAGE}/api/report", headers={"Authorization": f"Bearer {token('viewer')}"}
    )

    assert response.status_code == 200
    data = response.json()
    (not_collected,) = data["not_collected"]
    assert (not_collected["arn"], not_collected["status"]) == (denied, "failed")
    assert "AccessDeniedException" in not_collected["error"]
    rows = {row["arn"]: row for row in data["configurations"]}
    assert (rows[denied]["status"], rows[denied]["consumed"]) == ("", None)
    assert "AccessDeniedException" in rows[denied]["error"]
    assert rows[fine]["status"] == "OK"


def test_the_cache_keeps_the_most_recently_viewed_locations_only(local_aws_servers):
    from license_manager.hooks import ReportBucketHook
    from license_manager.ui.data import MAX_CACHED_LOCATIONS, Location, PageCache

    hook = ReportBucketHook(aws_conn_id=None)
    bucket = f"page-cache-{uuid.uuid4().hex[:8]}"
    hook.get_conn().create_bucket(Bucket=bucket)
    calls: list[str] = []
    hook.get_conn().meta.events.register(
        "before-call.s3.*", lambda model, **_: calls.append(model.name)
    )
    cache = PageCache(max_entries=2)

    def reads_s3(prefix: str) -> bool:
        calls.clear()
        cache.page_json(lambda _: hook, Location(bucket, prefix, "unused"))
        return bool(calls)

    viewed = ["a/", "b/", "a/", "c/", "a/", "b/", "c/"]
    assert [reads_s3(prefix) for prefix in viewed] == [True, True, False, True, False, True, True]
    assert PageCache().max_entries == MAX_CACHED_LOCATIONS == 32


def test_repeated_views_do_not_read_s3_again(api, reports, monkeypatch):
    import botocore.client

    client, token = api
    bearer = {"Authorization": f"Bearer {token('viewer')}"}
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(self, operation_name, api_params):
        calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    first = client.get(f"{PAGE}/api/report", headers=bearer).content
    assert calls
    calls.clear()
    assert client.get(f"{PAGE}/api/report", headers=bearer).content == first
    assert calls == []


def test_the_plugin_registers_the_page_without_importing_fastapi():
    import os
    import subprocess
    import sys

    from tests.airflow_home import ROOT

    probe = (
        "import sys; from license_manager.plugin import LicenseManagerPlugin as P; "
        "print(P.fastapi_apps[0]['url_prefix'], P.external_views[0]['href'], "
        "P.external_views[0]['destination'], 'license_manager.ui.app' in sys.modules)"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [
        "/license-consumption",
        "/license-consumption/",
        "nav",
        "False",
    ]


def test_the_navigation_lists_the_page(api):
    client, token = api
    response = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {token('admin')}"})
    (plugin,) = [p for p in response.json()["plugins"] if p["name"] == "license_manager"]
    assert [view["href"] for view in plugin["external_views"]] == ["/license-consumption/"]


def test_s3_that_does_not_answer_in_time_is_a_504_without_data(
    api, page_reads_world, s3_proxy, monkeypatch
):
    from botocore.config import Config
    from license_manager.ui import data

    client, token = api
    monkeypatch.setattr(data, "PAGE_BOTOCORE_CONFIG", Config(connect_timeout=1, read_timeout=0.2))
    s3_proxy.slow_down("ListObjectsV2", 1.0)
    first = len(s3_proxy.requests)

    response = client.get(
        f"{PAGE}/api/report", headers={"Authorization": f"Bearer {token('viewer')}"}
    )

    assert response.status_code == 504
    assert response.json()["detail"].startswith(
        f"S3 did not answer in time reading s3://{page_reads_world.bucket}/"
    )
    listings = [r for r in s3_proxy.requests[first:] if r.operation == "ListObjectsV2"]
    assert len(listings) == data.PAGE_BACKOFF.max_attempts == 2
