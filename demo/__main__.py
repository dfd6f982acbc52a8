"""The main job on the embedded local defaults.

Starts the local AWS with the demo data (three accounts, four Regions, accounts isolated as on
AWS), runs the license_tracking DAG twice through Airflow (``airflow dags test``): once for
yesterday, when consumption was a little lower, and once now, so that the change column
compares two report sets. Each run discovers every configuration of every demo account and
Region with a role per member account. Prints which accounts and Regions were discovered,
where the report set landed and the summary as a table grouped by account and Region (source,
previous and current consumption, the change with its sign, compliance status), and copies the
report set to ``.local/demo-reports/`` to open in a spreadsheet. Ends with one question
answered from the two tables every report set is also published to (the Athena named query
"consumption over time", run here by DuckDB): each configuration's consumption in both runs.

    .venv/bin/python -m demo
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from demo.common import (
    BUCKET,
    LOCAL,
    PREFIX,
    ROOT,
    consumption_days_before,
    demo_s3,
    demo_scopes,
    demo_variables,
)
from local_airflow.environment import base_environment, light_settings
from local_aws.seeding import DEMO_SEED_PATH, load_seed
from local_aws.servers import LocalAWS

AIRFLOW_HOME = LOCAL / "airflow"
DOWNLOADS = LOCAL / "demo-reports"
#: The summary columns the table shows under each account and Region, with their titles.
TABLE_COLUMNS = (
    ("Name", "Name"),
    ("Source", "Source"),
    ("LicenseCount", "Licenses"),
    ("PreviousConsumedLicenses", "Previous"),
    ("ConsumedLicenses", "Consumed"),
    ("ConsumedLicensesChange", "Change"),
    ("UtilizationPercent", "Used %"),
    ("ComplianceStatus", "Compliance"),
)
#: Columns aligned to the right.
NUMERIC_COLUMNS = frozenset(
    {
        "LicenseCount",
        "PreviousConsumedLicenses",
        "ConsumedLicenses",
        "ConsumedLicensesChange",
        "UtilizationPercent",
    }
)
#: Longer names are cut, so that the table fits in 120 columns.
NAME_WIDTH = 40
INDENT = "  "


def yesterdays_consumption(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The demo configurations as they were a day earlier: a few licenses fewer in use."""
    return consumption_days_before(entries, 1)


def airflow_env(local_aws: LocalAWS, arns: list[str]) -> dict[str, str]:
    """deploy/airflow.env as the light local deployment runs it (SQLite in AIRFLOW_HOME), the
    local AWS and the demo's settings; nothing Airflow or AWS from the caller's shell."""
    return {
        **base_environment(),
        **light_settings(AIRFLOW_HOME),
        **local_aws.env,
        **demo_variables(arns),
    }


def discovery_lines(manifest: dict) -> list[str]:
    """One line per discovered account and Region, with what was found there."""
    lines = []
    for entry in manifest.get("discovery", []):
        found = f"{entry['configurations']} configurations"
        error = f"  {entry['error']}" if entry["error"] else ""
        lines.append(
            f"  {entry['account_id']} / {entry['region']:<16} {entry['status']:<7} {found}{error}"
        )
    return lines


def run_airflow(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("a") as output:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=env, stdout=output, stderr=output
        )
    if result.returncode:
        sys.exit(f"'airflow {' '.join(args)}' failed; see {log}")


def signed(change: str) -> str:
    """A change with its sign (``+3``, ``-2``, ``0``); empty when there is none."""
    return f"+{change}" if change and Decimal(change) > 0 else change


def shortened(text: str, width: int = NAME_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def table_cells(row: dict[str, str]) -> list[str]:
    """One summary row as the table shows it: a name for every row (the configuration ID of
    one that was not collected) and the change with its sign."""
    shown = {
        **row,
        "Name": shortened(
            row["Name"] or row["LicenseConfigurationId"] or row["LicenseConfigurationArn"]
        ),
        "ConsumedLicensesChange": signed(row["ConsumedLicensesChange"]),
    }
    return [shown[column] for column, _ in TABLE_COLUMNS]


def format_table(rows: list[dict[str, str]]) -> str:
    """The summary as a table: a line per account and Region, the configurations under it
    (each error on a line of its own), as the summary orders them."""
    header = [title for _, title in TABLE_COLUMNS]
    body = [table_cells(row) for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    right = [column in NUMERIC_COLUMNS for column, _ in TABLE_COLUMNS]

    def line(cells: list[str]) -> str:
        aligned = (
            cell.rjust(width) if is_right else cell.ljust(width)
            for cell, width, is_right in zip(cells, widths, right, strict=True)
        )
        return (INDENT + "  ".join(aligned)).rstrip()

    lines = ["Account / Region", line(header), line(["-" * width for width in widths])]
    scope = None
    for row, cells in zip(rows, body, strict=True):
        if (row["AccountId"], row["Region"]) != scope:
            scope = (row["AccountId"], row["Region"])
            lines.append(f"{row['AccountId'] or '-'} / {row['Region'] or '-'}")
        lines.append(line(cells))
        if row["Error"]:
            lines.append(f"{INDENT * 2}Error: {row['Error']}")
    return "\n".join(lines)


def download(s3, folder: str) -> Path:
    target = DOWNLOADS / folder
    target.mkdir(parents=True, exist_ok=True)
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=folder)["Contents"]:
        s3.download_file(BUCKET, item["Key"], str(target / item["Key"].rsplit("/", 1)[1]))
    return target


#: The named query (iam/license-tracking-athena-tables.yaml) whose answer the demo ends with.
HISTORY_QUERY = "license-consumption-over-time"


def format_history(rows: list[dict[str, Any]]) -> str:
    """Consumption per configuration (a line each) and run (a column each, oldest first)."""
    runs = sorted({row["run_timestamp"] for row in rows})
    consumed: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        name = shortened(row["name"] or row["license_configuration_arn"])
        consumed.setdefault((row["account_id"], name), {})[row["run_timestamp"]] = row[
            "consumed_licenses"
        ]
    header = ["Account", "Name", *runs]
    body = [
        [account, name, *("" if by_run.get(run) is None else str(by_run[run]) for run in runs)]
        for (account, name), by_run in sorted(consumed.items())
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells: list[str]) -> str:
        text = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
        text += [cell.rjust(width) for cell, width in zip(cells[2:], widths[2:], strict=True)]
        return (INDENT + "  ".join(text)).rstrip()

    return "\n".join(
        [line(header), line(["-" * width for width in widths])] + [line(b) for b in body]
    )


def history_answer(s3: Any) -> str:
    """The named query HISTORY_QUERY over the tables, as local_aws.athena runs it in DuckDB."""
    from local_aws.athena import load_template, named_queries, query, tables_connection

    with tempfile.TemporaryDirectory(prefix="demo-tables-") as folder:
        connection = tables_connection(s3, BUCKET, PREFIX, Path(folder))
        rows = query(connection, named_queries(load_template())[HISTORY_QUERY])
        connection.close()
    return format_history(rows)


def main() -> None:
    AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    log = LOCAL / "demo-airflow.log"
    log.write_text("")
    demo = load_seed(DEMO_SEED_PATH)
    arns = [entry["LicenseConfigurationArn"] for entry in demo]
    with LocalAWS(DEMO_SEED_PATH, isolate_accounts=True) as local_aws:
        s3 = demo_s3(local_aws)
        s3.create_bucket(Bucket=BUCKET)
        env = airflow_env(local_aws, arns)
        print(
            f"Local AWS up: License Manager emulator {local_aws.emulator_url}, "
            f"moto {local_aws.moto_url}; {len(arns)} demo configurations in "
            f"{len(demo_scopes(arns)[0])} accounts and {len(demo_scopes(arns)[1])} Regions."
        )
        print(
            f"Preparing Airflow in {AIRFLOW_HOME.relative_to(ROOT)} (log: {log.relative_to(ROOT)})"
        )
        run_airflow(["db", "migrate"], env, log)
        yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
        print(f"Running the DAG for yesterday: airflow dags test license_tracking {yesterday}")
        local_aws.emulator.seed(yesterdays_consumption(demo), replace=False)
        run_airflow(["dags", "test", "license_tracking", yesterday], env, log)
        local_aws.emulator.seed(demo, replace=False)
        print("Running it again now: airflow dags test license_tracking")
        run_airflow(["dags", "test", "license_tracking"], env, log)

        manifest_key = max(
            item["Key"]
            for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)["Contents"]
            if item["Key"].endswith("/manifest.json")
        )
        folder = manifest_key.rsplit("/", 1)[0] + "/"
        manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
        summary = s3.get_object(Bucket=BUCKET, Key=folder + "license-consumption-summary.csv")
        rows = list(csv.DictReader(io.StringIO(summary["Body"].read().decode("utf-8"))))
        print("\nDiscovered (account / Region, with the role of each member account):")
        print("\n".join(discovery_lines(manifest)))
        print(f"\nReport set: s3://{BUCKET}/{folder}")
        for file in manifest["files"]:
            name = file["key"].rsplit("/", 1)[1]
            print(f"  {name:<50} {file['rows']:>6} rows {file['bytes']:>8} bytes")
        print(f"  {'manifest.json':<50} (written last)\n")
        print(format_table(rows))
        print(f"\nChange: consumption since the previous report set, {manifest['previous_folder']}")
        print(f"\nCopied to {download(s3, folder).relative_to(ROOT)}/")
        print(
            f"\nHistory from the tables (s3://{BUCKET}/{PREFIX}tables/, named query "
            f"{HISTORY_QUERY!r} run by DuckDB): licenses consumed per configuration and run"
        )
        print(history_answer(s3))


if __name__ == "__main__":
    main()
