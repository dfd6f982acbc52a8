"""The summary table `make demo` prints: columns, signed changes, width."""

from __future__ import annotations

from demo.__main__ import format_table

ARN = "arn:aws:license-manager:us-east-1:222222222222:license-configuration:lic-"


def summary_row(**values: str) -> dict[str, str]:
    """A summary row as the CSV gives it (every cell a string); ``values`` override."""
    row = {
        "Region": "us-east-1",
        "AccountId": "222222222222",
        "LicenseConfigurationArn": ARN + "0" * 32,
        "LicenseConfigurationId": "lic-" + "0" * 32,
        "Name": "RHEL - Instance",
        "Source": "listed",
        "LicenseCount": "20",
        "PreviousConsumedLicenses": "22",
        "ConsumedLicenses": "25",
        "ConsumedLicensesChange": "3",
        "UtilizationPercent": "125.00",
        "ComplianceStatus": "OVER_LIMIT",
        "Error": "",
    }
    return {**row, **values}


def test_the_table_shows_source_previous_and_the_change_with_its_sign():
    rows = [
        summary_row(),
        summary_row(Name="Fewer", Source="discovered", ConsumedLicensesChange="-2"),
        summary_row(Name="Same", ConsumedLicensesChange="0"),
        summary_row(Name="First run", PreviousConsumedLicenses="", ConsumedLicensesChange=""),
    ]

    lines = format_table(rows).splitlines()

    assert lines[1].split() == [
        "Name", "Source", "Licenses", "Previous", "Consumed", "Change", "Used", "%", "Compliance"
    ]  # fmt: skip
    assert lines[3] == "222222222222 / us-east-1"
    assert lines[4].split() == [
        "RHEL", "-", "Instance", "listed", "20", "22", "25", "+3", "125.00", "OVER_LIMIT"
    ]  # fmt: skip
    assert lines[5].split()[1:6] == ["discovered", "20", "22", "25", "-2"]
    assert lines[6].split()[1:6] == ["listed", "20", "22", "25", "0"]
    assert lines[7].split()[2:6] == ["listed", "20", "25", "125.00"]


def test_rows_not_collected_show_their_id_and_error_and_long_names_fit_in_120_columns():
    long_name = "Windows Server Datacenter - Socket (Dedicated Hosts) of the data centre"
    failed = summary_row(
        Region="eu-west-1",
        Name="",
        LicenseCount="",
        PreviousConsumedLicenses="",
        ConsumedLicenses="",
        ConsumedLicensesChange="",
        UtilizationPercent="",
        ComplianceStatus="",
        Error="AccessDeniedException: no access",
    )

    table = format_table([summary_row(Name=long_name, LicenseCount="2400"), failed])

    assert max(len(line) for line in table.splitlines()) <= 120
    assert long_name[:39] + "…" in table
    scope, row, error = table.splitlines()[-3:]
    assert scope == "222222222222 / eu-west-1"
    assert row.split() == [f"lic-{'0' * 32}", "listed"]
    assert error == "    Error: AccessDeniedException: no access"


def test_the_history_answer_shows_each_configuration_per_run_oldest_first():
    from demo.__main__ import format_history

    def row(run: str, name: str, consumed: int | None) -> dict:
        return {
            "run_timestamp": run,
            "account_id": "222222222222",
            "name": name,
            "license_configuration_arn": ARN + "0" * 32,
            "consumed_licenses": consumed,
        }

    yesterday, today = "2026-11-28T06:00:00Z", "2026-11-29T06:00:00Z"
    lines = format_history(
        [row(today, "RHEL", 25), row(yesterday, "RHEL", 22), row(today, "SQL", 3)]
    ).splitlines()

    assert lines[0].split() == ["Account", "Name", yesterday, today]
    assert lines[2].split() == ["222222222222", "RHEL", "22", "25"]
    assert lines[3].split() == ["222222222222", "SQL", "3"]  # not collected yesterday
    assert lines[3].rstrip().endswith("3") and len(lines[3]) == len(lines[2])
