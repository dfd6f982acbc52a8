"""A local stand-in for Athena over the two report tables: DuckDB, the shipped definitions.

The CloudFormation template ``iam/license-tracking-athena-tables.yaml`` is read for each
table's columns and each named query's SQL, so what runs here is what Athena would run.

How the objects reach DuckDB: DuckDB's Python wheel does not bundle the ``httpfs`` extension,
and installing it is a download from extensions.duckdb.org that an offline machine cannot
make. So ``download_tables`` copies every object under ``{prefix}tables/`` with boto3 (from
whatever S3 endpoint the environment names: moto's for the tests and the demo) into a local
folder with the same Hive layout (``license_consumption/dt=YYYY-MM-DD/...``), and DuckDB reads
that folder.

Dialect: the named queries are written in the SQL that Athena (Trino) and DuckDB share
(``TRY_CAST``, ``CAST(date_trunc('week', ...) AS DATE)``, ``?`` parameters, window functions).
What differs is how a table is read, and ``connect`` is the one place that handles it: each
table is a DuckDB view over its CSV files read the way Athena's definition reads them: header
skipped, every column text as OpenCSVSerDe reads it (an empty cell is '', not NULL: DuckDB's
NULL marker is set to a character no cell holds; TRY_CAST makes '' NULL in both engines),
``dt`` a text partition column taken from the folder name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "iam" / "license-tracking-athena-tables.yaml"
TABLES = ("license_consumption", "license_usage")


class _TemplateLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation's short tags (``!Ref``, ``!Sub``) as data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {suffix: loader.construct_mapping(node, deep=True)}
    return {suffix: loader.construct_scalar(node)}


_TemplateLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_TemplateLoader)  # noqa: S506


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def table_columns(template: dict[str, Any]) -> dict[str, list[str]]:
    """Each Glue table's column names in order (the partition column ``dt`` not among them)."""
    return {
        table["TableInput"]["Name"]: [
            column["Name"] for column in table["TableInput"]["StorageDescriptor"]["Columns"]
        ]
        for table in _resources(template, "AWS::Glue::Table")
    }


def named_queries(template: dict[str, Any]) -> dict[str, str]:
    """Each Athena named query's SQL, by its name."""
    return {
        query["Name"]: query["QueryString"]
        for query in _resources(template, "AWS::Athena::NamedQuery")
    }


def download_tables(s3: Any, bucket: str, prefix: str, folder: Path) -> list[Path]:
    """Copy every object under ``{prefix}tables/`` into ``folder``, keeping its layout."""
    copied = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}tables/"):
        for item in page.get("Contents", []):
            target = folder / item["Key"].removeprefix(f"{prefix}tables/")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
            copied.append(target)
    return copied


def connect(folder: Path) -> Any:
    """A DuckDB connection with one view per table over the CSV files in ``folder``."""
    import duckdb

    connection = duckdb.connect()
    for table in TABLES:
        files = folder / table / "*" / "*.csv"
        if not any((folder / table).glob("*/*.csv")):
            raise FileNotFoundError(f"no {table} files under {folder}")
        connection.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_csv('{files}', header = true, "
            "all_varchar = true, nullstr = chr(1), quote = '\"', escape = '\"', "
            "hive_partitioning = true, hive_types = {'dt': 'VARCHAR'})"
        )
    return connection


def query(connection: Any, sql: str, parameters: list[Any] | None = None) -> list[dict[str, Any]]:
    """The rows of ``sql`` as dicts by column name."""
    cursor = connection.execute(sql, parameters or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def tables_connection(s3: Any, bucket: str, prefix: str, folder: Path) -> Any:
    """``download_tables`` then ``connect``: the tables of ``bucket`` as DuckDB sees them."""
    download_tables(s3, bucket, prefix, folder)
    return connect(folder)
