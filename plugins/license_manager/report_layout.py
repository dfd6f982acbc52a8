"""Every S3 key of a report set, and of the staging area the mapped tasks write to.

Pure functions of the prefix, the run's moment and configuration IDs: the writer and any
reader of report sets build keys here and nowhere else. Nothing here talks to S3.

    {prefix}YYYY/MM/DD/{TS}/license-consumption-summary.csv
    {prefix}YYYY/MM/DD/{TS}/{LicenseConfigurationId}-usage.csv
    {prefix}YYYY/MM/DD/{TS}/manifest.json                  written last
    {prefix}_staging/{TS}/run.json                          the run's settings
    {prefix}_staging/{TS}/{LicenseConfigurationId}/outcome.json
    {prefix}_staging/{TS}/{LicenseConfigurationId}/{LicenseConfigurationId}-usage.csv
    {prefix}tables/license_consumption/dt=YYYY-MM-DD/{TS}.csv             after the manifest
    {prefix}tables/license_usage/dt=YYYY-MM-DD/{TS}-{LicenseConfigurationId}.csv
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

SUMMARY_FILE = "license-consumption-summary.csv"
MANIFEST_FILE = "manifest.json"
USAGE_FILE_SUFFIX = "-usage.csv"
#: The leading underscore keeps Athena and Glue from reading staging as report data.
STAGING_FOLDER = "_staging/"
RUN_SETTINGS_FILE = "run.json"
OUTCOME_FILE = "outcome.json"
#: Each table has a folder of its own: Athena reads every object under a table's location.
TABLES_FOLDER = "tables/"
CONSUMPTION_TABLE = "license_consumption"
USAGE_TABLE = "license_usage"


# --- The report folder ------------------------------------------------------------------------


def run_timestamp(moment: datetime) -> str:
    """ISO 8601 basic format in UTC: YYYYMMDDTHHMMSSZ."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def run_folder(prefix: str, moment: datetime) -> str:
    """``{prefix}YYYY/MM/DD/TS/`` for the run's logical date (or run_after), in UTC."""
    utc = moment.astimezone(UTC)
    return f"{prefix}{utc:%Y/%m/%d}/{run_timestamp(utc)}/"


def usage_file_name(configuration_id: str) -> str:
    return f"{configuration_id}{USAGE_FILE_SUFFIX}"


def usage_key(folder: str, configuration_id: str) -> str:
    return folder + usage_file_name(configuration_id)


def summary_key(folder: str) -> str:
    return folder + SUMMARY_FILE


def manifest_key(folder: str) -> str:
    return folder + MANIFEST_FILE


# --- Finding earlier report folders (by listing one level at a time) ---------------------------

#: The name of each level below the prefix: year, month, day, and the run's TS (ASCII digits).
_LEVELS = (
    re.compile(r"\d{4}", re.ASCII),
    re.compile(r"\d{2}", re.ASCII),
    re.compile(r"\d{2}", re.ASCII),
    re.compile(r"\d{8}T\d{6}Z", re.ASCII),
)
#: How many characters of a TS each level's date covers: 2026, 202611, 20261129, the whole TS.
_TS_DIGITS = (4, 6, 8, None)
DATE_LEVELS = len(_LEVELS)


def dated_subfolders(prefix: str, parent: str, children: Iterable[str]) -> list[str]:
    """The children of ``parent`` that are report folders of the next level, newest first.

    ``parent`` is the prefix or one of its date folders; ``children`` are the common prefixes
    a delimited listing of ``parent`` returned. Anything else (``_staging/``) is left out.
    """
    pattern = _LEVELS[folder_level(prefix, parent)]
    found = [
        child
        for child in children
        if child.startswith(parent)
        and child.endswith("/")
        and pattern.fullmatch(child[len(parent) : -1])
    ]
    return sorted(found, reverse=True)


def folder_level(prefix: str, folder: str) -> int:
    """0 for the prefix itself, 1 for a year folder, ... 4 for a run's TS folder."""
    return folder[len(prefix) :].count("/")


def folder_date(prefix: str, folder: str) -> str:
    """The digits a date folder stands for (``2026``, ``202611``, ``20261129``) or its TS."""
    parts = folder[len(prefix) :].rstrip("/").split("/")
    return parts[-1] if len(parts) == DATE_LEVELS else "".join(parts)


def may_hold_earlier(prefix: str, folder: str, timestamp: str) -> bool:
    """Whether a date folder can hold a report set with a TS before ``timestamp``."""
    digits = _TS_DIGITS[folder_level(prefix, folder) - 1]
    date = folder_date(prefix, folder)
    return date < timestamp if digits is None else date <= timestamp[:digits]


def folder_timestamp(folder: str) -> str:
    """The TS of a report folder ``{prefix}YYYY/MM/DD/TS/``."""
    return folder.rstrip("/").rsplit("/", 1)[-1]


# --- Staging ----------------------------------------------------------------------------------


def staging_folder(prefix: str, moment: datetime) -> str:
    """Where mapped tasks leave their results for the writer; removed after the manifest."""
    return f"{prefix}{STAGING_FOLDER}{run_timestamp(moment)}/"


def run_settings_key(staging: str) -> str:
    """The run's settings, written first: it proves the bucket exists and is writable."""
    return staging + RUN_SETTINGS_FILE


def outcome_key(staging: str, configuration_id: str) -> str:
    return f"{staging}{configuration_id}/{OUTCOME_FILE}"


def staged_usage_key(staging: str, configuration_id: str) -> str:
    return f"{staging}{configuration_id}/{usage_file_name(configuration_id)}"


# --- Tables (Hive-style partitions by the run's date) ------------------------------------------


def table_folder(prefix: str, table: str) -> str:
    """``{prefix}tables/{table}/``: the table's location."""
    return f"{prefix}{TABLES_FOLDER}{table}/"


def partition_date(timestamp: str) -> str:
    """The ``dt`` partition (``YYYY-MM-DD``) of a run's TS: the date of its folder."""
    return f"{timestamp[:4]}-{timestamp[4:6]}-{timestamp[6:8]}"


def table_run_prefix(prefix: str, table: str, timestamp: str) -> str:
    """What every key a run writes to ``table`` starts with: ``.../dt=YYYY-MM-DD/{TS}``.

    TS has a fixed width, so no other run's key starts with it.
    """
    return f"{table_folder(prefix, table)}dt={partition_date(timestamp)}/{timestamp}"


def consumption_table_key(prefix: str, timestamp: str) -> str:
    return table_run_prefix(prefix, CONSUMPTION_TABLE, timestamp) + ".csv"


def usage_table_key(prefix: str, timestamp: str, configuration_id: str) -> str:
    return f"{table_run_prefix(prefix, USAGE_TABLE, timestamp)}-{configuration_id}.csv"


# --- Limits -----------------------------------------------------------------------------------


def longest_key_under_prefix() -> int:
    """Bytes the longest key of a run adds after its prefix: a staged usage file.

    Configuration IDs are ``lic-`` and 32 hexadecimal characters; run timestamps have a fixed width.
    """
    configuration_id = "lic-" + "0" * 32
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    keys = (
        staged_usage_key(staging_folder("", moment), configuration_id),
        outcome_key(staging_folder("", moment), configuration_id),
        usage_key(run_folder("", moment), configuration_id),
        summary_key(run_folder("", moment)),
        manifest_key(run_folder("", moment)),
        usage_table_key("", run_timestamp(moment), configuration_id),
    )
    return max(len(key.encode("utf-8")) for key in keys)
