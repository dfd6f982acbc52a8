"""The tables' keys and rows, and that nothing that looks for report sets mistakes ``tables/``
for one (the previous-set lookup, the page, the writer's clean-up), with and without a prefix."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from license_manager.csv_schema import USAGE_COLUMNS, csv_text
from license_manager.report_layout import (
    consumption_table_key,
    dated_subfolders,
    longest_key_under_prefix,
    run_folder,
    run_timestamp,
    staging_folder,
    usage_table_key,
)
from license_manager.tables import USAGE_TABLE_COLUMNS, RecordEnds, TableRun

from tests.test_report_writer import fetched

ID = "lic-" + "0" * 32
RUN = TableRun("bucket", "reports/", "reports/2026/11/29/20261129T000000Z/", "20261129T000000Z")


@pytest.mark.parametrize("prefix", ["", "reports/"])
def test_table_keys(prefix):
    assert consumption_table_key(prefix, "20261129T051500Z") == (
        f"{prefix}tables/license_consumption/dt=2026-11-29/20261129T051500Z.csv"
    )
    assert usage_table_key(prefix, "20261129T051500Z", ID) == (
        f"{prefix}tables/license_usage/dt=2026-11-29/20261129T051500Z-{ID}.csv"
    )
    assert len(usage_table_key("", "20261129T051500Z", ID)) <= longest_key_under_prefix()


@pytest.mark.parametrize("prefix", ["", "reports/"])
def test_a_listing_of_the_prefix_never_takes_tables_for_a_year(prefix):
    children = [f"{prefix}tables/", f"{prefix}_staging/", f"{prefix}2026/", f"{prefix}2025/"]
    assert dated_subfolders(prefix, prefix, children) == [f"{prefix}2026/", f"{prefix}2025/"]


def test_the_run_timestamp_cell_is_iso_8601_utc():
    assert RUN.moment == "2026-11-29T00:00:00Z"


cells = st.text(alphabet=st.sampled_from(list('ab,"\r\n =')), max_size=8)


@given(
    rows=st.lists(st.lists(cells, min_size=7, max_size=7), max_size=6),
    cut=st.integers(min_value=1, max_value=40),
)
def test_record_ends_appends_one_cell_to_every_record_whatever_the_chunks(rows, cut):
    source = csv_text([list(USAGE_COLUMNS), *rows]).encode()
    ends = RecordEnds("2026-11-29T00:00:00Z", USAGE_TABLE_COLUMNS, USAGE_COLUMNS)
    chunks = [source[i : i + cut] for i in range(0, len(source), cut)]
    out = b"".join(ends.feed(chunk) for chunk in chunks) + ends.close()
    parsed = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert parsed == [list(USAGE_TABLE_COLUMNS), *(row + ["2026-11-29T00:00:00Z"] for row in rows)]


def test_record_ends_refuses_a_file_that_is_not_a_whole_usage_file():
    ends = RecordEnds("x", USAGE_TABLE_COLUMNS, USAGE_COLUMNS)
    with pytest.raises(ValueError, match="usage header"):
        ends.feed(b"a,b\r\n")
    ends = RecordEnds("x", USAGE_TABLE_COLUMNS, USAGE_COLUMNS)
    ends.feed(csv_text([list(USAGE_COLUMNS)]).encode() + b'"open')
    with pytest.raises(ValueError, match="inside"):
        ends.close()


# --- Against moto: two report sets under a prefix, with their tables ---------------------------


def write_set(s3, prefix: str, moment: datetime, records: int = 2) -> dict:
    from license_manager.report_writer import RunReport, read_staged_outcomes, write_report_set

    report = RunReport(
        s3.bucket,
        prefix,
        run_folder(prefix, moment),
        staging_folder(prefix, moment),
        "license_tracking",
        f"scheduled__{moment.isoformat()}",
        run_timestamp(moment),
    )
    outcome = fetched(s3, report.staging, "Windows", records)
    requested = [{key: getattr(outcome, key) for key in ("arn", "configuration_id")}]
    outcomes = read_staged_outcomes(s3, report, requested)
    return write_report_set(s3, report, outcomes, moment)[0]


def all_keys(s3, prefix: str = "") -> list[str]:
    return s3.list_keys(bucket_name=s3.bucket, prefix=prefix) or []


@pytest.mark.parametrize("prefix", ["", "reports/"])
def test_the_lookups_and_the_clean_up_leave_tables_alone(s3, prefix):
    from license_manager.history import previous_report_set, report_folders
    from license_manager.ui.data import Location, PageCache

    first, second = (datetime(2026, 11, day, tzinfo=UTC) for day in (28, 29))
    write_set(s3, prefix, first)
    tables_before = all_keys(s3, f"{prefix}tables/")
    write_set(s3, prefix, second)

    tables = all_keys(s3, f"{prefix}tables/")
    assert set(tables_before) < set(tables) and len(tables) == 4  # the second set's clean-up
    assert not all_keys(s3, f"{prefix}_staging/")
    assert list(report_folders(s3, s3.bucket, prefix)) == [
        run_folder(prefix, second),
        run_folder(prefix, first),
    ]
    previous = previous_report_set(s3, s3.bucket, prefix, run_timestamp(second))
    assert previous is not None and previous.folder == run_folder(prefix, first)
    page = json.loads(PageCache().page_json(lambda _: s3, Location(s3.bucket, prefix, None, None)))
    assert page["report_folder"] == f"s3://{s3.bucket}/{run_folder(prefix, second)}"
    assert page["history_timestamps"] == [run_timestamp(first), run_timestamp(second)]


def test_a_rerun_rewrites_its_table_keys_and_drops_its_stale_ones(s3):
    moment = datetime(2026, 11, 29, tzinfo=UTC)
    write_set(s3, "", moment)
    first = set(all_keys(s3, "tables/"))
    write_set(s3, "", moment, records=3)  # the same run again: another configuration ID

    second = set(all_keys(s3, "tables/"))
    assert len(first) == len(second) == 2
    assert consumption_table_key("", run_timestamp(moment)) in first & second
    (usage,) = [key for key in second if "/license_usage/" in key]
    body = s3.conn.get_object(Bucket=s3.bucket, Key=usage)["Body"].read().decode()
    rows = list(csv.reader(io.StringIO(body, newline="")))
    assert rows[0] == list(USAGE_TABLE_COLUMNS) and len(rows) == 4
    assert {row[-1] for row in rows[1:]} == {"2026-11-29T00:00:00Z"}


def test_a_large_usage_file_is_streamed_into_the_table_in_parts(s3, monkeypatch):
    from license_manager import tables

    monkeypatch.setattr(tables, "CHUNK_BYTES", 64 * 1024)
    write_set(s3, "", datetime(2026, 11, 29, tzinfo=UTC), records=60_000)  # over 8 MiB

    (usage,) = [key for key in all_keys(s3, "tables/") if "/license_usage/" in key]
    body = s3.conn.get_object(Bucket=s3.bucket, Key=usage)["Body"].read().decode()
    lines = body.split("\r\n")
    assert len(lines) == 60_002 and lines[-1] == ""
    assert lines[0] == ",".join(USAGE_TABLE_COLUMNS)
    assert all(line.endswith(",2026-11-29T00:00:00Z") for line in lines[1:-1])


def test_a_usage_file_over_a_mebibyte_is_streamed_not_held_in_memory(s3, monkeypatch):
    from license_manager import tables
    from license_manager.hooks import ReportBucketHook

    monkeypatch.setattr(tables, "CHUNK_BYTES", 64 * 1024)
    read_whole = []
    read_bytes = ReportBucketHook.read_bytes

    def recording_read_bytes(self, key, bucket_name):
        read_whole.append(key)
        return read_bytes(self, key, bucket_name)

    monkeypatch.setattr(ReportBucketHook, "read_bytes", recording_read_bytes)
    write_set(s3, "", datetime(2026, 11, 29, tzinfo=UTC), records=10_000)  # about 1.4 MB

    (usage,) = [key for key in all_keys(s3, "tables/") if "/license_usage/" in key]
    body = s3.conn.get_object(Bucket=s3.bucket, Key=usage)["Body"].read()
    assert len(body) > 1024 * 1024
    lines = body.decode().split("\r\n")
    assert len(lines) == 10_002 and lines[0] == ",".join(USAGE_TABLE_COLUMNS)
    assert all(line.endswith(",2026-11-29T00:00:00Z") for line in lines[1:-1])
    assert not [key for key in read_whole if key.endswith("-usage.csv")]
