"""The report writer alone against moto's S3, without Airflow: what the fetch tasks stage is put
in place first, then ``pipeline.write_report`` is timed (tables included).

- ``org_writer``: 1,500 configurations with 0..5 usage records each (the org_scale shape): the
  writer's seconds, the median of ``rounds`` runs, each a run's first write into a bucket of its
  own (as a scheduled run writes); then one rerun of the last (it lists and rewrites every key).
- ``big_writer``: 1,000,000 usage records in one configuration, staged and written in a child
  process: records per second (staging plus writing) and the child's peak RSS, against a
  20,000-record run for the memory growth.

    .venv/bin/python -m benchmarks.writer [--smoke]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from benchmarks.measure import median
from benchmarks.scenarios import Result

ROOT = Path(__file__).resolve().parents[1]
#: The plugins folder whose writer is measured: another checkout's (the code before a change)
#: with ``--plugins``, which the child processes get through this variable.
PLUGINS = os.environ.get("LICENSE_TRACKING_BENCHMARK_PLUGINS", str(ROOT / "plugins"))
if PLUGINS not in sys.path:
    sys.path.insert(0, PLUGINS)  # as Airflow puts its plugins folder

MOMENT = datetime(2026, 11, 29, tzinfo=UTC)
ACCOUNT = "111111111111"


def _hook() -> Any:
    from license_manager.hooks import ReportBucketHook

    return ReportBucketHook(aws_conn_id=None)


def _usage_pages(count: int, page: int = 100) -> Any:
    for start in range(0, count, page):
        yield [
            {
                "ResourceArn": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-{index:017x}",
                "ResourceType": "EC2_INSTANCE",
                "ResourceStatus": "running",
                "ResourceOwnerId": ACCOUNT,
                "AssociationTime": MOMENT,
                "ConsumedLicenses": 2,
            }
            for index in range(start, min(start + page, count))
        ]


def _configuration_id(index: int) -> str:
    return f"lic-{index:032x}"


def _arn(index: int) -> str:
    region = ("us-east-1", "eu-west-1", "ap-southeast-2")[index % 3]
    return (
        f"arn:aws:license-manager:{region}:{ACCOUNT}:license-configuration:"
        f"{_configuration_id(index)}"
    )


def _stage_one(s3: Any, bucket: str, staging: str, index: int, records: int) -> None:
    from license_manager.outcomes import ConfigurationOutcome
    from license_manager.report_writer import stage_outcome, stage_usage_file

    arn, configuration_id = _arn(index), _configuration_id(index)
    configuration = {
        "LicenseConfigurationId": configuration_id,
        "Name": f"configuration {index}",
        "LicenseCount": 100,
        "ConsumedLicenses": index % 120,
        "LicenseCountingType": "vCPU",
    }
    outcome = ConfigurationOutcome(
        arn=arn,
        region=arn.split(":")[3],
        account_id=ACCOUNT,
        configuration_id=configuration_id,
        status="ok",
        configuration=configuration,
        collected_at="2026-11-29T00:00:05Z",
    )
    outcome.usage = stage_usage_file(s3, bucket, staging, outcome, _usage_pages(records))
    stage_outcome(s3, bucket, staging, outcome)


def _report(bucket: str, sizes: list[int]) -> dict[str, Any]:
    from license_manager.report_layout import run_folder, run_timestamp, staging_folder

    return {
        "bucket": bucket,
        "prefix": "",
        "folder": run_folder("", MOMENT),
        "staging": staging_folder("", MOMENT),
        "dag_id": "license_tracking",
        "run_id": "benchmark",
        "run_timestamp": run_timestamp(MOMENT),
        "aws_conn_id": None,
        "requested": [
            {
                "arn": _arn(index),
                "region": _arn(index).split(":")[3],
                "account_id": ACCOUNT,
                "configuration_id": _configuration_id(index),
                "status": "pending",
            }
            for index in range(len(sizes))
        ],
    }


def stage_and_write(bucket: str, sizes: list[int]) -> dict[str, float]:
    """Stage every configuration (several at a time), then time the writer."""
    from license_manager import pipeline
    from license_manager.report_layout import run_settings_key, staging_folder

    s3 = _hook()
    staging = staging_folder("", MOMENT)
    s3.put_bytes(b"{}", run_settings_key(staging), bucket)
    start = time.monotonic()
    s3.get_conn()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: _stage_one(s3, bucket, staging, i, sizes[i]), range(len(sizes))))
    staged = time.monotonic() - start
    start, cpu = time.monotonic(), time.process_time()
    pipeline.write_report(_report(bucket, sizes), s3_hook=lambda *_, **__: s3)
    return {
        "stage_seconds": round(staged, 2),
        "write_seconds": round(time.monotonic() - start, 2),
        "write_cpu_seconds": round(time.process_time() - cpu, 2),
    }


def _new_bucket() -> str:
    bucket = f"writer-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


CHILD = """
import json, logging, sys
from benchmarks.writer import peak_rss_mib, stage_and_write
logging.disable(logging.INFO)
buckets, sizes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
samples = [stage_and_write(bucket, sizes) for bucket in buckets]
reruns = [stage_and_write(buckets[-1], sizes) for _ in range(int(sys.argv[3]))]
print(json.dumps({"samples": samples, "reruns": reruns, "peak_rss_mib": peak_rss_mib()}))
"""


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started (VmHWM; unlike ru_maxrss, not
    inherited from the process that forked it)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024, 1)


def in_child(sizes: list[int], rounds: int = 1, reruns: int = 0) -> dict[str, Any]:
    """``rounds`` runs, each into a new bucket, then ``reruns`` of the last one (a rerun lists
    and rewrites every key), in a process of their own as a task runs; the local AWS stays in
    this one."""
    buckets = [_new_bucket() for _ in range(rounds)]
    answer = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(buckets), json.dumps(sizes), str(reruns)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])


def org_writer(configurations: int, rounds: int) -> dict[str, Any]:
    figures = in_child([index % 6 for index in range(configurations)], rounds, reruns=1)
    samples = [sample["write_seconds"] for sample in figures["samples"]]
    return {
        "configurations": configurations,
        "write_seconds": samples,
        "median": median(samples),
        "rerun_write_seconds": [sample["write_seconds"] for sample in figures["reruns"]],
    }


def big_writer(records: int) -> dict[str, Any]:
    """One configuration of ``records`` usage records, staged and written."""
    figures = in_child([records])
    (sample,) = figures["samples"]
    seconds = sample["stage_seconds"] + sample["write_seconds"]
    return {
        "records": records,
        **sample,
        "peak_rss_mib": figures["peak_rss_mib"],
        "records_per_second": round(records / seconds),
    }


#: The same measurements of the writer before the tables (``--plugins`` with the plugins folder
#: of the commit before them), on this machine and local AWS: what the targets compare with.
BEFORE_TABLES = {"org_write_seconds": 8.9, "one_configuration_records_per_second": 40486}


def report_writer(servers: Any, smoke: bool) -> Result:
    """The writer alone (tables included): 1,500 configurations, and 1,000,000 usage records
    in one configuration against a 20,000-record run."""
    os.environ.update(servers.env)
    load_before = os.getloadavg()[0]
    org = org_writer(60 if smoke else 1500, 1 if smoke else 3)
    big = big_writer(20_000 if smoke else 1_000_000)
    reference = big_writer(2_000 if smoke else 20_000)
    growth = round(big["peak_rss_mib"] / reference["peak_rss_mib"], 2)
    before = BEFORE_TABLES["one_configuration_records_per_second"]
    throughput = round(big["records_per_second"] / before, 2) if before else None
    holds = org["median"] <= 10 and (throughput is None or throughput >= 0.8) and growth <= 1.2
    return Result(
        "report_writer",
        {
            "configurations": org["configurations"],
            "usage_per_configuration": "0..5",
            "one_configuration_records": big["records"],
            "reference_records": reference["records"],
            "rounds": len(org["write_seconds"]),
            "round": "a run's first write, each into a bucket of its own; then one rerun of the "
            "last (rerun_write_seconds), which lists the folder and the run's table keys it "
            "already holds and rewrites them",
            "process": "the writer in a process of its own; moto in the benchmark's",
        },
        {
            "org": org,
            "one_configuration": big,
            "reference": reference,
            "peak_rss_growth": growth,
            "throughput_vs_before_tables": throughput,
            "before_tables": BEFORE_TABLES,
        },
        "write_report (tables included) <= 10 s at 1,500 configurations; at 1,000,000 records "
        "in one configuration, records/s >= 0.8 x before the tables and peak RSS <= 1.2 x the "
        "20,000-record run's",
        holds,
        notes=[
            f"1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} "
            f"after, on {os.cpu_count()} CPUs shared with other work: compare with "
            "before_tables only when both were measured on a quiet machine"
        ],
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    from local_aws.servers import LocalAWS

    parser = argparse.ArgumentParser(prog="python -m benchmarks.writer", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--plugins", help="the plugins folder of another checkout to measure")
    args = parser.parse_args(argv)
    if args.plugins:
        os.environ["LICENSE_TRACKING_BENCHMARK_PLUGINS"] = str(Path(args.plugins).resolve())
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="writer-benchmark-"))
    with LocalAWS() as servers:
        result = report_writer(servers, args.smoke)
    print(json.dumps(result.figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
