"""`make ui`: the Airflow UI and the License consumption page on the demo data, locally.

Starts the local AWS with the demo data and a local Airflow (api-server, scheduler,
dag-processor, triggerer on SQLite: the harness of the tests and benchmarks) with the demo's
deployment settings as Airflow Variables. Before the DAG is unpaused, one backfill is created
for the last days up to today (so the schedule's own run for today is that backfill's last
run). Its runs go one at a time, oldest first, each on that day's demo consumption (a few
licenses fewer in use per day back): the next day's data is seeded as soon as a run has made
its last License Manager call, and the next run cannot start before that run has ended. So
the page's change column and chart move, and a configuration crosses its license count.

Then prints the addresses and the admin's password, and serves until Ctrl-C or SIGTERM,
which stop every process it started.

    PORT=8080 .venv/bin/python -m demo.ui
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Generator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from demo.common import (
    BUCKET,
    LOCAL,
    ROOT,
    consumption_days_before,
    demo_s3,
    demo_variables,
)
from local_airflow import LightAirflow, LocalAirflowError
from local_aws.emulator import LicenseManagerEmulator
from local_aws.seeding import DEMO_SEED_PATH, load_seed
from local_aws.servers import LocalAWS

DAG_ID = "license_tracking"
DEFAULT_PORT = 8080
PAGE_PATH = "/license-consumption/"
#: Days of history before today; today's run makes one more.
HISTORY_DAYS = 3
RUN_TIMEOUT = 300
#: The task that starts once every License Manager call of its run has been made.
REPORT_TASK = "write_report"
#: The tasks that call License Manager.
COLLECTING_TASKS = frozenset({"discover_license_configurations", "fetch_license_configuration"})


def requested_port() -> int:
    """``PORT`` (default 8080), refused before anything starts when it is not free."""
    text = os.environ.get("PORT", str(DEFAULT_PORT))
    if not text.isdigit() or not 0 < int(text) < 65536:
        sys.exit(f"PORT must be a TCP port number, not {text!r}")
    port = int(text)
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"Port {port} is in use; choose another one with PORT=...")
    return port


def _stop_requested(signum: int, frame: FrameType | None) -> None:
    """The first Ctrl-C or SIGTERM starts the teardown; further ones cannot cut it short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def fresh_home(port: int) -> Path:
    """The deployment's AIRFLOW_HOME, empty: each start has its own database and history."""
    home = LOCAL / "ui" / str(port)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return home


def write_aws_env(local_aws: LocalAWS, home: Path) -> Path:
    """The local AWS endpoints and credentials as shell exports, for commands run beside it."""
    path = home / "aws.env"
    path.write_text("".join(f"export {key}={value}\n" for key, value in local_aws.env.items()))
    return path


def history_dates(today: datetime) -> list[datetime]:
    """The logical dates of the history, oldest first: midnights (UTC) up to today's."""
    midnight = today.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return [midnight - timedelta(days=days) for days in range(HISTORY_DAYS, -1, -1)]


def create_backfill(airflow: LightAirflow, dates: list[datetime]) -> None:
    """A backfill of ``dates``, one run at a time (as `airflow backfill create` makes it).

    Created while the DAG is still paused, it holds a run for today's midnight, so unpausing
    the DAG does not add a scheduled run for it."""
    body = {
        "dag_id": DAG_ID,
        "from_date": dates[0].isoformat(),
        "to_date": dates[-1].isoformat(),
        "max_active_runs": 1,
    }
    airflow.api.post("/backfills", json=body)


def backfill_runs(airflow: LightAirflow, count: int) -> list[dict[str, Any]]:
    runs = airflow.dag_runs(DAG_ID, order_by="logical_date")
    if len(runs) != count or any(run["run_type"] != "backfill" for run in runs):
        raise LocalAirflowError(f"expected {count} backfill runs, found {runs}")
    return runs


def wait_until_collected(airflow: LightAirflow, run_id: str) -> None:
    """Until the run has made its last License Manager call: its ``write_report`` gets a state
    once every fetch has ended. The next run starts only after this one has ended."""

    path = f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"

    def collected() -> bool:
        return airflow.api.get(f"{path}/{REPORT_TASK}").json()["state"] is not None

    airflow.wait_for(collected, f"run {run_id} to collect", RUN_TIMEOUT, interval=0.5)


def check_not_collecting(airflow: LightAirflow, run_id: str) -> None:
    """Refuse a history whose run started collecting before its day's data was seeded."""
    started = {
        task_id
        for (task_id, _), ti in airflow.task_instances(DAG_ID, run_id).items()
        if task_id in COLLECTING_TASKS and ti["state"] not in (None, "scheduled", "queued")
    }
    if started:
        raise LocalAirflowError(f"run {run_id} collected before its day's data: {started}")


def finished_run(airflow: LightAirflow, run_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run = airflow.dag_run(DAG_ID, run_id)
        return run if run["state"] in ("success", "failed") else None

    return airflow.wait_for(finished, f"run {run_id} to finish", RUN_TIMEOUT, interval=0.5)


def run_history(airflow: LightAirflow, emulator: LicenseManagerEmulator) -> None:
    """Backfill the last days, oldest first, each run on its own day's consumption: the next
    day's data is seeded once a run has collected, before the next run can start."""
    demo = load_seed(DEMO_SEED_PATH)
    dates = history_dates(datetime.now(UTC))
    airflow.wait_for_dag(DAG_ID)
    create_backfill(airflow, dates)
    runs = backfill_runs(airflow, len(dates))
    days_before = list(range(len(runs) - 1, -1, -1))
    emulator.seed(consumption_days_before(demo, days_before[0]), replace=False)
    airflow.api.patch(f"/dags/{DAG_ID}", json={"is_paused": False})
    print(f"Backfilling {len(dates)} days, one run a day, each on that day's demo consumption:")
    started = time.monotonic()
    for index, run in enumerate(runs):
        wait_until_collected(airflow, run["dag_run_id"])
        if index + 1 < len(runs):
            emulator.seed(consumption_days_before(demo, days_before[index + 1]), replace=False)
            check_not_collecting(airflow, runs[index + 1]["dag_run_id"])
        state = finished_run(airflow, run["dag_run_id"])["state"]
        print(f"  {run['logical_date'][:10]}  {state:<7}  {time.monotonic() - started:4.0f} s")


def serve_until_stopped(airflow: LightAirflow) -> None:
    """Until Ctrl-C or SIGTERM; a component that dies ends it (its log tail is shown)."""
    while True:
        airflow.check_alive()
        time.sleep(1)


def announce(airflow: LightAirflow, aws_env: Path, seconds: float) -> None:
    print(f"\nReady in {seconds:.0f} s.")
    print(f"Airflow UI: {airflow.url}  (user {airflow.username}, password {airflow.password})")
    print(f"License consumption page: {airflow.url}{PAGE_PATH}")
    print(f"Local AWS for your shell (bucket {BUCKET}): . {aws_env.relative_to(ROOT)}")
    print("Ctrl-C stops everything.")


@contextmanager
def demo_stack(port: int) -> Generator[tuple[LocalAWS, LightAirflow, Path]]:
    """The local AWS with the demo data and a local Airflow with the demo's Variables."""
    home = fresh_home(port)
    demo = load_seed(DEMO_SEED_PATH)
    arns = [entry["LicenseConfigurationArn"] for entry in demo]
    with LocalAWS(DEMO_SEED_PATH, isolate_accounts=True) as local_aws:
        demo_s3(local_aws).create_bucket(Bucket=BUCKET)
        aws_env = write_aws_env(local_aws, home)
        print(f"Starting Airflow in {home.relative_to(ROOT)} (logs: process-logs/ there)")
        env = {**local_aws.env, **demo_variables(arns)}
        with LightAirflow(home / "airflow", env, name="ui", api_port=port) as airflow:
            yield local_aws, airflow, aws_env


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    signal.signal(signal.SIGINT, _stop_requested)
    signal.signal(signal.SIGTERM, _stop_requested)
    started = time.monotonic()
    port = requested_port()
    try:
        with demo_stack(port) as (local_aws, airflow, aws_env):
            print(f"Airflow up in {time.monotonic() - started:.0f} s.")
            run_history(airflow, local_aws.emulator)
            announce(airflow, aws_env, time.monotonic() - started)
            serve_until_stopped(airflow)
    except KeyboardInterrupt:
        print("Stopped: every process it started has ended.")
    except (LocalAirflowError, TimeoutError) as error:
        sys.exit(f"make ui failed: {error}")


if __name__ == "__main__":
    main()
