"""A report set published as rows of two tables that Athena, Glue, Trino or DuckDB can query.

After a set's manifest, ``publish_tables`` writes the summary's rows plus ``RunTimestamp`` and
``ReportFolder`` to the ``license_consumption`` table, and each collected configuration's usage
rows plus ``RunTimestamp`` to the ``license_usage`` table (keys from ``report_layout``). The
summary rows are the ones the writer formatted; each usage file is streamed from staging with
its extra cell appended to every record, never parsed again. A rerun writes the same keys and
removes any other key of its own run, so no query counts a run twice.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from license_manager.csv_schema import (
    CSV_CONTENT_TYPE,
    SUMMARY_COLUMNS,
    USAGE_COLUMNS,
    csv_text,
    iso_utc,
)
from license_manager.report_layout import (
    CONSUMPTION_TABLE,
    USAGE_TABLE,
    consumption_table_key,
    table_folder,
    table_run_prefix,
    usage_table_key,
)

if TYPE_CHECKING:
    from license_manager.hooks import ReportBucketHook

CONSUMPTION_TABLE_COLUMNS = (*SUMMARY_COLUMNS, "RunTimestamp", "ReportFolder")
USAGE_TABLE_COLUMNS = (*USAGE_COLUMNS, "RunTimestamp")
#: What a large usage file is read by; also the most of it held in memory at once.
CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class TableRun:
    """The report set being published: where, and which run (its TS and folder)."""

    bucket: str
    prefix: str
    folder: str
    timestamp: str

    @property
    def moment(self) -> str:
        """The run's time, ISO 8601 in UTC: the ``RunTimestamp`` cell."""
        return iso_utc(datetime.strptime(self.timestamp, "%Y%m%dT%H%M%S%z"))


@dataclass(frozen=True)
class StagedUsage:
    """A collected configuration's usage file: in staging, or ``body`` when it came inside
    its outcome; and its size."""

    configuration_id: str
    key: str
    size: int
    body: bytes | None = None


def table_locations(bucket: str, prefix: str) -> dict[str, str]:
    """``s3://`` URL of each table's location, by table name."""
    return {
        table: f"s3://{bucket}/{table_folder(prefix, table)}"
        for table in (CONSUMPTION_TABLE, USAGE_TABLE)
    }


def consumption_rows(run: TableRun, summary_rows: Sequence[list[str]]) -> list[list[str]]:
    """The summary's header and rows, as the writer formatted them, with the two run cells."""
    header, *rows = summary_rows
    if tuple(header) != SUMMARY_COLUMNS:
        raise ValueError("the summary rows must start with the summary header")
    cells = [run.moment, run.folder]
    return [list(CONSUMPTION_TABLE_COLUMNS), *(row + cells for row in rows)]


class RecordEnds:
    """Appends one cell to every record of a CSV the writer wrote, chunk by chunk.

    The file's records end in CRLF; a quoted cell may hold line breaks of its own. A line
    ends a record only outside quotes, and a cell's own quotes come doubled, so the parity
    of the quotes seen so far tells which. The header line is replaced by ``header``.
    """

    def __init__(self, cell: str, header: Sequence[str], source_header: Sequence[str]) -> None:
        self.suffix = f",{cell}".encode()
        self.header = csv_text([list(header)]).encode()
        self.source_header = csv_text([list(source_header)]).encode()
        self.pending = b""
        self.quoted = False
        self.header_seen = False

    def feed(self, chunk: bytes) -> bytes:
        """The complete lines ``chunk`` finishes, with the cell appended to each record."""
        data = self.pending + chunk
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        data = data[:cut]
        if not self.header_seen and data:
            if not data.startswith(self.source_header):
                raise ValueError("the usage file does not start with the usage header")
            self.header_seen = True
            return self.header + self._records(data[len(self.source_header) :])
        return self._records(data)

    def close(self) -> bytes:
        """The end of the file: a last record without a line end would be an unfinished one."""
        if self.pending or self.quoted or not self.header_seen:
            raise ValueError("the usage file ends inside its header or a record")
        return b""

    def _records(self, data: bytes) -> bytes:
        if not self.quoted and b'"' not in data:  # no quoted cell: every CRLF ends a record
            return data.replace(b"\r\n", self.suffix + b"\r\n")
        out = []
        for line in data.split(b"\n")[:-1]:
            if line.count(b'"') % 2:
                self.quoted = not self.quoted
            if self.quoted or not line.endswith(b"\r"):
                out.append(line + b"\n")
            else:
                out.append(line[:-1] + self.suffix + b"\r\n")
        return b"".join(out)


def usage_table_chunks(run: TableRun, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A staged usage file's chunks as the usage table's file: ``RunTimestamp`` appended."""
    ends = RecordEnds(run.moment, USAGE_TABLE_COLUMNS, USAGE_COLUMNS)
    for chunk in chunks:
        yield ends.feed(chunk)
    yield ends.close()


#: A staged usage file up to this size is read into memory, and published beside others; a
#: larger one is streamed through a local file, one at a time, so the writer's memory does not
#: grow with how many large files there are.
IN_MEMORY_USAGE_BYTES = 1024 * 1024


def publish_usage(s3: ReportBucketHook, run: TableRun, staged: StagedUsage) -> str:
    """Stream one staged usage file into the usage table; return the key written.

    A file that came inside its outcome is one PutObject; another file up to
    ``IN_MEMORY_USAGE_BYTES`` is one GetObject and one PutObject; a larger one is read a chunk
    at a time to a local file and uploaded from there (in parts above the multipart threshold).
    """
    key = usage_table_key(run.prefix, run.timestamp, staged.configuration_id)
    if _in_memory(staged):
        body = staged.body if staged.body is not None else s3.read_bytes(staged.key, run.bucket)
        if body is None:
            raise FileNotFoundError(f"s3://{run.bucket}/{staged.key} is gone")
        s3.put_bytes(b"".join(usage_table_chunks(run, [body])), key, run.bucket, CSV_CONTENT_TYPE)
        return key
    with tempfile.NamedTemporaryFile(prefix="license-usage-table-", suffix=".csv") as spool:
        for part in usage_table_chunks(run, s3.read_chunks(staged.key, run.bucket, CHUNK_BYTES)):
            spool.write(part)
        spool.flush()
        s3.load_file(spool.name, key, bucket_name=run.bucket, replace=True)
    return key


def _in_memory(staged: StagedUsage) -> bool:
    return staged.body is not None or staged.size <= IN_MEMORY_USAGE_BYTES


def publish_tables(
    s3: ReportBucketHook,
    run: TableRun,
    summary_rows: Sequence[list[str]],
    usage: Sequence[StagedUsage],
    concurrency: int,
    existing: Iterable[str],
) -> list[str]:
    """Write the run's rows to both tables, then delete the keys of ``existing`` (the run's
    keys in the tables before, see ``run_table_keys``) not written again; return those written.

    Small files go ``concurrency`` at a time; large usage files one after the other, so that
    memory stays flat (each one's upload has its own parallel parts).
    """
    consumption = csv_text(consumption_rows(run, summary_rows)).encode("utf-8")
    consumption_key = consumption_table_key(run.prefix, run.timestamp)
    small = [staged for staged in usage if _in_memory(staged)]
    large = [staged for staged in usage if not _in_memory(staged)]

    def put_consumption() -> str:
        s3.put_bytes(consumption, consumption_key, run.bucket, CSV_CONTENT_TYPE)
        return consumption_key

    s3.get_conn()  # the threads share one client, created here
    with ThreadPoolExecutor(concurrency) as pool:
        pending = [pool.submit(put_consumption)]
        pending += [pool.submit(publish_usage, s3, run, staged) for staged in small]
        written = [future.result() for future in pending]
    written += [publish_usage(s3, run, staged) for staged in large]
    stale = sorted(set(existing) - set(written))
    if stale:
        s3.delete_objects(bucket=run.bucket, keys=stale)
    return written


def run_table_keys(s3: ReportBucketHook, run: TableRun) -> list[str]:
    """The keys this run has in either table (an earlier attempt's, or none)."""
    return [
        key
        for table in (CONSUMPTION_TABLE, USAGE_TABLE)
        for key in s3.list_keys(
            bucket_name=run.bucket, prefix=table_run_prefix(run.prefix, table, run.timestamp)
        )
        or []
    ]
