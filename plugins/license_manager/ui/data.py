"""What the License consumption page shows, read from the report sets in S3 and cached.

The page reads the bucket, prefix, connection and bucket owner of the DAG's settings (the
Airflow Variables, validated as the DAG validates them); a prefix can be chosen on the page,
never another bucket. Every S3 request carries ``ExpectedBucketOwner`` when
``license_report_bucket_owner`` is set. The latest complete set
gives one row per configuration; the last ``HISTORY_SETS`` complete sets give each
configuration's consumption over time. The page's data is built once per latest set and
kept in the process: within ``CHECK_SECONDS`` nothing is read from S3, and after it only the
listing that finds the latest set, unless a new set has landed; the data of the
``MAX_CACHED_LOCATIONS`` most recently viewed locations is kept.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from license_manager.compliance import STATUSES
from license_manager.history import ReportSet, complete_report_sets, consumed_licenses
from license_manager.report_layout import manifest_key, summary_key
from license_manager.settings import (
    REPORT_LOCATION_SETTINGS,
    airflow_variable,
    report_location_settings,
    setting_value,
)

if TYPE_CHECKING:
    from license_manager.hooks import ReportBucketHook

HISTORY_SETS = 30
#: How long the page trusts its cached data before it lists S3 for a newer report set.
CHECK_SECONDS = 60.0
READ_CONCURRENCY = 10
#: How many locations (bucket, prefix, connection, owner) the page keeps data for.
MAX_CACHED_LOCATIONS = 32
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
    """Where the page reads: the report bucket and prefix, the connection, and the account
    that must own the bucket (``ExpectedBucketOwner`` on every request when given)."""

    bucket: str
    prefix: str
    aws_conn_id: str
    bucket_owner: str | None = None


def page_location(
    bucket: str | None = None,
    prefix: str | None = None,
    variable: Callable[[str], Any] = airflow_variable,
) -> Location:
    """The configured bucket, the given or configured prefix, connection and bucket owner,
    read from the Variables and validated as the DAG's settings are.

    LocationRefused, naming the setting, for a bucket other than ``license_report_bucket``
    and for anything the DAG would refuse (a prefix with ``..`` segments, say).
    """
    values = {name: setting_value(name, {}, variable) for name in REPORT_LOCATION_SETTINGS}
    if not values["license_report_bucket"]:
        raise LocationRefused("the Airflow Variable license_report_bucket is not set")
    if prefix is not None:
        values["license_report_prefix"] = prefix
    try:
        checked = report_location_settings(values)
    except ValueError as error:
        raise LocationRefused(str(error)) from None
    configured = checked["license_report_bucket"]
    if bucket and bucket.strip() != configured:
        raise LocationRefused(f"only the configured bucket {configured!r} can be read here")
    return Location(
        configured,
        checked["license_report_prefix"],
        checked["aws_conn_id"],
        checked["license_report_bucket_owner"],
    )


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
    """The page's data per location, as JSON, rebuilt only when a newer set lands.

    At most ``max_entries`` locations are kept; the least recently viewed goes first. A
    location is its bucket, prefix, connection and bucket owner: data read under one owner
    is never shown under another.
    """

    def __init__(
        self,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_CACHED_LOCATIONS,
    ) -> None:
        self.check_seconds = check_seconds
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[Location, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def page_json(
        self, s3_hook: Callable[[Location], ReportBucketHook], location: Location
    ) -> bytes:
        """The page's data for ``location``; ``s3_hook(location)`` reads S3 when needed."""
        with self._lock:
            entry = self._entries.get(location)
            if entry:
                self._entries.move_to_end(location)
            if entry and self.clock() - entry.checked_at < self.check_seconds:
                return entry.body
            s3 = s3_hook(location)
            latest = next(complete_report_sets(s3, location.bucket, location.prefix), None)
            folder = latest.folder if latest else None
            if entry and entry.latest_folder == folder:
                entry.checked_at = self.clock()
                return entry.body
            body = _page_body(s3, location, latest)
            manifest = latest.manifest if latest else {}
            self._keep(location, _Entry(folder, self.clock(), body, manifest))
            return body

    def _keep(self, location: Location, entry: _Entry) -> None:
        """Cache ``entry`` as the most recently used; evict the least recently used beyond
        ``max_entries``. The caller holds the lock."""
        self._entries[location] = entry
        self._entries.move_to_end(location)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def latest_files(self, location: Location) -> dict[str, str]:
        """File name to key of the cached latest set's files (what the page links to)."""
        with self._lock:
            entry = self._entries.get(location)
        files = entry.manifest.get("files", []) if entry else []
        return {item["key"].rsplit("/", 1)[-1]: item["key"] for item in files}


def _page_body(s3: ReportBucketHook, location: Location, latest: ReportSet | None) -> bytes:
    data = (
        build_page_data(s3, location, latest)
        if latest
        else {**EMPTY_PAGE, "bucket": location.bucket, "prefix": location.prefix}
    )
    return json.dumps(data, separators=(",", ":")).encode()


def s3_hook(location: Location) -> ReportBucketHook:
    """The page's S3 hook: the location's connection, ``ExpectedBucketOwner`` on every request
    when the location names the bucket's owner."""
    from license_manager.hooks import ReportBucketHook

    return ReportBucketHook(aws_conn_id=location.aws_conn_id, bucket_owner=location.bucket_owner)
