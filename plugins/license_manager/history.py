"""Earlier report sets under a prefix, found by listing one date level at a time.

``{prefix}YYYY/MM/DD/TS/`` is walked newest first with delimited listings (years, then the
months of a year, ...), skipping folders that can only hold later runs; a folder counts only
when its ``manifest.json`` exists. Finding the set before a run costs a few List calls and one
GetObject per folder tried, whatever the number of earlier runs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from license_manager.report_layout import (
    DATE_LEVELS,
    dated_subfolders,
    folder_level,
    folder_timestamp,
    manifest_key,
    may_hold_earlier,
    summary_key,
)

if TYPE_CHECKING:
    from license_manager.hooks import ReportBucketHook


def summary_records(s3: ReportBucketHook, bucket: str, folder: str) -> list[dict[str, str]] | None:
    """The rows of the summary CSV in the report folder ``folder``, as text cells; None when
    the folder has no summary."""
    body = s3.read_bytes(summary_key(folder), bucket)
    if body is None:
        return None
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


@dataclass(frozen=True)
class ReportSet:
    """A complete report set: its folder (key) and its manifest."""

    folder: str
    manifest: dict[str, Any] = field(repr=False)

    @property
    def timestamp(self) -> str:
        return folder_timestamp(self.folder)


def _subfolders(s3: ReportBucketHook, bucket: str, prefix: str, parent: str) -> list[str]:
    listed = s3.list_prefixes(bucket_name=bucket, prefix=parent, delimiter="/")
    return dated_subfolders(prefix, parent, listed)


def report_folders(
    s3: ReportBucketHook, bucket: str, prefix: str, before: str | None = None
) -> Iterator[str]:
    """Every report folder under ``prefix`` whose TS is before ``before`` (all without it),
    newest first, listed lazily: a caller that stops early lists only what it walked."""

    def walk(parent: str) -> Iterator[str]:
        for child in _subfolders(s3, bucket, prefix, parent):
            if before is not None and not may_hold_earlier(prefix, child, before):
                continue
            if folder_level(prefix, child) == DATE_LEVELS:
                yield child
            else:
                yield from walk(child)

    return walk(prefix)


def complete_report_sets(
    s3: ReportBucketHook, bucket: str, prefix: str, before: str | None = None
) -> Iterator[ReportSet]:
    """``report_folders`` that hold a manifest.json, with it, newest first."""
    for folder in report_folders(s3, bucket, prefix, before):
        body = s3.read_bytes(manifest_key(folder), bucket)
        if body is not None:
            yield ReportSet(folder, json.loads(body))


def previous_report_set(
    s3: ReportBucketHook, bucket: str, prefix: str, timestamp: str
) -> ReportSet | None:
    """The most recent complete report set with a TS before ``timestamp``, or None."""
    return next(complete_report_sets(s3, bucket, prefix, before=timestamp), None)


def _as_number(text: str) -> int | float | None:
    if text == "":
        return None
    number = float(text)
    return int(number) if number.is_integer() else number


def consumed_licenses(s3: ReportBucketHook, bucket: str, report_set: ReportSet) -> dict[str, Any]:
    """ConsumedLicenses per ARN of the configurations collected in ``report_set``.

    Manifests of schema 2 carry them; for older ones the summary CSV is read.
    """
    collected = [c for c in report_set.manifest.get("configurations", []) if c["status"] == "ok"]
    if all("consumed_licenses" in entry for entry in collected):
        return {entry["arn"]: entry["consumed_licenses"] for entry in collected}
    ok = {entry["arn"] for entry in collected}
    return {
        row["LicenseConfigurationArn"]: _as_number(row["ConsumedLicenses"])
        for row in summary_records(s3, bucket, report_set.folder) or []
        if row["LicenseConfigurationArn"] in ok
    }


@dataclass(frozen=True)
class PreviousConsumption:
    """What a run compares with: the earlier set's folder and its ConsumedLicenses per ARN."""

    folder: str | None = None
    consumed: dict[str, Any] = field(default_factory=dict)


def previous_consumption(
    s3: ReportBucketHook, bucket: str, prefix: str, timestamp: str
) -> PreviousConsumption:
    """The consumption of the most recent complete set before ``timestamp`` (empty without)."""
    earlier = previous_report_set(s3, bucket, prefix, timestamp)
    if earlier is None:
        return PreviousConsumption()
    return PreviousConsumption(earlier.folder, consumed_licenses(s3, bucket, earlier))
