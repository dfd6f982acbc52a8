"""The two tables through the DAG (dag.test) against the local AWS, queried with DuckDB: several
runs on different days, a rerun, a configuration that failed once, and every named query of
the shipped CloudFormation template (local_aws.athena explains how DuckDB reads the tables)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from license_manager.tables import CONSUMPTION_TABLE_COLUMNS, USAGE_TABLE_COLUMNS

from local_aws.athena import load_template, named_queries, query, table_columns, tables_connection
from local_aws.seeding import make_configuration
from tests.support import config_arn

pytestmark = [pytest.mark.usefixtures("airflow_db"), pytest.mark.xdist_group("tables_run")]

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 18, tzinfo=UTC)  # backfilled after the next Monday's runs
NEXT_MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
NEXT_MONDAY_NOON = datetime(2026, 11, 23, 12, tzinfo=UTC)
#: A usage cell with a comma, quotes and a line break: one record over two lines of the file.
AWKWARD_STATUS = 'stopped, "pending"\r\nreview'


def usage(account: str, *statuses: str) -> list[dict]:
    return [
        {
            "ResourceArn": f"arn:aws:ec2:us-east-1:{account}:instance/i-{index:017x}",
            "ResourceType": "EC2_INSTANCE",
            "ResourceStatus": status,
            "ResourceOwnerId": account,
            "AssociationTime": datetime(2026, 11, 1, tzinfo=UTC),
            "ConsumedLicenses": 4,
        }
        for index, status in enumerate(statuses)
    ]


def seed(world, arn: str, name: str, consumed: int, count: int, records: list[dict]) -> None:
    world.seed(
        make_configuration(
            arn, name=name, license_count=count, usage=records, ConsumedLicenses=consumed
        )
    )


@pytest.fixture(scope="module")
def world(local_aws_servers, airflow_db):
    """One bucket for the module: its runs are made once, and every test queries them."""
    import uuid

    from tests.support import World, load_dag

    local_aws_servers.emulator.reset()
    bucket = f"tables-{uuid.uuid4().hex[:12]}"
    world = World(local_aws_servers, load_dag(), bucket)
    world.s3.create_bucket(Bucket=bucket)
    return world


@pytest.fixture(scope="module")
def history(world, tmp_path_factory):
    """Runs over two weeks (prefix ``history/``): Monday (tried twice: the rerun collects the
    configuration the first try could not, and no longer lists a third one), Tuesday, and two
    runs the next Monday, the first of which cannot read the SQL Server configuration; then
    Wednesday is backfilled."""
    windows = config_arn(account="111111111111")
    sql = config_arn(account="222222222222")
    dropped = config_arn(account="111111111111")
    windows_usage = usage("111111111111", "running", AWKWARD_STATUS)
    sql_usage = usage("222222222222", "running")
    deny = {"permanent_errors": {sql: "AccessDeniedException"}}
    prefix = "history/"

    def run(moment, arns, windows_consumed, sql_consumed, faults=None):
        seed(world, windows, "Windows Server", windows_consumed, 20, windows_usage)
        seed(world, sql, "SQL Server", sql_consumed, 10, sql_usage)
        world.emulator.set_faults(faults or {})
        return world.run(moment, license_config_arns=arns, license_report_prefix=prefix).state

    seed(world, dropped, "Dropped", 1, 10, usage("111111111111", "running"))
    assert run(MONDAY, [windows, sql, dropped], 24, 4, deny) == "failed"
    assert run(MONDAY, [windows, sql], 25, 5) == "success"
    assert run(TUESDAY, [windows, sql], 18, 6) == "success"
    assert run(NEXT_MONDAY, [windows, sql], 22, 7, deny) == "failed"
    assert run(NEXT_MONDAY_NOON, [windows, sql], 21, 7) == "success"
    assert run(WEDNESDAY, [windows, sql], 19, 6) == "success"
    connection = tables_connection(
        world.s3, world.bucket, prefix, tmp_path_factory.mktemp("tables")
    )
    return {"connection": connection, "windows": windows, "sql": sql, "prefix": prefix}


def test_the_template_columns_are_the_headers_the_writer_writes(world, history):
    keys = world.keys(history["prefix"] + "tables/")
    consumption = next(key for key in keys if "/license_consumption/" in key)
    usage_key = next(key for key in keys if "/license_usage/" in key)
    columns = table_columns(load_template())
    assert columns["license_consumption"] == world.read_csv(consumption)[0]
    assert columns["license_usage"] == world.read_csv(usage_key)[0]
    assert columns == {
        "license_consumption": list(CONSUMPTION_TABLE_COLUMNS),
        "license_usage": list(USAGE_TABLE_COLUMNS),
    }


def test_only_the_tables_files_of_each_run_once(world, history):
    tables = sorted(key.removeprefix("history/tables/") for key in world.keys("history/tables/"))
    ids = {name: history[name].rsplit(":", 1)[1] for name in ("windows", "sql")}
    assert tables == sorted(
        [
            "license_consumption/dt=2026-11-16/20261116T000000Z.csv",
            "license_consumption/dt=2026-11-17/20261117T000000Z.csv",
            "license_consumption/dt=2026-11-23/20261123T000000Z.csv",
            "license_consumption/dt=2026-11-23/20261123T120000Z.csv",
            # the rerun's: no file of the configuration it no longer lists
            f"license_usage/dt=2026-11-16/20261116T000000Z-{ids['windows']}.csv",
            f"license_usage/dt=2026-11-16/20261116T000000Z-{ids['sql']}.csv",
            f"license_usage/dt=2026-11-17/20261117T000000Z-{ids['windows']}.csv",
            f"license_usage/dt=2026-11-17/20261117T000000Z-{ids['sql']}.csv",
            "license_consumption/dt=2026-11-18/20261118T000000Z.csv",
            f"license_usage/dt=2026-11-18/20261118T000000Z-{ids['windows']}.csv",
            f"license_usage/dt=2026-11-18/20261118T000000Z-{ids['sql']}.csv",
            f"license_usage/dt=2026-11-23/20261123T000000Z-{ids['windows']}.csv",  # sql failed
            f"license_usage/dt=2026-11-23/20261123T120000Z-{ids['windows']}.csv",
            f"license_usage/dt=2026-11-23/20261123T120000Z-{ids['sql']}.csv",
        ]
    )
    rows = query(
        history["connection"],
        "SELECT RunTimestamp, ReportFolder, COUNT(*) AS n FROM license_consumption "
        "GROUP BY ALL ORDER BY 1",
    )
    assert [(row["RunTimestamp"], row["ReportFolder"], row["n"]) for row in rows] == [
        ("2026-11-16T00:00:00Z", "history/2026/11/16/20261116T000000Z/", 2),
        ("2026-11-17T00:00:00Z", "history/2026/11/17/20261117T000000Z/", 2),
        ("2026-11-18T00:00:00Z", "history/2026/11/18/20261118T000000Z/", 2),
        ("2026-11-23T00:00:00Z", "history/2026/11/23/20261123T000000Z/", 2),
        ("2026-11-23T12:00:00Z", "history/2026/11/23/20261123T120000Z/", 2),
    ]
    statuses = query(
        history["connection"],
        "SELECT ResourceStatus, RunTimestamp FROM license_usage WHERE dt = '2026-11-17' "
        "AND LicenseConfigurationArn = ? ORDER BY ResourceArn",
        [history["windows"]],
    )
    assert [row["ResourceStatus"] for row in statuses] == ["running", AWKWARD_STATUS]


def run_named(history, name: str, *parameters) -> list[tuple]:
    sql = named_queries(load_template())[name]
    return [tuple(row.values()) for row in query(history["connection"], sql, list(parameters))]


def test_consumption_over_time(history):
    rows = run_named(history, "license-consumption-over-time")
    windows, sql = history["windows"], history["sql"]
    assert [(row[4], row[1], row[6], row[7], row[9]) for row in rows] == sorted(
        [
            (windows, "2026-11-16T00:00:00Z", 25, 20, "OVER_LIMIT"),
            (windows, "2026-11-17T00:00:00Z", 18, 20, "NEAR_LIMIT"),
            (windows, "2026-11-18T00:00:00Z", 19, 20, "NEAR_LIMIT"),
            (windows, "2026-11-23T00:00:00Z", 22, 20, "OVER_LIMIT"),
            (windows, "2026-11-23T12:00:00Z", 21, 20, "OVER_LIMIT"),
            (sql, "2026-11-16T00:00:00Z", 5, 10, "OK"),
            (sql, "2026-11-17T00:00:00Z", 6, 10, "OK"),
            (sql, "2026-11-18T00:00:00Z", 6, 10, "OK"),
            (sql, "2026-11-23T12:00:00Z", 7, 10, "OK"),
        ]
    )
    assert {row[8] for row in rows if row[1] == "2026-11-16T00:00:00Z"} == {125.0, 50.0}


def test_latest_run_of_each_day(history):
    rows = run_named(history, "license-latest-run-of-each-day")
    assert sorted({(row[0], row[1]) for row in rows}) == [
        ("2026-11-16", "2026-11-16T00:00:00Z"),
        ("2026-11-17", "2026-11-17T00:00:00Z"),
        ("2026-11-18", "2026-11-18T00:00:00Z"),
        ("2026-11-23", "2026-11-23T12:00:00Z"),
    ]
    assert len(rows) == 8 and {row[9] for row in rows} == {""}


def test_every_day_over_the_limit(history):
    rows = run_named(history, "license-days-over-limit")
    windows = history["windows"]
    assert rows == [
        ("2026-11-16", windows, "Windows Server", "111111111111", 25, 20, 1),
        ("2026-11-23", windows, "Windows Server", "111111111111", 22, 20, 2),
    ]


def test_week_over_week_per_account(history):
    rows = run_named(history, "license-week-over-week-by-account")
    assert [(str(row[0]), *row[1:]) for row in rows] == [
        ("2026-11-16", "111111111111", 19, None, None),  # the backfilled Wednesday's
        ("2026-11-23", "111111111111", 21, 19, 2),
        ("2026-11-16", "222222222222", 6, None, None),
        ("2026-11-23", "222222222222", 7, 6, 1),
    ]


def test_usage_per_resource_of_one_configuration(history):
    rows = run_named(history, "license-usage-per-resource", history["windows"])
    account = "111111111111"
    assert rows == [
        (
            f"arn:aws:ec2:us-east-1:{account}:instance/i-{index:017x}",
            "EC2_INSTANCE",
            account,
            5,
            5,
            "2026-11-16",
            "2026-11-23",
            4,
        )
        for index in range(2)
    ]
