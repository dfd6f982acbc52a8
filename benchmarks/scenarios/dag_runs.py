"""Scenarios 1, 2, 3 and 5: the DAG run through a real Airflow against the local AWS (API
calls, Airflow overhead against the no-op floor, big usage, throttling)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from benchmarks.measure import (
    TaskMemorySampler,
    database_bytes,
    median,
    mib,
    overlap_verdict,
    percentile,
    series,
)
from benchmarks.scenarios.bench import (
    DAG_ID,
    NOOP_DAG_ID,
    PAGE,
    REGIONS,
    Bench,
    Result,
    config_arns,
    minimum_calls,
)

# --- 1. API calls -----------------------------------------------------------------------------


def api_calls(bench: Bench, smoke: bool) -> Result:
    count, largest = (6, 250) if smoke else (100, 2500)
    sizes = [round(i * largest / (count - 1)) for i in range(count)]
    arns = config_arns(count, "api-calls")
    bench.seed(arns, sizes)
    run = bench.run(DAG_ID, arns)
    calls = bench.servers.emulator.calls()["by_operation"]
    minimum = minimum_calls(sizes)
    made = {op: calls.get(op, 0) for op in minimum}
    ratio = round(sum(made.values()) / sum(minimum.values()), 2)
    return Result(
        "api_calls",
        {
            "arns": count,
            "regions": len(REGIONS),
            "usage_per_configuration": f"0..{largest}",
            "page_size": PAGE,
            "latency_ms": 0,
            "throttle_rate": 0,
        },
        {
            "run_state": run["state"],
            "calls": made,
            "minimum": minimum,
            "ratio": ratio,
            "other_operations": {op: n for op, n in calls.items() if op not in minimum},
        },
        "calls / minimum = 1.00",
        run["state"] == "success" and ratio == 1.0,
    )


# --- 2. Airflow overhead ----------------------------------------------------------------------


OVERHEAD_TARGET = 1.25
#: The three groups of the CPU split; every Airflow process but the task processes is "other".
CPU_GROUPS = ("task_processes", "other_airflow", "local_aws")


def airflow_overhead(
    bench: Bench,
    smoke: bool,
    arns: int | None = None,
    rounds: int | None = None,
    latencies: tuple[int, ...] | None = None,
) -> Result:
    default_arns, default_rounds, default_latencies = (4, 2, (0,)) if smoke else (200, 5, (0, 50))
    count, rounds = arns or default_arns, rounds or default_rounds
    latencies = latencies or default_latencies
    parallelism = int(bench.stack.env["AIRFLOW__CORE__PARALLELISM"])
    arn_list = config_arns(count, "overhead")
    sizes = [10] * count
    figures: dict[str, Any] = {}
    holds = True
    bench.seed(arn_list, sizes)
    if not smoke:  # warm-up: each executor worker's first task is slower
        for dag_id in (DAG_ID, NOOP_DAG_ID):
            bench.run(dag_id, arn_list[:16])
    for latency in latencies:
        bench.seed(arn_list, sizes)
        bench.servers.emulator.set_faults({"latency_ms": latency})
        runs = []
        for number in range(rounds):
            # Interleaved, each DAG first in every other round: drift hits both alike.
            order = (DAG_ID, NOOP_DAG_ID) if number % 2 == 0 else (NOOP_DAG_ID, DAG_ID)
            for dag_id in order:
                run = bench.run(dag_id, arn_list, measure_cpu=True)
                holds &= run["state"] == "success"
                instances = bench.task_instances(run["dag_run_id"], dag_id)
                run["steps"] = run_steps(run, instances, parallelism, bench.workloads_finished())
                runs.append(overhead_sample(number + 1, dag_id, run))
        comparison = compare_with_floor(runs, count)
        figures[f"latency_{latency}ms"] = comparison
        holds &= comparison["ratio"] <= OVERHEAD_TARGET
    return Result(
        "airflow_overhead",
        {
            "arns": count,
            "usage_per_configuration": 10,
            "latency_ms": list(latencies),
            "rounds": rounds,
            "order": "interleaved; each DAG runs first in every other round",
            "executor": "LocalExecutor",
            "parallelism": parallelism,
        },
        figures,
        f"DAG run wall time <= {OVERHEAD_TARGET} x the no-op floor (medians)",
        holds,
        notes=[
            "wall_seconds: every run's samples with median and spread (max - min); "
            "overlap: 'separate' (ranges apart: the ratio is meaningful), 'overlapping' "
            "(indicative), 'within the noise' (a median lies in the other's range: the ratio "
            "means nothing)",
            "cpu_seconds: CPU-seconds per run by process group, counted by the kernel from "
            "the trigger until the last task process has ended; extra_ms_per_task = "
            "(median real - median floor) / mapped tasks",
            "steps: where each run's wall time went, from its task instances' start and end "
            "times (see run_steps); median of the rounds per DAG",
        ],
    )


FETCH_TASK_ID = "fetch_license_configuration"
WRITER_TASK_ID = "write_report"


def run_steps(
    run: dict[str, Any],
    instances: list[dict[str, Any]],
    parallelism: int,
    workloads_finished: dict[str, datetime],
) -> dict[str, Any]:
    """Where one run's wall time went, from its task instances' times.

    ``before_fetch``: from the run's start until its first fetch task is queued (settings,
    discovery, merge, and the scheduler mapping the fetch task); ``fetching``: from then to the
    last fetch task's end; ``after_fetch``: from there to the run's end (writer, checks).
    ``fetch_task``: a fetch task's run time (start to end); ``fetch_queued``: queued to
    started (waiting for an executor worker, then its process starting). ``slot_occupancy``:
    the fetch tasks' queued-to-end time over ``parallelism`` slots for the fetching window, the
    average number of fetch tasks queued or running per slot (above 1: more wait than run).
    ``fetch_release``: from a fetch task's end to its executor worker being free for the next
    task (the task process exiting and its supervisor noticing), from ``workloads_finished``;
    ``fetch_release_total`` over ``parallelism`` is what it cost the fetching window.
    """
    fetches = [
        ti
        for ti in instances
        if ti["task_id"] == FETCH_TASK_ID and ti.get("end_date") and ti.get("queued_when")
    ]
    queued = [_moment(ti["queued_when"]) for ti in fetches]
    started = [_moment(ti["start_date"]) for ti in fetches]
    ended = [_moment(ti["end_date"]) for ti in fetches]
    window = (max(ended) - min(queued)).total_seconds()
    running = [(end - start).total_seconds() for start, end in zip(started, ended, strict=True)]
    waiting = [(start - q).total_seconds() for q, start in zip(queued, started, strict=True)]
    held = sum(running) + sum(waiting)
    released = [
        (workloads_finished[ti["id"]] - end).total_seconds()
        for ti, end in zip(fetches, ended, strict=True)
    ]
    writer = [ti for ti in instances if ti["task_id"] == WRITER_TASK_ID]
    return {
        "before_fetch": round((min(queued) - _moment(run["start_date"])).total_seconds(), 2),
        "fetching": round(window, 2),
        "after_fetch": round((_moment(run["end_date"]) - max(ended)).total_seconds(), 2),
        "writer": round(writer[0]["duration"] or 0.0, 2) if writer else None,
        "fetch_task_median": round(median(running), 3),
        "fetch_task_p90": round(percentile(running, 90), 3),
        "fetch_queued_median": round(median(waiting), 3),
        "slot_occupancy": round(held / (parallelism * window), 2) if window else None,
        "fetch_release_median": round(median(released), 3),
        "fetch_release_p90": round(percentile(released, 90), 3),
        "fetch_release_total": round(sum(released), 1),
    }


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def steps_by_dag(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each step's median over the rounds, per DAG."""
    by_dag: dict[str, dict[str, Any]] = {}
    for dag_id in (DAG_ID, NOOP_DAG_ID):
        steps = [r["steps"] for r in runs if r["dag_id"] == dag_id]
        by_dag[dag_id] = {
            name: round(median([s[name] for s in steps]), 3)
            if all(s[name] is not None for s in steps)
            else None
            for name in steps[0]
        }
    return by_dag


def overhead_sample(number: int, dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    cpu = dict(run["cpu_seconds"])
    tasks, local_aws = cpu.pop("task_processes"), cpu.pop("local_aws")
    return {
        "round": number,
        "dag_id": dag_id,
        "state": run["state"],
        "seconds": round(run["seconds"], 1),
        "steps": run.get("steps"),
        "cpu_seconds": {
            "task_processes": round(tasks, 2),
            "other_airflow": round(sum(cpu.values()), 2),
            "local_aws": round(local_aws, 2),
            "other_airflow_by_process": {k: round(v, 2) for k, v in sorted(cpu.items())},
        },
    }


def compare_with_floor(runs: list[dict[str, Any]], tasks: int) -> dict[str, Any]:
    """The real DAG's runs against the no-op floor's: wall time, then CPU by group."""
    real = sorted((r for r in runs if r["dag_id"] == DAG_ID), key=lambda r: r["round"])
    floor = sorted((r for r in runs if r["dag_id"] == NOOP_DAG_ID), key=lambda r: r["round"])
    real_seconds, floor_seconds = [r["seconds"] for r in real], [r["seconds"] for r in floor]

    def cpu(run: dict[str, Any], group: str) -> float:
        figures = run["cpu_seconds"]
        if group == "all":
            return sum(figures[g] for g in CPU_GROUPS)
        return figures.get(group, figures["other_airflow_by_process"].get(group, 0.0))

    def extra_ms_per_task(group: str) -> int:
        difference = median([cpu(r, group) for r in real]) - median([cpu(f, group) for f in floor])
        return round(difference / tasks * 1000)

    def by_group(group: str) -> dict[str, Any]:
        return {
            "license_tracking": series([cpu(r, group) for r in real], 2),
            "noop_floor": series([cpu(f, group) for f in floor], 2),
            "extra_ms_per_task": extra_ms_per_task(group),
        }

    other_processes = sorted(
        {p for r in runs for p in r["cpu_seconds"]["other_airflow_by_process"]}
    )
    return {
        "wall_seconds": {
            "license_tracking": series(real_seconds),
            "noop_floor": series(floor_seconds),
        },
        "ratio": round(median(real_seconds) / median(floor_seconds), 2),
        "round_ratios": [round(r / f, 2) for r, f in zip(real_seconds, floor_seconds, strict=True)],
        "steps": steps_by_dag(runs) if all(r.get("steps") for r in runs) else None,
        "overlap": overlap_verdict(real_seconds, floor_seconds),
        "cpu_seconds": {group: by_group(group) for group in (*CPU_GROUPS, "all")},
        "other_airflow_extra_ms_per_task": {p: extra_ms_per_task(p) for p in other_processes},
        "runs": runs,
    }


# --- 3. Big usage -----------------------------------------------------------------------------


def _big_run(bench: Bench, arns: list[str], sizes: list[int]) -> dict[str, Any]:
    bench.seed(arns, sizes)
    before = database_bytes(bench.stack.home)
    with TaskMemorySampler() as sampler:
        run = bench.run(DAG_ID, arns)
    time.sleep(2)  # let the scheduler's last writes land
    added = database_bytes(bench.stack.home) - before
    rows, duplicates = bench.usage_rows_and_duplicates(run["bucket"])
    names = bench.task_ids(run["dag_run_id"])
    peaks: dict[str, int] = {}
    for ti_id, peak in sampler.peaks.items():
        if task := names.get(ti_id):
            peaks[task] = max(peak, peaks.get(task, 0))
    return {
        "run_state": run["state"],
        "records": sum(sizes),
        "records_written": rows,
        "duplicates": duplicates,
        "seconds": round(run["seconds"], 1),
        "records_per_second": round(sum(sizes) / run["seconds"]),
        "peak_rss_mib_by_task": {task: mib(peak) for task, peak in sorted(peaks.items())},
        "peak_rss_mib": mib(max(peaks.values())),
        "database_bytes_added": added,
    }


def big_usage(bench: Bench, smoke: bool) -> Result:
    big, many, each = (20_000, 5, 2_000) if smoke else (1_000_000, 50, 20_000)
    one = _big_run(bench, config_arns(1, "big"), [big])
    spread = _big_run(bench, config_arns(many, "many"), [each] * many)
    small = _big_run(bench, config_arns(1, "small"), [20_000])
    growth = round(one["peak_rss_mib"] / small["peak_rss_mib"], 2)
    holds = (
        all(r["run_state"] == "success" for r in (one, spread, small))
        and one["records_written"] == big
        and spread["records_written"] == many * each
        and one["duplicates"] == spread["duplicates"] == 0
        and one["peak_rss_mib"] <= 300
        and growth <= 1.2
        and max(one["database_bytes_added"], spread["database_bytes_added"]) <= 1024 * 1024
    )
    return Result(
        "big_usage",
        {
            "one_configuration_records": big,
            "configurations": many,
            "records_each": each,
            "reference_records": 20_000,
            "latency_ms": 0,
        },
        {
            "one_configuration": one,
            f"{many}_configurations": spread,
            "reference_20000_records": small,
            "peak_rss_growth_vs_20000": growth,
        },
        "peak task RSS <= 300 MiB and <= 1.2 x the 20,000-record run's; "
        "metadata database growth <= 1 MiB per run; every record written once",
        holds,
    )


# --- 5. Throttled -----------------------------------------------------------------------------


def throttled(bench: Bench, smoke: bool) -> Result:
    count, each, rate = (3, 150, 0.3) if smoke else (20, 500, 0.3)
    arns = config_arns(count, "throttled")
    sizes = [each] * count
    bench.seed(arns, sizes)
    bench.servers.emulator.set_faults({"throttle_rate": rate, "throttle_seed": 11})
    run = bench.run(DAG_ID, arns)
    bench.servers.emulator.clear_faults()
    calls = bench.servers.emulator.calls()["by_operation"]
    minimum = minimum_calls(sizes)
    made = sum(calls.get(op, 0) for op in minimum)
    rows, duplicates = (
        bench.usage_rows_and_duplicates(run["bucket"]) if run["state"] == "success" else (0, 0)
    )
    tries = [ti_try for ti_try in _fetch_tries(bench, run["dag_run_id"])]
    return Result(
        "throttled",
        {"arns": count, "usage_per_configuration": each, "throttle_rate": rate},
        {
            "run_state": run["state"],
            "records": sum(sizes),
            "records_written": rows,
            "records_lost": sum(sizes) - rows,
            "duplicates": duplicates,
            "calls": made,
            "minimum": sum(minimum.values()),
            "extra_calls": made - sum(minimum.values()),
            "tasks_retried_by_airflow": sum(1 for t in tries if t > 1),
            "seconds": round(run["seconds"], 1),
        },
        "completes with 0 records lost",
        run["state"] == "success" and rows == sum(sizes) and duplicates == 0,
    )


def _fetch_tries(bench: Bench, run_id: str) -> list[int]:
    answer = bench.stack.api.get(
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
    ).json()
    return [
        ti["try_number"]
        for ti in answer["task_instances"]
        if ti["task_id"] == "fetch_license_configuration"
    ]
