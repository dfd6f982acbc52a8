"""Run the benchmark scenarios against the local AWS and a real Airflow; print a table and
write ``benchmarks/results/latest.json``.

    .venv/bin/python -m benchmarks            # the full suite (overhead: 20 runs of 200 tasks)
    .venv/bin/python -m benchmarks --smoke    # tiny sizes: checks that figures are produced
    .venv/bin/python -m benchmarks --only parse_cost api_calls
    .venv/bin/python -m benchmarks --only airflow_overhead --overhead-arns 40 --overhead-rounds 2
    .venv/bin/python -m benchmarks --only org_scale --org-rounds 3   # 20 accounts x 3 Regions
    .venv/bin/python -m benchmarks --only page_slow_prefix --page-rounds 5
    .venv/bin/python -m benchmarks --only report_writer   # the writer alone, tables included
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import scenarios, writer
from benchmarks.scenarios import DAG_ID, NOOP_DAG_ID, ROOT, Bench, Result
from local_airflow import LightAirflow
from local_aws.servers import LocalAWS

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
STACK_SCENARIOS = ("api_calls", "airflow_overhead", "big_usage", "throttled", "org_scale")
ALL = (
    "api_calls",
    "airflow_overhead",
    "big_usage",
    "parse_cost",
    "throttled",
    "compliance_page",
    "page_slow_prefix",
    "org_scale",
    "report_writer",
)


def headline(result: Result) -> str:
    f = result.figures
    if result.scenario == "api_calls":
        made, minimum = sum(f["calls"].values()), sum(f["minimum"].values())
        return f"{made} calls, minimum {minimum}, ratio {f['ratio']:.2f}"
    if result.scenario == "airflow_overhead":
        return "; ".join(
            f"{key.removeprefix('latency_')}: {value['ratio']:.2f}x ({value['overlap']}), "
            + cpu_split(value["cpu_seconds"])
            for key, value in f.items()
        )
    if result.scenario == "big_usage":
        one = f["one_configuration"]
        return (
            f"{one['records']:,} records: peak {one['peak_rss_mib']} MiB "
            f"({f['peak_rss_growth_vs_20000']}x the 20k run), "
            f"{one['records_per_second']:,} rec/s, db +{one['database_bytes_added']:,} B"
        )
    if result.scenario == "parse_cost":
        cold, minimal = f["license_tracking_seconds"], f["minimal_seconds"]
        return f"{cold}s vs {minimal}s, ratio {f['ratio']:.2f}"
    if result.scenario == "compliance_page":
        lookup, page = f["previous_set_lookup"], f["page_data"]
        return (
            f"previous set: {sum(lookup['s3_calls'].values())} calls, {lookup['seconds']}s; "
            f"page data cold {page['cold_seconds']}s, warm {page['warm_ms_median']} ms"
        )
    if result.scenario == "page_slow_prefix":
        cached = f["cached_ms"]
        return (
            f"cached p99 {cached['p99']} ms (p50 {cached['p50']} ms, {cached['requests']} "
            f"requests); slow prefix {f['slow_prefix_ms']['median']:.0f} ms, built "
            f"{f['slow_prefix_builds_by_round']} times"
        )
    if result.scenario == "org_scale":
        return org_headline(f)
    if result.scenario == "report_writer":
        one = f["one_configuration"]
        return (
            f"{f['org']['configurations']:,} configurations: writer {f['org']['median']}s; "
            f"{one['records']:,} records: {one['records_per_second']:,} rec/s "
            f"({f['throughput_vs_before_tables']}x before the tables), peak "
            f"{one['peak_rss_mib']} MiB ({f['peak_rss_growth']}x the small run)"
        )
    if result.scenario == "throttled":
        extra = f["extra_calls"] / f["minimum"]
        return f"lost {f['records_lost']}, extra calls {f['extra_calls']} (+{extra:.0%})"
    return ""


def org_headline(f: dict) -> str:
    writer = f["writer_seconds"]["license_tracking"]
    growth = f["database_bytes_added"]["license_tracking"]
    return (
        f"{f['collected']:,}/{f['configurations']:,} collected, calls ratio "
        f"{f['calls_ratio']:.2f}; wall {f['ratio']:.2f}x the floor ({f['overlap']}); "
        f"writer {writer['median'] if writer else '?'}s; "
        f"db +{growth['max'] if growth else 0:,.0f} B; " + cpu_split(f["cpu_seconds"])
    )


def cpu_split(cpu: dict) -> str:
    extra = {group: figures["extra_ms_per_task"] for group, figures in cpu.items()}
    return (
        f"{extra['all']:+} CPU ms/task (tasks {extra['task_processes']:+}, "
        f"other Airflow {extra['other_airflow']:+}, local AWS {extra['local_aws']:+})"
    )


def table(results: list[Result]) -> str:
    rows = [("scenario", "figures", "target", "holds")]
    rows += [(r.scenario, headline(r), r.target, "yes" if r.holds else "NO") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def dags_folder(parent: Path) -> Path:
    folder = parent / "dags"
    folder.mkdir()
    (folder / "license_tracking.py").symlink_to(ROOT / "dags" / "license_tracking.py")
    (folder / "license_tracking_noop.py").symlink_to(
        ROOT / "benchmarks" / "dags" / "license_tracking_noop.py"
    )
    return folder


def run_stack_scenarios(
    names: list[str], smoke: bool, workdir: Path, knobs: dict[str, dict]
) -> list[Result]:
    results = []
    with LocalAWS() as servers:
        env = {
            **servers.env,
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(workdir)),
            "AIRFLOW__CORE__PARALLELISM": "8",
            "LICENSE_TRACKING_SCHEDULE": "None",
        }
        with LightAirflow(workdir / "airflow", env, name="benchmark") as stack:
            for dag_id in (DAG_ID, NOOP_DAG_ID):
                stack.wait_for_dag(dag_id)
                stack.api.patch(f"/dags/{dag_id}", json={"is_paused": False})
            bench = Bench(servers, stack)
            for name in names:
                scenario = getattr(scenarios, name)
                results.append(
                    run_one(
                        name,
                        lambda scenario=scenario, name=name: scenario(
                            bench, smoke, **knobs.get(name, {})
                        ),
                    )
                )
    return results


def run_one(name: str, scenario) -> Result:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    start = time.monotonic()
    result = scenario()
    print(f"  {name}: {time.monotonic() - start:.0f}s, holds={result.holds}", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; for the test suite")
    parser.add_argument("--only", nargs="+", choices=ALL, default=list(ALL))
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--overhead-arns", type=int, help="airflow_overhead: mapped tasks")
    parser.add_argument("--overhead-rounds", type=int, help="airflow_overhead: rounds")
    parser.add_argument(
        "--overhead-latencies",
        type=int,
        nargs="+",
        help="airflow_overhead: emulator latencies in ms (default 0 50)",
    )
    parser.add_argument(
        "--org-configurations", type=int, help="org_scale: configurations (default 1,500)"
    )
    parser.add_argument("--org-rounds", type=int, help="org_scale: rounds (default 1)")
    parser.add_argument("--page-rounds", type=int, help="page_slow_prefix: rounds (default 5)")
    args = parser.parse_args(argv)
    knobs = {
        "airflow_overhead": {
            "arns": args.overhead_arns,
            "rounds": args.overhead_rounds,
            "latencies": tuple(args.overhead_latencies or ()),
        },
        "org_scale": {"configurations": args.org_configurations, "rounds": args.org_rounds},
    }

    results = []
    with tempfile.TemporaryDirectory(prefix="license-benchmarks-") as workdir:
        if "parse_cost" in args.only:
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT / "plugins"),
                "AIRFLOW_HOME": str(Path(workdir) / "parse"),
            }
            results.append(run_one("parse_cost", lambda: scenarios.parse_cost(env, args.smoke)))
        if "compliance_page" in args.only:
            os.environ["AIRFLOW_HOME"] = str(Path(workdir) / "compliance")
            with LocalAWS() as servers:
                results.append(
                    run_one(
                        "compliance_page",
                        lambda: scenarios.compliance_page(servers, args.smoke),
                    )
                )
        if "page_slow_prefix" in args.only:
            os.environ["AIRFLOW_HOME"] = str(Path(workdir) / "page")
            with LocalAWS() as servers:
                results.append(
                    run_one(
                        "page_slow_prefix",
                        lambda: scenarios.page_slow_prefix(
                            servers, args.smoke, rounds=args.page_rounds
                        ),
                    )
                )
        if "report_writer" in args.only:
            os.environ["AIRFLOW_HOME"] = str(Path(workdir) / "writer")
            with LocalAWS() as servers:
                results.append(
                    run_one("report_writer", lambda: writer.report_writer(servers, args.smoke))
                )
        stack_names = [name for name in args.only if name in STACK_SCENARIOS]
        if stack_names:
            results += run_stack_scenarios(stack_names, args.smoke, Path(workdir), knobs)
    results.sort(key=lambda r: ALL.index(r.scenario))

    print(table(results))
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    fresh = [{**asdict(result), "measured_at": measured_at} for result in results]
    kept = []
    if set(args.only) != set(ALL) and args.output.exists():  # --only refreshes those scenarios
        kept = [
            scenario
            for scenario in json.loads(args.output.read_text())["scenarios"]
            if scenario["scenario"] not in args.only
        ]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "smoke": args.smoke,
        "scenarios": sorted(kept + fresh, key=lambda s: ALL.index(s["scenario"])),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
