"""Every S3 key of a report set, and of the staging area the mapped tasks write to.

Pure functions of the prefix, the run's moment and configuration IDs: the writer and any
reader of report sets build keys here and nowhere else. Nothing here talks to S3.

    {prefix}YYYY/MM/DD/{TS}/license-consumption-summary.csv
    {prefix}YYYY/MM/DD/{TS}/{LicenseConfigurationId}-usage.csv
    {prefix}YYYY/MM/DD/{TS}/manifest.json                  written last
    {prefix}_staging/{TS}/run.json                          the run's settings
    {prefix}_staging/{TS}/{LicenseConfigurationId}/outcome.json
    {prefix}_staging/{TS}/{LicenseConfigurationId}/{LicenseConfigurationId}-usage.csv
"""

from __future__ import annotations

from datetime import UTC, datetime

SUMMARY_FILE = "license-consumption-summary.csv"
MANIFEST_FILE = "manifest.json"
USAGE_FILE_SUFFIX = "-usage.csv"
#: The leading underscore keeps Athena and Glue from reading staging as report data.
STAGING_FOLDER = "_staging/"
RUN_SETTINGS_FILE = "run.json"
OUTCOME_FILE = "outcome.json"


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
    )
    return max(len(key.encode("utf-8")) for key in keys)
