"""Scenario 7: the organisation scale: discovery in accounts x Regions against the no-op floor
of the same shape."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from benchmarks.measure import (
    database_bytes,
    database_file_bytes,
    series,
)
from benchmarks.scenarios.bench import DAG_ID, NOOP_DAG_ID, PAGE, REGIONS, Bench, Result
from benchmarks.scenarios.dag_runs import OVERHEAD_TARGET, compare_with_floor, overhead_sample
from local_aws.arns import DEFAULT_ACCOUNT

# --- 7. Organisation scale --------------------------------------------------------------------

ORG_ROLE_TEMPLATE = "arn:{partition}:iam::{account_id}:role/LicenseTrackingReader"
#: Metadata database growth allowed per run of the real DAG ("<= 5 MB").
ORG_DATABASE_TARGET = 5_000_000
#: Configuration i holds i % ORG_USAGE_CYCLE usage records: 0 to 5.
ORG_USAGE_CYCLE = 6
ORG_SPREAD = (
    "uneven: every 12th account/Region holds 12 shares, the one before it none, "
    "every other one share"
)


@dataclass(frozen=True)
class OrgShape:
    """Accounts x Regions to discover in, the configurations they hold, the emulator's page."""

    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    configurations: int
    page: int

    @property
    def scopes(self) -> list[tuple[str, str]]:
        return [(account, region) for account in self.accounts for region in self.regions]

    @property
    def mapped_tasks(self) -> int:
        """Discovery tasks plus fetch tasks: the same in the real DAG and in the no-op floor."""
        return len(self.scopes) + self.configurations


def org_accounts(count: int) -> tuple[str, ...]:
    """The connection's own account, then member accounts 200000000001, 200000000002, ..."""
    return (DEFAULT_ACCOUNT, *(f"2{n:011d}" for n in range(1, count)))


def scope_counts(total: int, scopes: int) -> list[int]:
    """``total`` configurations over ``scopes`` as ORG_SPREAD says (largest remainders)."""
    weights = [12 if k % 12 == 0 else 0 if k % 12 == 11 else 1 for k in range(scopes)]
    exact = [total * weight / sum(weights) for weight in weights]
    counts = [math.floor(share) for share in exact]
    by_remainder = sorted(range(scopes), key=lambda k: counts[k] - exact[k])
    for k in by_remainder[: total - sum(counts)]:
        counts[k] += 1
    return counts


def org_configurations(shape: OrgShape) -> dict[tuple[str, str], list[str]]:
    """The configuration ARNs of each (account, Region)."""
    by_scope, index = {}, 0
    counts = scope_counts(shape.configurations, len(shape.scopes))
    for (account, region), count in zip(shape.scopes, counts, strict=True):
        by_scope[(account, region)] = [
            f"arn:aws:license-manager:{region}:{account}:license-configuration:"
            f"lic-{uuid.uuid5(uuid.NAMESPACE_URL, f'org-{index + i}').hex}"
            for i in range(count)
        ]
        index += count
    return by_scope


def pages(items: int, page: int) -> int:
    """Calls to page through ``items``: an empty listing is one call too."""
    return max(1, math.ceil(items / page))


def org_minimum_calls(
    shape: OrgShape, by_scope: dict[tuple[str, str], list[str]], usage: dict[str, int]
) -> dict[str, int]:
    """Every listing page, one AssumeRole per task and member account, one Get per
    configuration, every usage page."""
    home = shape.accounts[0]
    members = {scope: arns for scope, arns in by_scope.items() if scope[0] != home}
    return {
        "ListLicenseConfigurations": sum(pages(len(a), shape.page) for a in by_scope.values()),
        "sts:AssumeRole": len(members) + sum(len(arns) for arns in members.values()),
        "GetLicenseConfiguration": len(usage),
        "ListUsageForLicenseConfiguration": sum(pages(n, shape.page) for n in usage.values()),
    }


def _org_confs(shape: OrgShape) -> dict[str, dict[str, Any]]:
    """Each DAG's conf: the real one discovers; the floor is given the same scopes (and
    the same ARNs, listed)."""
    scopes = [
        {"account_id": account, "region": region, "aws_conn_id": "aws_default"}
        for account, region in shape.scopes
    ]
    return {
        DAG_ID: {
            "license_discovery_regions": list(shape.regions),
            "license_discovery_accounts": list(shape.accounts),
            "license_account_role_arn_template": ORG_ROLE_TEMPLATE,
        },
        NOOP_DAG_ID: {"discovery_scopes": scopes},
    }


def _org_collection(bench: Bench, bucket: str, arns: set[str]) -> dict[str, Any]:
    """What the run's manifest says it collected (nothing when no manifest was written)."""
    try:
        manifest = bench.manifest(bucket)
    except ValueError:  # no manifest.json: the writer did not finish
        return {"in_report": 0, "collected": 0, "usage_records_written": 0, "scopes_failed": -1}
    collected = [e for e in manifest["configurations"] if e["status"] == "ok"]
    return {
        "in_report": len(manifest["configurations"]),
        "collected": len({entry["arn"] for entry in collected} & arns),
        "usage_records_written": sum(entry["usage_records"] or 0 for entry in collected),
        "scopes_failed": sum(1 for scope in manifest["discovery"] if scope["status"] != "ok"),
    }


def _org_calls(bench: Bench, minimum: dict[str, int]) -> dict[str, Any]:
    calls = bench.servers.emulator.calls()["by_operation"]
    made = {op: calls.get(op, 0) for op in minimum}
    return {
        "made": made,
        "minimum": minimum,
        "ratio": round(sum(made.values()) / sum(minimum.values()), 2),
        "ratio_by_operation": {
            op: round(made[op] / minimum[op], 2) for op in minimum if minimum[op]
        },
        "other_operations": {op: n for op, n in calls.items() if op not in minimum},
    }


def _org_run(
    bench: Bench, number: int, dag_id: str, conf: dict[str, Any], arns: list[str]
) -> dict[str, Any]:
    """One measured run: wall time, CPU by group, database growth, the writer's time."""
    bench.servers.emulator.reset_calls()
    in_use, on_disk = database_bytes(bench.stack.home), database_file_bytes(bench.stack.home)
    run = bench.run(dag_id, arns, measure_cpu=True, conf=conf)
    time.sleep(2)  # let the scheduler's last writes land
    sample = overhead_sample(number, dag_id, run)
    sample["database_bytes_added"] = database_bytes(bench.stack.home) - in_use
    sample["database_file_bytes_added"] = database_file_bytes(bench.stack.home) - on_disk
    sample["writer_seconds"] = bench.task_seconds(dag_id, run["dag_run_id"], "write_report")
    sample["bucket"] = run["bucket"]
    return sample


def _org_rounds(
    bench: Bench, shape: OrgShape, rounds: int, arns: list[str], minimum: dict[str, int]
) -> list[dict[str, Any]]:
    """Interleaved rounds, each DAG first in every other round; the real runs' calls."""
    confs, seeded = _org_confs(shape), set(arns)
    samples = []
    for number in range(rounds):
        order = (DAG_ID, NOOP_DAG_ID) if number % 2 == 0 else (NOOP_DAG_ID, DAG_ID)
        for dag_id in order:
            listed = [] if dag_id == DAG_ID else arns
            sample = _org_run(bench, number + 1, dag_id, confs[dag_id], listed)
            if dag_id == DAG_ID:
                sample["calls"] = _org_calls(bench, minimum)
                sample["collection"] = _org_collection(bench, sample["bucket"], seeded)
            samples.append(sample)
    return samples


def _per_dag(samples: list[dict[str, Any]], key: str, digits: int = 1) -> dict[str, Any]:
    """Each DAG's samples of ``key`` (None where none was reported)."""
    figures: dict[str, Any] = {}
    for name, dag_id in (("license_tracking", DAG_ID), ("noop_floor", NOOP_DAG_ID)):
        values = [s[key] for s in samples if s["dag_id"] == dag_id and s[key] is not None]
        figures[name] = series(values, digits) if values else None
    return figures


def _cpu_ms_per_mapped_task(cpu: dict[str, Any], tasks: int) -> dict[str, Any]:
    """Each group's median CPU-seconds per run, as milliseconds per mapped task."""
    return {
        group: {
            dag: round(figures[dag]["median"] / tasks * 1000)
            for dag in ("license_tracking", "noop_floor")
        }
        for group, figures in cpu.items()
    }


def _org_figures(samples: list[dict[str, Any]], shape: OrgShape, records: int) -> dict[str, Any]:
    real = [s for s in samples if s["dag_id"] == DAG_ID]
    comparison = compare_with_floor(samples, shape.mapped_tasks)
    worst_calls = max((s["calls"] for s in real), key=lambda calls: calls["ratio"])
    worst_collection = min((s["collection"] for s in real), key=lambda c: c["collected"])
    return {
        "failed_runs": [
            f"{s['dag_id']} round {s['round']}: {s['state']}"
            for s in samples
            if s["state"] != "success"
        ],
        "configurations": shape.configurations,
        "usage_records": records,
        "collected": worst_collection["collected"],
        "collection": worst_collection,
        "calls": worst_calls,
        "calls_ratio": worst_calls["ratio"],
        "wall_seconds": comparison["wall_seconds"],
        "ratio": comparison["ratio"],
        "round_ratios": comparison["round_ratios"],
        "overlap": comparison["overlap"],
        "writer_seconds": _per_dag(samples, "writer_seconds", 2),
        "database_bytes_added": _per_dag(samples, "database_bytes_added", 0),
        "database_file_bytes_added": _per_dag(samples, "database_file_bytes_added", 0),
        "cpu_seconds": comparison["cpu_seconds"],
        "cpu_ms_per_mapped_task": _cpu_ms_per_mapped_task(
            comparison["cpu_seconds"], shape.mapped_tasks
        ),
        "other_airflow_extra_ms_per_task": comparison["other_airflow_extra_ms_per_task"],
        "runs": samples,
    }


def _org_holds(figures: dict[str, Any], records: int) -> bool:
    real = [s for s in figures["runs"] if s["dag_id"] == DAG_ID]
    return (
        not figures["failed_runs"]
        and all(s["collection"]["collected"] == figures["configurations"] for s in real)
        and all(s["collection"]["usage_records_written"] == records for s in real)
        and all(s["collection"]["scopes_failed"] == 0 for s in real)
        and all(s["calls"]["made"] == s["calls"]["minimum"] for s in real)
        and figures["ratio"] <= OVERHEAD_TARGET
        and max(s["database_bytes_added"] for s in real) <= ORG_DATABASE_TARGET
    )


def _check_map_length(bench: Bench, shape: OrgShape) -> int:
    """The deployment's [core] max_map_length; ValueError when the run could not map."""
    limit = int(bench.stack.env.get("AIRFLOW__CORE__MAX_MAP_LENGTH", "1024"))
    if limit < max(shape.configurations, len(shape.scopes)):
        raise ValueError(
            f"[core] max_map_length is {limit}: the benchmark's Airflow cannot map "
            f"{shape.configurations} configurations (deploy/airflow.env sets it)"
        )
    return limit


def org_scale(
    bench: Bench, smoke: bool, configurations: int | None = None, rounds: int | None = None
) -> Result:
    """Discovery in accounts x Regions against the no-op floor of the same shape."""
    accounts, regions, default_count, page = (2, 2, 12, 2) if smoke else (20, 3, 1500, PAGE)
    shape = OrgShape(
        org_accounts(accounts), REGIONS[:regions], configurations or default_count, page
    )
    rounds = rounds or 1
    map_limit = _check_map_length(bench, shape)
    by_scope = org_configurations(shape)
    arns = [arn for scope_arns in by_scope.values() for arn in scope_arns]
    usage = {arn: i % ORG_USAGE_CYCLE for i, arn in enumerate(arns)}
    bench.seed(arns, list(usage.values()))
    for dag_id in (DAG_ID, NOOP_DAG_ID):  # warm-up: each executor worker's first task is slower
        bench.run(dag_id, arns[:8])
    # As AWS: another account's configurations are read only through its role.
    bench.servers.emulator.update_settings(isolate_accounts=True, page_size_cap=page)
    minimum = org_minimum_calls(shape, by_scope, usage)
    samples = _org_rounds(bench, shape, rounds, arns, minimum)
    figures = _org_figures(samples, shape, sum(usage.values()))
    return Result(
        "org_scale",
        {
            "accounts": accounts,
            "regions": list(shape.regions),
            "scopes": len(shape.scopes),
            "configurations": shape.configurations,
            "spread": ORG_SPREAD,
            "largest_scope": max(len(a) for a in by_scope.values()),
            "empty_scopes": sum(1 for a in by_scope.values() if not a),
            "usage_per_configuration": f"0..{ORG_USAGE_CYCLE - 1}",
            "page_size": page,
            "mapped_tasks": shape.mapped_tasks,
            "role_arn_template": ORG_ROLE_TEMPLATE,
            "isolate_accounts": True,
            "rounds": rounds,
            "order": "interleaved; each DAG runs first in every other round",
            "warm_up": "one run of each DAG with 8 listed ARNs",
            "executor": "LocalExecutor",
            "parallelism": int(bench.stack.env["AIRFLOW__CORE__PARALLELISM"]),
            "max_map_length": map_limit,
        },
        figures,
        "every configuration collected; calls = the minimum (ratio 1.00); wall time "
        f"<= {OVERHEAD_TARGET} x the no-op floor of the same shape (medians); metadata "
        f"database growth <= {ORG_DATABASE_TARGET:,} bytes per run",
        _org_holds(figures, sum(usage.values())),
        notes=[
            "calls: per real run, from the emulator's counts (AssumeRole through its STS "
            "front); minimum = every ListLicenseConfigurations page + one AssumeRole per task "
            "and member account + one GetLicenseConfiguration per configuration + every "
            "usage page",
            "writer_seconds: the write_report task's duration from the REST API",
            "database_bytes_added: in-use pages of the SQLite metadata database, measured "
            "2 s after the run; database_file_bytes_added: its files on disk",
            "cpu_seconds: as in airflow_overhead; cpu_ms_per_mapped_task: each group's "
            "median per run / mapped tasks (discovery + fetch)",
            "with one round, 'overlap' compares single samples and says little",
        ],
    )
