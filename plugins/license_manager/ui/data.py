"""What the License consumption page shows, read from the report sets in S3 and cached.

The page reads the bucket, prefix and connection of the DAG's settings (the Airflow
Variables); a prefix can be chosen on the page, never another bucket. The latest complete set
gives one row per configuration; the last ``HISTORY_SETS`` complete sets give each
configuration's consumption over time. The page's data is built once per latest set and
kept in the process: within ``CHECK_SECONDS`` nothing is read from S3, and after it only the
listing that finds the latest set, unless a new set has landed.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from license_manager.compliance import STATUSES
from license_manager.history import ReportSet, complete_report_sets, consumed_licenses
from license_manager.report_layout import manifest_key, summary_key

if TYPE_CHECKING:
    from license_manager.hooks import ReportBucketHook

HISTORY_SETS = 30
#: How long the page trusts its cached data before it lists S3 for a newer report set.
CHECK_SECONDS = 60.0
READ_CONCURRENCY = 10
_SUMMARY_FIELDS = {
    "arn": "LicenseConfigurationArn",
    "id": "LicenseConfigurationId",
    "name": "Name",
    "account": "AccountId",
    "region": "Region",
    "counting_type": "LicenseCountingType",
    "consumed": "ConsumedLicenses",
    "count": "LicenseCount",
    "percent": "UtilizationPercent",
    "status": "ComplianceStatus",
    "previous": "PreviousConsumedLicenses",
    "change": "ConsumedLicensesChange",
    "error": "Error",
}


class LocationRefused(ValueError):
    """A bucket or prefix the page will not read."""


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str
    aws_conn_id: str


def _variable(name: str) -> Any:
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def normalise_prefix(prefix: str) -> str:
    """The prefix as the DAG writes it (``reports/``); LocationRefused for ``..`` segments."""
    prefix = prefix.strip().lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    if any(part in (".", "..") for part in prefix.split("/")) or "\\" in prefix:
        raise LocationRefused(f"prefix {prefix!r} is not allowed")
    return prefix


def page_location(
    bucket: str | None = None,
    prefix: str | None = None,
    variable: Callable[[str], Any] = _variable,
) -> Location:
    """The configured bucket, the given or configured prefix, and the DAG's connection.

    A bucket other than ``license_report_bucket`` is refused.
    """
    configured = str(variable("license_report_bucket") or "").strip()
    if not configured:
        raise LocationRefused("the Airflow Variable license_report_bucket is not set")
    if bucket and bucket.strip() != configured:
        raise LocationRefused(f"only the configured bucket {configured!r} can be read here")
    if prefix is None:
        prefix = str(variable("license_report_prefix") or "")
    aws_conn_id = str(variable("aws_conn_id") or "").strip() or "aws_default"
    return Location(configured, normalise_prefix(prefix), aws_conn_id)


def _summary_rows(s3: ReportBucketHook, bucket: str, folder: str) -> list[dict[str, str]]:
    body = s3.read_bytes(summary_key(folder), bucket) or b""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _number(text: str | None) -> int | float | None:
    if text in (None, ""):
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def _configuration(row: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {name: row.get(column, "") for name, column in _SUMMARY_FIELDS.items()}
    for name in ("consumed", "count", "previous", "change"):
        entry[name] = _number(entry[name])
    entry["percent"] = float(entry["percent"]) if entry["percent"] else None
    return entry


def _history_sets(
    s3: ReportBucketHook, location: Location, latest: ReportSet, limit: int
) -> list[ReportSet]:
    """The latest set and the complete sets before it, ``limit`` in all, newest first.

    Manifests are read several at a time; the folders are listed lazily.
    """
    from license_manager.history import report_folders

    found = [latest]
    folders = report_folders(s3, location.bucket, location.prefix, before=latest.timestamp)

    def read(folder: str) -> ReportSet | None:
        body = s3.read_bytes(manifest_key(folder), location.bucket)
        return ReportSet(folder, json.loads(body)) if body is not None else None

    with ThreadPoolExecutor(READ_CONCURRENCY) as pool:
        while len(found) < limit:
            batch = [folder for _, folder in zip(range(limit - len(found)), folders, strict=False)]
            if not batch:
                break
            found.extend(report_set for report_set in pool.map(read, batch) if report_set)
    return found[:limit]


def build_page_data(
    s3: ReportBucketHook, location: Location, latest: ReportSet, limit: int = HISTORY_SETS
) -> dict[str, Any]:
    """The page's data: the latest set's rows, and each configuration's history."""
    sets = _history_sets(s3, location, latest, limit)
    with ThreadPoolExecutor(READ_CONCURRENCY) as pool:
        consumed = list(
            pool.map(lambda report_set: consumed_licenses(s3, location.bucket, report_set), sets)
        )
    oldest_first = list(reversed(consumed))
    manifest = latest.manifest
    configurations = [
        _configuration(row) for row in _summary_rows(s3, location.bucket, latest.folder)
    ]
    for entry in configurations:
        entry["history"] = [by_arn.get(entry["arn"]) for by_arn in oldest_first]
    files = [
        {"name": item["key"].rsplit("/", 1)[-1], "rows": item["rows"], "bytes": item["bytes"]}
        for item in manifest.get("files", [])
    ]
    return {
        "bucket": location.bucket,
        "prefix": location.prefix,
        "report_folder": f"s3://{location.bucket}/{latest.folder}",
        "run_timestamp": latest.timestamp,
        "run_id": manifest.get("run_id"),
        "collected_at": manifest.get("collected_at"),
        "previous_folder": manifest.get("previous_folder"),
        "statuses": list(STATUSES),
        "history_timestamps": [report_set.timestamp for report_set in reversed(sets)],
        "not_collected": [
            {"arn": c["arn"], "status": c["status"], "error": c.get("error")}
            for c in manifest.get("configurations", [])
            if c["status"] != "ok"
        ],
        "files": files,
        "configurations": configurations,
    }


EMPTY_PAGE: dict[str, Any] = {
    "configurations": [],
    "not_collected": [],
    "files": [],
    "history_timestamps": [],
}


@dataclass
class _Entry:
    latest_folder: str | None
    checked_at: float
    body: bytes
    manifest: dict[str, Any]


class PageCache:
    """The page's data per (bucket, prefix), as JSON, rebuilt only when a newer set lands."""

    def __init__(
        self, check_seconds: float = CHECK_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.check_seconds = check_seconds
        self.clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def page_json(self, s3_hook: Callable[[str], ReportBucketHook], location: Location) -> bytes:
        key = (location.bucket, location.prefix)
        with self._lock:
            entry = self._entries.get(key)
            if entry and self.clock() - entry.checked_at < self.check_seconds:
                return entry.body
            s3 = s3_hook(location.aws_conn_id)
            latest = next(complete_report_sets(s3, location.bucket, location.prefix), None)
            folder = latest.folder if latest else None
            if entry and entry.latest_folder == folder:
                entry.checked_at = self.clock()
                return entry.body
            data = (
                build_page_data(s3, location, latest)
                if latest
                else {**EMPTY_PAGE, "bucket": location.bucket, "prefix": location.prefix}
            )
            body = json.dumps(data, separators=(",", ":")).encode()
            self._entries[key] = _Entry(
                folder, self.clock(), body, latest.manifest if latest else {}
            )
            return body

    def latest_files(self, location: Location) -> dict[str, str]:
        """File name to key of the cached latest set's files (what the page links to)."""
        with self._lock:
            entry = self._entries.get((location.bucket, location.prefix))
        files = entry.manifest.get("files", []) if entry else []
        return {item["key"].rsplit("/", 1)[-1]: item["key"] for item in files}


def s3_hook(aws_conn_id: str) -> ReportBucketHook:
    from license_manager.hooks import ReportBucketHook

    return ReportBucketHook(aws_conn_id=aws_conn_id)
