"""A real Airflow (api-server, scheduler, dag-processor, triggerer) in a temporary AIRFLOW_HOME.

SQLite and LocalExecutor, the project's dags and plugins folders, SimpleAuthManager with one
known admin, and the local AWS servers' endpoints. Every component is started in its own
session (so its own process group) and stopped by signalling that group.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
USERNAME = "admin"
FINISHED_RUN_STATES = frozenset({"success", "failed"})

T = TypeVar("T")

# Settings of the developer's shell or of the dag.test session that must not leak in.
_INHERITED_PREFIXES = ("AIRFLOW__", "AIRFLOW_VAR_", "AIRFLOW_CONN_", "AWS_")
_INHERITED_NAMES = ("AIRFLOW_HOME", "LICENSE_TRACKING_SCHEDULE")


def wait_for(
    probe: Callable[[], T | None],
    description: str,
    timeout: float = 120.0,
    interval: float = 1.0,
) -> T:
    """Call ``probe`` until it returns something truthy; fail naming ``description``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
        except (httpx.HTTPError, OSError) as error:
            result, last_error = None, error
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {description}{detail}"
            )
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def session_members(session_id: int) -> list[int]:
    """Live (not zombie) processes of a session, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp session ...; comm may hold spaces and parentheses
        state, _ppid, _pgrp, session = stat.rsplit(")", 1)[1].split()[:4]
        if int(session) == session_id and state != "Z":
            members.append(int(entry.name))
    return members


def tail(path: Path, lines: int = 60) -> str:
    """The last lines of a log, without the api-server's lines for successful requests."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"({error})"
    kept = [
        line
        for line in text.splitlines()
        if not ("[http.access]" in line and "status_code=2" in line)
    ]
    return "\n".join(kept[-lines:])


class AirflowStack:
    """Start with ``with AirflowStack(home, aws_env, extra_env) as stack:``.

    :param home: an empty directory used as AIRFLOW_HOME (database, logs, passwords).
    :param aws_env: endpoint overrides and credentials of the local AWS servers.
    :param extra_env: more environment for every component, e.g. ``AIRFLOW_VAR_*`` or
        ``LICENSE_TRACKING_SCHEDULE``.
    """

    def __init__(
        self,
        home: Path,
        aws_env: Mapping[str, str],
        extra_env: Mapping[str, str] | None = None,
        *,
        name: str = "airflow",
    ) -> None:
        self.name = name
        self.home = home
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.env = self._environment(aws_env, extra_env or {})
        self.processes: dict[str, subprocess.Popen] = {}
        self._client: httpx.Client | None = None

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _environment(self, aws_env: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(_INHERITED_PREFIXES) and name not in _INHERITED_NAMES
        }
        env.update(aws_env)
        env.update(
            PYTHONUNBUFFERED="1",
            AIRFLOW_HOME=str(self.home),
            # Four components and the CLI write to one SQLite file: wait up to 60 s for its lock.
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{self.database}?timeout=60",
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__AUTH_MANAGER=(
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USERNAME}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(self.home / "passwords.json"),
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__API__WORKERS="1",
            # The scheduler's and triggerer's log servers, away from other Airflows' 8793/8794.
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            # Every component signs or checks task and UI tokens with the same secrets.
            AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),
            AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(64),
            AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
            AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="10",
            AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES="1",
            AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="2",
            AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME="0.5",
            # As deploy/airflow.env: task processes inherit boto3 and botocore's parsed data.
            AIRFLOW__CORE__LAZY_LOAD_PLUGINS="False",
            AIRFLOW__LICENSE_MANAGER__PRELOAD="True",
        )
        env.update(extra)
        return env

    # --- Life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> AirflowStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({USERNAME: self.password}))
        migrate = self.cli("db", "migrate", timeout=300)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout}\n{migrate.stderr}")
        for component in COMPONENTS:
            log = (self.home / f"{component}.log").open("ab")
            self.processes[component] = subprocess.Popen(
                [sys.executable, "-m", "airflow", component],
                env=self.env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        try:
            wait_for(self._healthy, "every Airflow component to report healthy", timeout=180)
        except (AssertionError, RuntimeError) as error:
            raise RuntimeError(f"{error}\n{self.log_tails()}") from None

    def _healthy(self) -> bool:
        for component, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{component} exited with {process.returncode}")
        health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=10).json()
        return all(
            (health.get(part) or {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM each component's group, SIGKILL what outlives ``timeout``; check none is left.

        Task processes report to the api-server, so it is stopped last: tasks still running
        when the scheduler is told to stop can finish.
        """
        if self._client is not None:
            self._client.close()
            self._client = None
        survivors: dict[str, list[int]] = {}
        for batch in (("scheduler", "dag-processor", "triggerer"), ("api-server",)):
            started = {name: self.processes.pop(name) for name in batch if name in self.processes}
            survivors.update(_stop_sessions(started, timeout))
        assert not survivors, f"Airflow processes survived teardown: {survivors}"

    # --- Users' entry points ------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` the way a user would in this deployment."""
        return subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def token(self) -> str:
        """A JWT, obtained the way a REST client does with SimpleAuthManager."""
        response = httpx.post(
            f"{self.url}/auth/token",
            json={"username": USERNAME, "password": self.password},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    @property
    def api(self) -> httpx.Client:
        """An authenticated client for ``/api/v2``; raises for error answers."""
        if self._client is None:
            self._client = httpx.Client(
                base_url=f"{self.url}/api/v2",
                headers={"Authorization": f"Bearer {self.token()}"},
                timeout=30,
                event_hooks={"response": [lambda response: response.raise_for_status()]},
            )
        return self._client

    # --- What the tests wait for --------------------------------------------------------------

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed and stored it."""

        def parsed() -> dict[str, Any] | None:
            response = httpx.get(
                f"{self.url}/api/v2/dags/{dag_id}",
                headers=self.api.headers,
                timeout=30,
            )
            return response.json() if response.status_code == 200 else None

        return wait_for(parsed, f"DAG {dag_id} to be parsed", timeout=timeout, interval=2)

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        params = {"limit": 100, "order_by": "run_after", **filters}
        return self.api.get(f"/dags/{dag_id}/dagRuns", params=params).json()["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """The run once it has finished (success or failed)."""

        def finished() -> dict[str, Any] | None:
            run = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
            return run if run["state"] in FINISHED_RUN_STATES else None

        return wait_for(finished, f"run {run_id} to finish", timeout=timeout, interval=2)

    def task_instances(self, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        """Every task instance of the run, mapped ones included, by (task_id, map_index)."""
        answer = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        ).json()
        assert answer["total_entries"] <= 100
        return {(ti["task_id"], ti["map_index"]): ti for ti in answer["task_instances"]}

    def log_tails(self, lines: int = 60) -> str:
        """The end of every component's log and of the newest task logs, for a failure report."""
        parts = []
        for component in COMPONENTS:
            parts.append(f"----- {self.name}: {component} -----\n")
            parts.append(tail(self.home / f"{component}.log", lines) + "\n")
        for path in _newest(self.home.glob("logs/dag_id=*/**/*.log"), 3):
            parts.append(f"----- {self.name}: {path.relative_to(self.home)} -----\n")
            parts.append(tail(path, 20) + "\n")
        return "".join(parts)


def _newest(paths: Iterable[Path], count: int) -> list[Path]:
    return sorted(paths, key=lambda path: path.stat().st_mtime)[-count:]


def _stop_sessions(
    processes: Mapping[str, subprocess.Popen], timeout: float
) -> dict[str, list[int]]:
    """Stop each process with its whole session; return the pids that would not end."""
    for process in processes.values():
        _signal_group(process.pid, signal.SIGTERM)

    def ended() -> bool:
        return all(
            process.poll() is not None and not session_members(process.pid)
            for process in processes.values()
        )

    try:
        wait_for(ended, "components to stop after SIGTERM", timeout=timeout, interval=0.2)
    except AssertionError:
        for name, process in processes.items():
            if process.poll() is None or session_members(process.pid):
                sys.stderr.write(f"{name} outlived SIGTERM by {timeout:.0f}s: SIGKILL\n")
                _signal_group(process.pid, signal.SIGKILL)
                # task processes move to groups of their own, but stay in the session
                for pid in session_members(process.pid):
                    _kill(pid)
    survivors = {}
    for name, process in processes.items():
        try:
            process.wait(timeout=30)
            wait_for(
                lambda pid=process.pid: not session_members(pid),
                f"the {name} processes to end",
                timeout=30,
                interval=0.2,
            )
        except (subprocess.TimeoutExpired, AssertionError):
            survivors[name] = session_members(process.pid)
    return survivors


def _signal_group(group: int, signal_number: int) -> None:
    try:
        os.killpg(group, signal_number)
    except ProcessLookupError:
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
