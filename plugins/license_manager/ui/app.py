"""The License consumption page: a FastAPI app the api-server mounts at /license-consumption.

Every route depends on the api-server's own security: a valid Airflow login (a bearer token
from ``/auth/token`` or the UI's session cookie) with read access to the ``license_tracking``
DAG. The page's script and style are served by authenticated routes too, and FastAPI's
generated docs and schema are off.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from importlib.resources import files
from typing import Annotated

from airflow.api_fastapi.core_api.security import requires_access_dag
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from license_manager.retries import error_code
from license_manager.ui.data import (
    Location,
    LocationRefused,
    PageCache,
    page_location,
    s3_hook,
)

DAG_ID = "license_tracking"
URL_PREFIX = "/license-consumption"
ASSETS = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
#: What the page's responses allow a browser to do: its own script, style and data only.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

cache = PageCache()


def _asset(name: str) -> str:
    return files("license_manager.ui").joinpath("assets", name).read_text(encoding="utf-8")


def _location(bucket: str | None, prefix: str | None) -> Location:
    try:
        return page_location(bucket, prefix)
    except LocationRefused as refused:
        raise HTTPException(status_code=403, detail=str(refused)) from None


@contextmanager
def _s3_answers(location: Location) -> Generator[None]:
    """An error S3 answers (the bucket of another owner, access denied, no such bucket) is a
    502 naming the bucket and S3's error code, never data; no answer in time is a 504."""
    try:
        yield
    except ClientError as error:
        code = error_code(error) or "unknown error"
        owner = f" (expected owner {location.bucket_owner})" if location.bucket_owner else ""
        detail = f"S3 refused reading s3://{location.bucket}/{location.prefix}{owner}: {code}"
        raise HTTPException(status_code=502, detail=detail) from None
    except (BotocoreConnectionError, HTTPClientError) as error:
        detail = (
            f"S3 did not answer in time reading s3://{location.bucket}/{location.prefix}: "
            f"{type(error).__name__}"
        )
        raise HTTPException(status_code=504, detail=detail) from None


Bucket = Annotated[str | None, Query(description="must be the configured bucket")]
Prefix = Annotated[str | None, Query(description="report prefix; default: the Variable's")]


def create_app() -> FastAPI:
    """The page's app; every route requires read access to the license_tracking DAG."""
    app = FastAPI(
        title="License consumption",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(requires_access_dag(method="GET", param_dag_id=DAG_ID))],
    )

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        html = _asset("page.html").replace("{{root}}", root)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    @app.get("/assets/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(status_code=404)
        return Response(_asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    @app.get("/api/report")
    def report(bucket: Bucket = None, prefix: Prefix = None) -> Response:
        location = _location(bucket, prefix)
        with _s3_answers(location):
            body = cache.page_json(s3_hook, location)
        return Response(body, media_type="application/json", headers=SECURITY_HEADERS)

    @app.get("/download/{name}")
    def download(name: str, bucket: Bucket = None, prefix: Prefix = None) -> StreamingResponse:
        """A CSV of the latest report set the page shows, streamed from S3: only a file of the
        report layout in the set's own folder, and only when its manifest lists it."""
        location = _location(bucket, prefix)
        with _s3_answers(location):
            cache.page_json(s3_hook, location)
        key = cache.download_key(location, name)
        if key is None or not name.endswith(".csv"):
            raise HTTPException(status_code=404, detail=f"{name} is not a file of the latest set")
        with _s3_answers(location):
            s3 = s3_hook(location).get_conn()
            body = s3.get_object(Bucket=location.bucket, Key=key)["Body"]
        return StreamingResponse(
            body.iter_chunks(1024 * 1024),
            media_type="text/csv; charset=utf-8",
            headers={**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    return app


app = create_app()
