"""The report set: CSV schemas and cells, S3 keys, staging, and manifest.json.

Everything a user sees in S3 is decided here. The columns are data, declared once and
read by the writers, the README and the tests.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

SUMMARY_FILE = "license-consumption-summary.csv"
MANIFEST_FILE = "manifest.json"
STAGING_FOLDER = "_staging/"

SUMMARY_COLUMNS = (
    "Region",
    "AccountId",
    "LicenseConfigurationArn",
    "LicenseConfigurationId",
    "Name",
    "Description",
    "LicenseCountingType",
    "LicenseCount",
    "LicenseCountHardLimit",
    "ConsumedLicenses",
    "UtilizationPercent",
    "Status",
    "LicenseRules",
    "ConsumedLicenseSummaryList",
    "ManagedResourceSummaryList",
    "ProductInformationList",
    "Tags",
    "UsageRecordCount",
    "UsageFile",
    "CollectedAt",
    "Error",
)
USAGE_COLUMNS = (
    "LicenseConfigurationArn",
    "ResourceArn",
    "ResourceType",
    "ResourceStatus",
    "ResourceOwnerId",
    "AssociationTime",
    "ConsumedLicenses",
)
NUMERIC_COLUMNS = frozenset(
    {"LicenseCount", "ConsumedLicenses", "UtilizationPercent", "UsageRecordCount"}
)
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
#: S3 requests the report writer keeps in flight (outcome reads, copies).
S3_CONCURRENCY = 10


# --- Cells ------------------------------------------------------------------------------------


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a 'Z'."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def format_cell(value: Any, column: str = "") -> str:
    """One CSV cell: JSON for lists and maps, true/false, ISO times, formula-safe text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, list | dict):
        text = to_json(value)
    else:
        text = str(value)
    if column not in NUMERIC_COLUMNS and text.startswith(_FORMULA_TRIGGERS):
        return "'" + text
    return text


def format_row(record: Mapping[str, Any], columns: Iterable[str]) -> list[str]:
    return [format_cell(record.get(column), column) for column in columns]


def utilization_percent(consumed: Any, count: Any) -> str | None:
    """ConsumedLicenses / LicenseCount x 100, two decimals; None without a LicenseCount."""
    if not count or consumed is None:
        return None
    ratio = Decimal(consumed) * 100 / Decimal(count)
    return str(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def csv_text(rows: Iterable[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


# --- Keys -------------------------------------------------------------------------------------


def run_timestamp(moment: datetime) -> str:
    """ISO 8601 basic format in UTC: YYYYMMDDTHHMMSSZ."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_folder(prefix: str, moment: datetime) -> str:
    """``{prefix}YYYY/MM/DD/TS/`` for the run's logical date (or run_after), in UTC."""
    utc = moment.astimezone(UTC)
    return f"{prefix}{utc:%Y/%m/%d}/{run_timestamp(utc)}/"


def staging_folder(prefix: str, moment: datetime) -> str:
    """Where mapped tasks leave their results for the writer; removed after the manifest.

    The leading underscore keeps Athena and Glue from reading it as report data.
    """
    return f"{prefix}{STAGING_FOLDER}{run_timestamp(moment)}/"


def usage_file_name(configuration_id: str) -> str:
    return f"{configuration_id}-usage.csv"


# --- One configuration's results --------------------------------------------------------------


@dataclass
class FileRecord:
    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class ConfigurationOutcome:
    """What a mapped task learnt about one ARN; staged as JSON for the writer."""

    arn: str
    region: str = ""
    account_id: str = ""
    configuration_id: str = ""
    status: str = "failed"
    error: str | None = None
    configuration: dict[str, Any] = field(default_factory=dict)
    usage: FileRecord | None = None
    collected_at: str | None = None

    def to_json(self) -> str:
        return to_json(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> ConfigurationOutcome:
        data = json.loads(text)
        usage = data.pop("usage", None)
        return cls(**data, usage=FileRecord(**usage) if usage else None)

    def summary_record(self, usage_file: str | None) -> dict[str, Any]:
        details = self.configuration
        return {
            **details,
            "Region": self.region,
            "AccountId": self.account_id,
            "LicenseConfigurationArn": self.arn,
            "LicenseConfigurationId": details.get("LicenseConfigurationId")
            or self.configuration_id,
            "UtilizationPercent": utilization_percent(
                details.get("ConsumedLicenses"), details.get("LicenseCount")
            ),
            "UsageRecordCount": self.usage.rows if self.usage else None,
            "UsageFile": usage_file,
            "CollectedAt": self.collected_at,
            "Error": self.error,
        }

    def manifest_entry(self, usage_file: str | None) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "region": self.region,
            "account_id": self.account_id,
            "status": self.status,
            "error": self.error,
            "usage_file": usage_file,
            "usage_records": self.usage.rows if self.usage else None,
        }


class _HashingWriter(io.RawIOBase):
    """A binary sink that counts and hashes what passes through to a file."""

    def __init__(self, target: io.BufferedIOBase) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.target.write(data)
        self.sha256.update(data)
        self.size += len(data)
        return len(data)


def _transfer_config(max_concurrency: int = 2):
    from boto3.s3.transfer import TransferConfig

    # Two 8 MiB parts in flight keep a task's memory flat however large the file.
    return TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=max_concurrency)


@dataclass(frozen=True)
class StagedCopy:
    """One staged file to copy to its final key; its size is known from staging."""

    source: str
    final: str
    size: int


def copy_staged_files(s3: S3Hook, bucket: str, copies: Sequence[StagedCopy]) -> None:
    """Server-side copies of staged files, several at a time; nothing passes through here.

    A file under the multipart threshold is one CopyObject. The transfer manager would ask
    for its size with a HeadObject first, and its size is already known. Larger files go
    through one transfer manager, which copies them in parts.
    """
    from concurrent.futures import ThreadPoolExecutor

    from boto3.s3.transfer import create_transfer_manager

    config = _transfer_config(max_concurrency=S3_CONCURRENCY)
    small = [copy for copy in copies if copy.size < config.multipart_threshold]
    large = [copy for copy in copies if copy.size >= config.multipart_threshold]
    client = s3.conn

    def copy_object(copy: StagedCopy) -> None:
        client.copy_object(
            Bucket=bucket, Key=copy.final, CopySource={"Bucket": bucket, "Key": copy.source}
        )

    with ThreadPoolExecutor(S3_CONCURRENCY) as pool:
        list(pool.map(copy_object, small))
    with create_transfer_manager(client, config) as manager:
        futures = [
            manager.copy({"Bucket": bucket, "Key": copy.source}, bucket, copy.final)
            for copy in large
        ]
        for future in futures:
            future.result()


def stage_usage_file(
    s3: S3Hook, bucket: str, key: str, arn: str, pages: Iterable[list[dict[str, Any]]]
) -> FileRecord:
    """Stream usage pages into a CSV on local disk, then upload it (multipart when large).

    Only one page is held in memory at a time, whatever the number of records. The file is
    uploaded by name, so each part is read from disk as it is sent: a file object would be
    read ahead into memory part by part.
    """
    rows = 0
    with tempfile.NamedTemporaryFile(prefix="license-usage-", suffix=".csv") as spool:
        sink = _HashingWriter(spool)
        text = io.TextIOWrapper(sink, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(USAGE_COLUMNS)
        for page in pages:
            writer.writerows(
                format_row({**record, "LicenseConfigurationArn": arn}, USAGE_COLUMNS)
                for record in page
            )
            rows += len(page)
        text.flush()
        spool.flush()
        s3.conn.upload_file(spool.name, bucket, key, Config=_transfer_config())
        return FileRecord(key=key, rows=rows, bytes=sink.size, sha256=sink.sha256.hexdigest())


def _put(s3: S3Hook, bucket: str, key: str, body: bytes, content_type: str) -> None:
    s3.conn.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def outcome_key(staging: str, configuration_id: str) -> str:
    return f"{staging}{configuration_id}/outcome.json"


def staged_usage_key(staging: str, configuration_id: str) -> str:
    return f"{staging}{configuration_id}/{usage_file_name(configuration_id)}"


def stage_outcome(s3: S3Hook, bucket: str, staging: str, outcome: ConfigurationOutcome) -> None:
    key = outcome_key(staging, outcome.configuration_id)
    _put(s3, bucket, key, outcome.to_json().encode(), "application/json")


# --- The report set ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunReport:
    """Where and for which run the report set is written."""

    bucket: str
    prefix: str
    folder: str
    staging: str
    dag_id: str
    run_id: str
    run_timestamp: str


def read_staged_outcome(
    s3: S3Hook, report: RunReport, requested: Mapping[str, str]
) -> ConfigurationOutcome:
    """The outcome a mapped task staged, or a failure when it left none (killed, never ran)."""
    from botocore.exceptions import ClientError

    key = outcome_key(report.staging, requested["configuration_id"])
    try:
        body = s3.conn.get_object(Bucket=report.bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        return ConfigurationOutcome(
            **requested,
            error="no result was recorded: the task did not finish (see its log in Airflow)",
        )
    return ConfigurationOutcome.from_json(body)


def read_staged_outcomes(
    s3: S3Hook, report: RunReport, requested: Iterable[Mapping[str, str]]
) -> list[ConfigurationOutcome]:
    """``read_staged_outcome`` for each requested configuration, in order, several at a time."""
    from concurrent.futures import ThreadPoolExecutor

    s3.conn  # noqa: B018 - the threads share one client, created here
    with ThreadPoolExecutor(max_workers=S3_CONCURRENCY) as pool:
        return list(pool.map(lambda entry: read_staged_outcome(s3, report, entry), requested))


def _list_keys(s3: S3Hook, bucket: str, prefix: str) -> list[str]:
    return s3.list_keys(bucket_name=bucket, prefix=prefix) or []


def write_report_set(
    s3: S3Hook,
    report: RunReport,
    outcomes: list[ConfigurationOutcome],
    collected_at: datetime,
) -> dict[str, Any]:
    """Write usage files, the summary and, last, the manifest; then drop leftovers and staging.

    Returns the manifest. A re-run writes the same keys and removes files an earlier
    attempt of the same run left behind, so the folder holds exactly this run's files.
    """
    manifest_key = report.folder + MANIFEST_FILE
    s3.conn.delete_object(Bucket=report.bucket, Key=manifest_key)

    files: list[FileRecord] = []
    copies: list[StagedCopy] = []
    summary_rows = [list(SUMMARY_COLUMNS)]
    entries = []
    for outcome in outcomes:
        usage_file = None
        if outcome.status == "ok" and outcome.usage:
            usage_file = usage_file_name(outcome.configuration_id)
            final = FileRecord(**{**asdict(outcome.usage), "key": report.folder + usage_file})
            copies.append(StagedCopy(outcome.usage.key, final.key, outcome.usage.bytes))
            files.append(final)
        summary_rows.append(format_row(outcome.summary_record(usage_file), SUMMARY_COLUMNS))
        entries.append(outcome.manifest_entry(usage_file))
    copy_staged_files(s3, report.bucket, copies)

    summary = csv_text(summary_rows).encode("utf-8")
    summary_key = report.folder + SUMMARY_FILE
    _put(s3, report.bucket, summary_key, summary, "text/csv; charset=utf-8")
    files.insert(
        0, FileRecord(summary_key, len(outcomes), len(summary), hashlib.sha256(summary).hexdigest())
    )

    written = {file.key for file in files} | {manifest_key}
    leftovers = [key for key in _list_keys(s3, report.bucket, report.folder) if key not in written]
    if leftovers:
        s3.delete_objects(bucket=report.bucket, keys=leftovers)

    manifest = {
        "dag_id": report.dag_id,
        "run_id": report.run_id,
        "run_timestamp": report.run_timestamp,
        "collected_at": iso_utc(collected_at),
        "bucket": report.bucket,
        "prefix": report.prefix,
        "folder": report.folder,
        "files": [asdict(file) for file in files],
        "configurations": entries,
    }
    _put(
        s3, report.bucket, manifest_key, json.dumps(manifest, indent=2).encode(), "application/json"
    )

    staged = _list_keys(s3, report.bucket, report.staging)
    if staged:
        s3.delete_objects(bucket=report.bucket, keys=staged)
    return manifest
