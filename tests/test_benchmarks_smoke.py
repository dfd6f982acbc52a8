"""The benchmark suite's smoke version: every scenario runs and produces its figures.

Nothing here is timed; the figures' values are the benchmark's business, not the tests'.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from benchmarks.__main__ import ALL, main

pytestmark = pytest.mark.deployment  # the smoke run starts Airflow, as the benchmarks do


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[dict[str, dict], str]:
    """Every scenario at its smoke size in one ``python -m benchmarks`` run (one Airflow
    stack for all): the report's scenarios by name, and the table it printed."""
    output = tmp_path_factory.mktemp("benchmarks") / "latest.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["--smoke", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    return {s["scenario"]: s for s in report["scenarios"]}, printed.getvalue()


def test_every_scenario_produces_its_figures(smoke_run):
    scenarios, printed = smoke_run
    assert list(scenarios) == list(ALL)
    for scenario in scenarios.values():
        assert scenario["knobs"] and scenario["figures"] and scenario["target"]
        assert isinstance(scenario["holds"], bool)
        assert scenario["scenario"] in printed
    assert scenarios["api_calls"]["figures"]["run_state"] == "success"
    assert scenarios["throttled"]["figures"]["records_lost"] == 0
    big = scenarios["big_usage"]["figures"]["one_configuration"]
    assert big["records_written"] == big["records"]
    assert big["peak_rss_mib_by_task"]["fetch_license_configuration"] > 0
    knobs = scenarios["airflow_overhead"]["knobs"]
    for comparison in scenarios["airflow_overhead"]["figures"].values():
        assert_overhead_figures(comparison, knobs["arns"], knobs["parallelism"])


def assert_overhead_figures(comparison: dict, tasks: int, parallelism: int) -> None:
    """Interleaved samples with median and spread, the overlap verdict, the CPU split."""
    rounds = len(comparison["round_ratios"])
    assert rounds >= 2
    assert [run["dag_id"] for run in comparison["runs"][:4]] == [
        "license_tracking",
        "license_tracking_noop",
        "license_tracking_noop",
        "license_tracking",
    ]
    for wall in comparison["wall_seconds"].values():
        assert len(wall["samples"]) == rounds
        assert wall["min"] <= wall["median"] <= wall["max"]
        assert wall["spread"] == round(wall["max"] - wall["min"], 1)
    assert comparison["overlap"] in ("separate", "overlapping", "within the noise")
    cpu = comparison["cpu_seconds"]
    assert set(cpu) == {"task_processes", "other_airflow", "local_aws", "all"}
    assert all(isinstance(group["extra_ms_per_task"], int) for group in cpu.values())
    # Every run's task processes were counted; only the real DAG asks the local AWS.
    assert min(cpu["task_processes"]["noop_floor"]["samples"]) > 0
    assert min(cpu["local_aws"]["license_tracking"]["samples"]) > 0
    assert cpu["local_aws"]["noop_floor"]["max"] < cpu["local_aws"]["license_tracking"]["min"]
    for run in comparison["runs"]:
        others = run["cpu_seconds"]["other_airflow_by_process"]
        assert {"task_supervisors", "scheduler", "apiserver"} <= set(others)
        assert others["task_supervisors"] > 0
    # Where the wall time went, per DAG: the three phases add up to the run's wall time; each
    # fetch task's queued-to-end time lies within the fetching window.
    for dag_id, steps in comparison["steps"].items():
        assert steps["writer"] > 0 and steps["fetching"] >= 0
        assert 0 < steps["fetch_task_median"] <= steps["fetch_task_p90"]
        assert 0 < steps["slot_occupancy"] <= tasks / parallelism + 0.01, dag_id
        # Every fetch task's worker was seen finishing, after the task's own end.
        assert 0 <= steps["fetch_release_median"] <= steps["fetch_release_p90"], dag_id
    for run in comparison["runs"]:
        phases = run["steps"]["before_fetch"] + run["steps"]["fetching"]
        assert phases + run["steps"]["after_fetch"] == pytest.approx(run["seconds"], abs=0.2)


def test_org_scale_collects_everything_with_the_minimum_of_calls(smoke_run):
    scenario = smoke_run[0]["org_scale"]
    assert scenario["scenario"] == "org_scale"
    assert isinstance(scenario["holds"], bool) and scenario["target"]
    knobs, figures = scenario["knobs"], scenario["figures"]
    assert knobs["scopes"] == 4 and knobs["max_map_length"] >= knobs["configurations"]
    assert figures["failed_runs"] == []
    assert figures["collected"] == figures["configurations"] == knobs["configurations"]
    assert figures["collection"] == {
        "in_report": knobs["configurations"],
        "collected": knobs["configurations"],
        "usage_records_written": figures["usage_records"],
        "scopes_failed": 0,
    }
    calls = figures["calls"]
    assert calls["made"] == calls["minimum"] and figures["calls_ratio"] == 1.0
    # Both accounts' listings take pages; the member account is read through its role.
    assert calls["minimum"]["ListLicenseConfigurations"] > knobs["scopes"]
    assert calls["minimum"]["sts:AssumeRole"] > 0
    assert_org_figures(figures, rounds=knobs["rounds"])


def assert_org_figures(figures: dict, rounds: int) -> None:
    """Wall times and their ratio, the writer's time, database growth, CPU per mapped task."""
    for key in ("wall_seconds", "writer_seconds", "database_bytes_added"):
        for dag in ("license_tracking", "noop_floor"):
            assert len(figures[key][dag]["samples"]) == rounds, key
    assert figures["ratio"] > 0 and len(figures["round_ratios"]) == rounds
    assert figures["writer_seconds"]["license_tracking"]["median"] > 0
    assert figures["database_bytes_added"]["license_tracking"]["median"] > 0
    per_task = figures["cpu_ms_per_mapped_task"]
    assert (
        set(per_task)
        == set(figures["cpu_seconds"])
        == {
            "task_processes",
            "other_airflow",
            "local_aws",
            "all",
        }
    )
    assert per_task["task_processes"]["license_tracking"] > 0
    assert per_task["task_processes"]["noop_floor"] > 0
    assert all(isinstance(g["extra_ms_per_task"], int) for g in figures["cpu_seconds"].values())
    assert [run["dag_id"] for run in figures["runs"][:2]] == [
        "license_tracking",
        "license_tracking_noop",
    ]


def test_page_slow_prefix_measures_cached_requests_beside_one_slow_build(smoke_run):
    scenario = smoke_run[0]["page_slow_prefix"]
    knobs, figures = scenario["knobs"], scenario["figures"]
    assert (knobs["concurrent_requests"], knobs["prefixes"]) == (50, 10)
    rounds = knobs["rounds"]
    cached = figures["cached_ms"]
    assert cached["requests"] == 45 * rounds
    assert 0 < cached["p50"] <= cached["p99"] <= cached["max"]
    assert len(cached["p99_by_round"]["samples"]) == rounds
    assert len(figures["slow_prefix_ms"]["samples"]) == 5 * rounds
    # Five requests for the slow prefix, one build of it per round.
    assert figures["slow_prefix_builds_by_round"] == [1] * rounds
    assert all(listings > 0 for listings in figures["slow_prefix_listings_by_round"])
