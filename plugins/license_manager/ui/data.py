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

The page reads S3 with the connection ``license_page_aws_conn_id`` (meant to be read-only),
or ``aws_conn_id`` when that Variable is not set. Its S3 client fails fast
(``PAGE_BOTOCORE_CONFIG``, ``PAGE_BACKOFF``): a page that waits minutes for S3 helps nobody.
S3 is read outside the cache's lock, one build per location at a time, so a slow location
never delays a location already cached. Downloads serve only the files of the report layout
in the latest set's own folder, whatever its manifest lists.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from license_manager import validation
from license_manager.arns import CONFIGURATION_ID_PATTERN
from license_manager.compliance import STATUSES
from license_manager.history import (
    ReportSet,
    complete_report_sets,
    consumed_licenses,
    report_folders,
    summary_records,
)
from license_manager.hooks import ReportBucketHook, report_bucket_hook
from license_manager.operators import configuration_label
from license_manager.report_layout import (
    MANIFEST_FILE,
    SUMMARY_FILE,
    USAGE_FILE_SUFFIX,
    manifest_key,
    summary_key,
    usage_file_name,
    usage_key,
)
from license_manager.retries import Backoff
from license_manager.settings import (
    REPORT_LOCATION_SETTINGS,
    airflow_variable,
    report_location_settings,
    setting_value,
)

HISTORY_SETS = 30
#: How long the page trusts its cached data before it lists S3 for a newer report set.
CHECK_SECONDS = 60.0
READ_CONCURRENCY = 10
#: How many locations (bucket, prefix, connection, owner) the page keeps data for.
MAX_CACHED_LOCATIONS = 32
#: The deployment setting naming the page's own (read-only) connection; ``aws_conn_id`` without.
PAGE_CONNECTION_SETTING = "license_page_aws_conn_id"
#: The page's S3 client: short timeouts, merged over the connection's own botocore config.
#: The read timeout leaves room for a slow listing (seconds), not for a stalled one (minutes).
PAGE_BOTOCORE_CONFIG = Config(connect_timeout=2, read_timeout=5)
#: One more try after a throttling, 5xx or connection error, after at most half a second.
PAGE_BACKOFF = Backoff(max_attempts=2, base_delay=0.2, max_delay=0.5)
#: A license configuration ID, the part of a usage file's name before ``-usage.csv``.
_CONFIGURATION_ID = re.compile(CONFIGURATION_ID_PATTERN)
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
    """Where the page reads: the report bucket and prefix, the page's connection, and the
    account that must own the bucket (``ExpectedBucketOwner`` on every request when given)."""

    bucket: str
    prefix: str
    aws_conn_id: str
    bucket_owner: str | None = None


def page_location(
    bucket: str | None = None,
    prefix: str | None = None,
    variable: Callable[[str], Any] = airflow_variable,
) -> Location:
    """The configured bucket, the given or configured prefix, the page's connection and the
    bucket owner, read from the Variables and validated as the DAG's settings are.

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
        page_connection_id(variable, fallback=checked["aws_conn_id"]),
        checked["license_report_bucket_owner"],
    )


def page_connection_id(variable: Callable[[str], Any], fallback: str) -> str:
    """The Variable ``license_page_aws_conn_id``, validated, or ``fallback`` when it is not
    set; LocationRefused naming the setting when it is not a connection ID."""
    value = variable(PAGE_CONNECTION_SETTING)
    if value is None or (isinstance(value, str) and not value.strip()):
        return fallback
    try:
        return validation.connection_id(value, PAGE_CONNECTION_SETTING)
    except ValueError as error:
        raise LocationRefused(str(error)) from None


def layout_key(folder: str, name: str) -> str | None:
    """The key of the file ``name`` in the report set ``folder`` by the report layout: the
    summary, the manifest or a usage file of a valid configuration ID; None for any other
    name."""
    if name == SUMMARY_FILE:
        return summary_key(folder)
    if name == MANIFEST_FILE:
        return manifest_key(folder)
    configuration_id = name.removesuffix(USAGE_FILE_SUFFIX)
    if name.endswith(USAGE_FILE_SUFFIX) and _CONFIGURATION_ID.fullmatch(configuration_id):
        return usage_key(folder, configuration_id)
    return None


def downloadable_files(folder: str, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """File name to manifest entry, for the manifest's files whose key is where the report
    layout puts a file of that name in ``folder``: a manifest cannot point elsewhere."""
    found = {}
    for item in manifest.get("files", []):
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str):
            continue
        name = key.rsplit("/", 1)[-1]
        if layout_key(folder, name) == key:
            found[name] = item
    return found


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
        _configuration(row) for row in summary_records(s3, location.bucket, latest.folder) or []
    ]
    for entry in configurations:
        entry["history"] = [by_arn.get(entry["arn"]) for by_arn in oldest_first]
    configuration_of = {
        usage_file_name(entry["id"]): configuration_label(
            entry["name"] or entry["arn"], entry["account"], entry["region"]
        )
        for entry in configurations
        if entry["id"]
    }
    files = [
        {
            "name": name,
            "configuration": configuration_of.get(name),
            "rows": item.get("rows"),
            "bytes": item.get("bytes"),
        }
        for name, item in downloadable_files(latest.folder, manifest).items()
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


class _Build:
    """One location's build: its lock, and how many requests hold it or wait for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class PageCache:
    """The page's data per location, as JSON, rebuilt only when a newer set lands.

    At most ``max_entries`` locations are kept; the least recently viewed goes first. A
    location is its bucket, prefix, connection and bucket owner: data read under one owner
    is never shown under another.

    The cache's lock guards its dictionaries only and is never held while S3 is read. Each
    location is built by one request at a time; other requests for it wait for that build
    and take its result, while requests for other locations go on.
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
        self._builds: dict[Location, _Build] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def page_json(
        self, s3_hook: Callable[[Location], ReportBucketHook], location: Location
    ) -> bytes:
        """The page's data for ``location``; ``s3_hook(location)`` reads S3 when needed."""
        body = self._fresh_body(location)
        if body is not None:
            return body
        with self._building(location):
            body = self._fresh_body(location)  # the build this request waited for
            if body is not None:
                return body
            return self._refresh(s3_hook(location), location)

    def _fresh_body(self, location: Location) -> bytes | None:
        """The cached data when checked within ``check_seconds``, marked as recently used."""
        with self._lock:
            entry = self._entries.get(location)
            if entry is None:
                return None
            self._entries.move_to_end(location)
            fresh = self.clock() - entry.checked_at < self.check_seconds
            return entry.body if fresh else None

    @contextmanager
    def _building(self, location: Location) -> Generator[None]:
        """Hold ``location``'s build lock; forget the lock once no request uses it, so that
        prefixes typed on the page do not pile up locks."""
        with self._lock:
            build = self._builds.setdefault(location, _Build())
            build.users += 1
        try:
            with build.lock:
                yield
        finally:
            with self._lock:
                build.users -= 1
                if not build.users:
                    del self._builds[location]

    def _refresh(self, s3: ReportBucketHook, location: Location) -> bytes:
        """List S3 for the latest set and rebuild the data if it changed; the caller holds
        ``location``'s build lock, not the cache's."""
        with self._lock:
            entry = self._entries.get(location)
        latest = next(complete_report_sets(s3, location.bucket, location.prefix), None)
        folder = latest.folder if latest else None
        if entry and entry.latest_folder == folder:
            with self._lock:
                entry.checked_at = self.clock()
                self._keep(location, entry)
            return entry.body
        body = _page_body(s3, location, latest)
        manifest = latest.manifest if latest else {}
        with self._lock:
            self._keep(location, _Entry(folder, self.clock(), body, manifest))
        return body

    def _keep(self, location: Location, entry: _Entry) -> None:
        """Cache ``entry`` as the most recently used; evict the least recently used beyond
        ``max_entries``. The caller holds the lock."""
        self._entries[location] = entry
        self._entries.move_to_end(location)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def download_key(self, location: Location, name: str) -> str | None:
        """The key of the file ``name`` of the cached latest set, when its manifest lists it
        where the report layout puts it; None otherwise."""
        with self._lock:
            entry = self._entries.get(location)
        if entry is None or entry.latest_folder is None:
            return None
        if name not in downloadable_files(entry.latest_folder, entry.manifest):
            return None
        return layout_key(entry.latest_folder, name)


def _page_body(s3: ReportBucketHook, location: Location, latest: ReportSet | None) -> bytes:
    data = (
        build_page_data(s3, location, latest)
        if latest
        else {**EMPTY_PAGE, "bucket": location.bucket, "prefix": location.prefix}
    )
    return json.dumps(data, separators=(",", ":")).encode()


def s3_hook(location: Location) -> ReportBucketHook:
    """The page's S3 hook: the location's connection, ``ExpectedBucketOwner`` on every request
    when the location names the bucket's owner, and the page's timeouts and retries
    (``PAGE_BOTOCORE_CONFIG`` merged over the connection's own botocore config)."""
    return report_bucket_hook(
        location.aws_conn_id,
        bucket_owner=location.bucket_owner,
        backoff=PAGE_BACKOFF,
        client_config=PAGE_BOTOCORE_CONFIG,
    )
