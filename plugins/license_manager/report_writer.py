"""The S3 protocol of a report set: what the fetch tasks stage, and what the writer makes of it.

Each fetch task stages its usage file and its outcome in the run's staging folder. The writer
reads every outcome, copies the usage files into the report folder, writes the summary and, last,
``manifest.json``, removes files an earlier attempt of the run left, and empties staging. Keys
come from ``report_layout``, rows and cells from ``csv_schema``; every S3 call is a hook method.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import IO, TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import NO_ACL

from license_manager.compliance import DEFAULT_ALERT_UTILIZATION_PERCENT, compliance_cells
from license_manager.csv_schema import (
    CSV_CONTENT_TYPE,
    SUMMARY_COLUMNS,
    USAGE_COLUMNS,
    csv_text,
    csv_writer,
    format_row,
    iso_utc,
    usage_row,
)
from license_manager.history import PreviousConsumption
from license_manager.hooks import ReportBucketHook
from license_manager.outcomes import NOT_RECORDED, ConfigurationOutcome, FileRecord
from license_manager.report_layout import (
    manifest_key,
    outcome_key,
    run_settings_key,
    staged_usage_key,
    summary_key,
    usage_file_name,
    usage_key,
)
from license_manager.tables import StagedUsage, TableRun, publish_tables, run_table_keys

if TYPE_CHECKING:
    from typing_extensions import Buffer

    from license_manager.run_model import ConfigurationIdentity, RunPlan

#: S3 requests the report writer keeps in flight (outcome reads, usage files, tables).
S3_CONCURRENCY = 20
#: A usage file under this size travels inside its staged outcome (a few hundred records):
#: the fetch task makes one PutObject instead of two, and the writer writes the file from the
#: outcome instead of copying it and reading it again for the table. The writer holds every
#: outcome at once, so this also bounds what it holds per configuration.
INLINE_USAGE_BYTES = 32 * 1024
#: The manifest's layout version: 2 added source, compliance and the previous set.
MANIFEST_SCHEMA_VERSION = 2
# --- Staged by each fetch task ----------------------------------------------------------------


class _HashingWriter(io.RawIOBase):
    """A binary sink that counts and hashes what passes through to a file."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Buffer) -> int:
        self.target.write(data)
        self.sha256.update(data)
        size = memoryview(data).nbytes
        self.size += size
        return size


def stage_usage_file(
    s3: ReportBucketHook,
    bucket: str,
    staging: str,
    outcome: ConfigurationOutcome,
    pages: Iterable[list[dict[str, Any]]],
) -> FileRecord:
    """Stream usage pages into a CSV on local disk; return its record for ``outcome.usage``.

    Only one page is held in memory at a time, whatever the number of records. A file under
    ``INLINE_USAGE_BYTES`` goes into ``outcome.usage_csv``, staged with the outcome; another
    under the multipart threshold is one PutObject; a larger one is uploaded by name in parts,
    each read from disk as it is sent (a file object would be read ahead into memory).
    """
    key = staged_usage_key(staging, outcome.configuration_id)
    rows = 0
    with tempfile.NamedTemporaryFile(prefix="license-usage-", suffix=".csv") as spool:
        sink = _HashingWriter(spool)
        text = io.TextIOWrapper(io.BufferedWriter(sink), encoding="utf-8", newline="")
        writer = csv_writer(text)
        writer.writerow(USAGE_COLUMNS)
        for page in pages:
            writer.writerows(usage_row(outcome.arn, record) for record in page)
            rows += len(page)
        text.flush()
        spool.flush()
        if sink.size < INLINE_USAGE_BYTES:
            spool.seek(0)
            outcome.usage_csv = spool.read().decode("utf-8")
        elif sink.size < s3.transfer_config.multipart_threshold:
            spool.seek(0)
            s3.put_bytes(spool.read(), key, bucket)  # one PutObject, no transfer manager
        else:
            s3.load_file(spool.name, key, bucket_name=bucket, replace=True)
        return FileRecord(key, rows, sink.size, sink.sha256.hexdigest())


def stage_outcome(
    s3: ReportBucketHook, bucket: str, staging: str, outcome: ConfigurationOutcome
) -> None:
    key = outcome_key(staging, outcome.configuration_id)
    s3.put_bytes(outcome.to_json().encode(), key, bucket, "application/json")


# --- Written by the writer --------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """Where and for which run the report set is written: the location fields of the plan."""

    bucket: str
    prefix: str
    folder: str
    staging: str
    dag_id: str
    run_id: str
    run_timestamp: str

    @classmethod
    def from_plan(cls, plan: RunPlan) -> RunReport:
        return cls(
            bucket=plan["bucket"],
            prefix=plan["prefix"],
            folder=plan["folder"],
            staging=plan["staging"],
            dag_id=plan["dag_id"],
            run_id=plan["run_id"],
            run_timestamp=plan["run_timestamp"],
        )


def read_staged_outcome(
    s3: ReportBucketHook, report: RunReport, requested: ConfigurationIdentity
) -> ConfigurationOutcome:
    """The outcome a fetch task staged, or a failure when it left none (killed, never ran)."""
    body = s3.read_bytes(outcome_key(report.staging, requested["configuration_id"]), report.bucket)
    if body is None:
        return ConfigurationOutcome(
            arn=requested["arn"],
            region=requested["region"],
            account_id=requested["account_id"],
            configuration_id=requested["configuration_id"],
            error=NOT_RECORDED,
        )
    return ConfigurationOutcome.from_json(body)


def read_staged_outcomes(
    s3: ReportBucketHook, report: RunReport, requested: Iterable[ConfigurationIdentity]
) -> list[ConfigurationOutcome]:
    """``read_staged_outcome`` for each requested configuration, in order, several at a time."""
    s3.get_conn()  # the threads share one client, created here
    with ThreadPoolExecutor(max_workers=S3_CONCURRENCY) as pool:
        return list(pool.map(lambda entry: read_staged_outcome(s3, report, entry), requested))


@dataclass(frozen=True)
class StagedCopy:
    """One staged file to copy to its final key; its size is known from staging."""

    source: str
    final: str
    size: int


def copy_staged_files(s3: ReportBucketHook, bucket: str, copies: Sequence[StagedCopy]) -> None:
    """Server-side copies of staged files, several at a time; nothing passes through here.

    A file under the multipart threshold is one CopyObject (a transfer manager would ask for
    its size with a HeadObject first, and its size is already known); larger ones are copied
    in parts.
    """
    threshold = s3.transfer_config.multipart_threshold
    small = [staged for staged in copies if staged.size < threshold]
    large = [staged for staged in copies if staged.size >= threshold]

    def copy_whole(staged: StagedCopy) -> None:
        s3.copy_object(staged.source, staged.final, bucket, bucket, acl_policy=NO_ACL)

    s3.get_conn()  # the threads share one client, created here
    with ThreadPoolExecutor(S3_CONCURRENCY) as pool:
        list(pool.map(copy_whole, small))
    if large:
        s3.copy_objects_in_parts(bucket, [(staged.source, staged.final) for staged in large])


def write_csv_files(s3: ReportBucketHook, bucket: str, files: Mapping[str, bytes]) -> None:
    """One PutObject for each CSV file (key to body), several at a time."""
    s3.get_conn()  # the threads share one client, created here
    with ThreadPoolExecutor(S3_CONCURRENCY) as pool:
        list(pool.map(lambda key: s3.put_bytes(files[key], key, bucket, CSV_CONTENT_TYPE), files))


def completed_report_set(s3: ReportBucketHook, report: RunReport) -> dict[str, Any] | None:
    """The manifest of this run when an earlier try already wrote the whole set, else None.

    The writer empties staging (the run's settings file included) only after the manifest:
    a manifest of this run with no staged settings left means the set is complete, and
    writing it again from an empty staging folder would lose it.
    """
    if s3.read_bytes(run_settings_key(report.staging), report.bucket) is not None:
        return None
    body = s3.read_bytes(manifest_key(report.folder), report.bucket)
    if body is None:
        return None
    manifest = json.loads(body)
    return manifest if manifest.get("run_id") == report.run_id else None


def _list_keys(s3: ReportBucketHook, bucket: str, prefix: str) -> list[str]:
    return s3.list_keys(bucket_name=bucket, prefix=prefix) or []


@dataclass(frozen=True)
class _Listed:
    """What was under the run's keys when the writer began: an earlier attempt's files."""

    folder: list[str]
    tables: list[str]


def _list_before_writing(s3: ReportBucketHook, report: RunReport, tables: TableRun) -> _Listed:
    """Only this run writes under its folder and its table keys, and the fetch tasks are
    done: listing them while the set is being written finds the same keys."""
    return _Listed(
        folder=_list_keys(s3, report.bucket, report.folder),
        tables=run_table_keys(s3, tables),
    )


def empty_staging(
    s3: ReportBucketHook, report: RunReport, outcomes: Iterable[ConfigurationOutcome]
) -> None:
    """Delete the run's staging: its settings first (from then on the set counts as complete,
    see ``completed_report_set``), then the files the outcomes name, then anything else an
    earlier attempt left (listed once the rest is gone, so that listing stays short)."""
    s3.delete_objects(bucket=report.bucket, keys=[run_settings_key(report.staging)])
    staged = [
        key
        for outcome in outcomes
        if outcome.configuration_id
        for key in (
            outcome_key(report.staging, outcome.configuration_id),
            *([outcome.usage.key] if outcome.usage and outcome.usage_csv is None else []),
        )
    ]
    if staged:
        s3.delete_objects(bucket=report.bucket, keys=staged)
    if rest := _list_keys(s3, report.bucket, report.staging):
        s3.delete_objects(bucket=report.bucket, keys=rest)


@dataclass
class _SetFiles:
    """The set's files as written before its manifest, and what the rest is made of."""

    files: list[FileRecord]
    summary_rows: list[list[str]]
    records: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    published: list[StagedUsage]


def _write_set_files(
    s3: ReportBucketHook,
    report: RunReport,
    outcomes: list[ConfigurationOutcome],
    threshold: Decimal,
    previous: PreviousConsumption,
) -> _SetFiles:
    """Put each collected configuration's usage file into the folder (written from its
    outcome, or copied from staging), then write the summary."""
    written = _SetFiles([], [list(SUMMARY_COLUMNS)], [], [], [])
    copies: list[StagedCopy] = []
    inline: dict[str, bytes] = {}
    for outcome in outcomes:
        usage_file = None
        if outcome.status == "ok" and outcome.usage:
            usage_file = usage_file_name(outcome.configuration_id)
            final_key = usage_key(report.folder, outcome.configuration_id)
            final = FileRecord(**{**asdict(outcome.usage), "key": final_key})
            body = None
            if outcome.usage_csv is None:
                copies.append(StagedCopy(outcome.usage.key, final.key, outcome.usage.bytes))
            else:
                body = inline[final.key] = outcome.usage_csv.encode("utf-8")
            written.published.append(
                StagedUsage(outcome.configuration_id, outcome.usage.key, final.bytes, body)
            )
            written.files.append(final)
        record = outcome.summary_record(usage_file)
        record.setdefault("Source", "listed")
        record.update(
            compliance_cells(
                record, outcome.status == "ok", previous.consumed.get(outcome.arn), threshold
            )
        )
        written.records.append(record)
        written.summary_rows.append(format_row(record, SUMMARY_COLUMNS))
        entry = outcome.manifest_entry(usage_file)
        entry.setdefault("source", record["Source"])
        entry["compliance_status"] = record["ComplianceStatus"]
        written.entries.append(entry)
    write_csv_files(s3, report.bucket, inline)
    copy_staged_files(s3, report.bucket, copies)

    summary = csv_text(written.summary_rows).encode("utf-8")
    summary_file = summary_key(report.folder)
    s3.put_bytes(summary, summary_file, report.bucket, CSV_CONTENT_TYPE)
    written.files.insert(
        0,
        FileRecord(summary_file, len(outcomes), len(summary), hashlib.sha256(summary).hexdigest()),
    )
    return written


def write_report_set(
    s3: ReportBucketHook,
    report: RunReport,
    outcomes: list[ConfigurationOutcome],
    collected_at: datetime,
    threshold: Decimal = DEFAULT_ALERT_UTILIZATION_PERCENT,
    previous: PreviousConsumption | None = None,
    discovery: Sequence[Mapping[str, Any]] = (),
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write usage files, the summary and, last, the manifest; then publish the tables and drop
    leftovers and staging.

    Each configuration's compliance is rated against ``threshold`` and its consumption
    compared with ``previous``. Returns the manifest and the summary records. A re-run
    writes the same keys and removes files an earlier attempt of the same run left behind,
    so the folder (and the run's keys in the tables) hold exactly this run's files.
    """
    manifest_file = manifest_key(report.folder)
    s3.delete_objects(bucket=report.bucket, keys=[manifest_file])
    table_run = TableRun(report.bucket, report.prefix, report.folder, report.run_timestamp)
    previous = previous or PreviousConsumption()
    with ThreadPoolExecutor(1) as lister:
        listing = lister.submit(_list_before_writing, s3, report, table_run)
        written_files = _write_set_files(s3, report, outcomes, threshold, previous)
        listed = listing.result()
    files = written_files.files
    written = {file.key for file in files} | {manifest_file}
    leftovers = [key for key in listed.folder if key not in written]
    if leftovers:
        s3.delete_objects(bucket=report.bucket, keys=leftovers)

    manifest = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "dag_id": report.dag_id,
        "run_id": report.run_id,
        "run_timestamp": report.run_timestamp,
        "collected_at": iso_utc(collected_at),
        "bucket": report.bucket,
        "prefix": report.prefix,
        "folder": report.folder,
        "previous_folder": previous.folder,
        "files": [asdict(file) for file in files],
        "configurations": written_files.entries,
        "discovery": list(discovery),
    }
    s3.put_bytes(
        json.dumps(manifest, indent=2).encode(), manifest_file, report.bucket, "application/json"
    )
    # after the manifest, before staging goes: a retry that finds staging rewrites them
    publish_tables(
        s3,
        table_run,
        written_files.summary_rows,
        written_files.published,
        S3_CONCURRENCY,
        listed.tables,
    )

    empty_staging(s3, report, outcomes)
    return manifest, written_files.records
