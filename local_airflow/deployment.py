"""One Airflow deployment as processes of this machine: the core both flavours share.

``with LightAirflow(home, env) as airflow:`` starts what docker-compose.yaml's airflow-init
does (``airflow db migrate``, the admin's password file), then each component, waits until every
one reports healthy, and on exit ends them all (``Supervisor.stop``) and checks that no process
of the deployment is left.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx

from local_airflow.api import ApiClient
from local_airflow.environment import AIRFLOW_COMMANDS, base_environment, light_settings
from local_airflow.processes import LocalAirflowError, Supervisor, free_port, tail, wait_for

T = TypeVar("T")
FINISHED_RUN_STATES = frozenset({"success", "failed"})
API_SERVER = "airflow-apiserver"
#: What ``/api/v2/monitor/health`` must report healthy.
HEALTH_REPORTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


class LocalAirflow:
    """The core of a local deployment; a flavour says which settings and components.

    :param home: AIRFLOW_HOME, an empty directory (database, config, logs, process logs).
    :param env: more environment for every process (local AWS endpoints, ``AIRFLOW_VAR_*``,
        ``LICENSE_TRACKING_SCHEDULE``, tuning); it wins over deploy/airflow.env.
    :param name: names the deployment in log tails.
    :param api_port: the api-server's port on 127.0.0.1; a free one by default.
    """

    #: The compose services run as components: every long-running one but the Celery worker.
    services = tuple(service for service in AIRFLOW_COMMANDS if service != "airflow-worker")

    def __init__(
        self,
        home: Path,
        env: Mapping[str, str] | None = None,
        *,
        name: str = "airflow",
        api_port: int | None = None,
    ) -> None:
        self.home = home
        self.name = name
        self.extra_env = dict(env or {})
        self.api_port = api_port or free_port()
        self.password = secrets.token_urlsafe(12)
        self.processes = Supervisor(home)
        self.logs = home / "process-logs"
        self.env: dict[str, str] = {}
        self.killed: set[str] = set()  # components ended on purpose; not a failure
        #: When on, a component that exits unasked is started again instead of failing the
        #: wait (compose's ``restart: always``); each restart is recorded in ``restarts``.
        self.restart_always = False
        self.restarts: list[str] = []
        self._api: ApiClient | None = None

    # --- What a flavour decides --------------------------------------------------------------

    def airflow_settings(self) -> dict[str, str]:
        """deploy/airflow.env as this flavour runs it."""
        raise NotImplementedError

    def start_components(self) -> None:
        """Start every component, each with its compose service's command."""
        for service in self.services:
            self.start_component(service, AIRFLOW_COMMANDS[service].split())

    def acquire(self) -> None:
        """Claim what the deployment needs outside its home (a database, a broker)."""

    def release(self) -> list[str]:
        """Give back what ``acquire`` claimed; return what could not be."""
        return []

    # --- Life cycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException as error:
            try:
                self.stop()
            except LocalAirflowError as teardown:
                error.add_note(f"then the teardown failed: {teardown}")
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout: float = 180) -> Self:
        self.home.mkdir(parents=True, exist_ok=True)
        self.acquire()
        self.env = {**base_environment(), **self.airflow_settings(), **self.extra_env}
        self._init()
        self.start_components()
        try:
            self.wait_until_ready(timeout)
        except (TimeoutError, LocalAirflowError) as error:
            raise LocalAirflowError(f"{error}\n{self.log_tails()}") from None
        return self

    def _init(self) -> None:
        """What compose's airflow-init does: migrate the database (which writes airflow.cfg
        with generated keys) and write the admin's password."""
        migrate = self.cli("db", "migrate", timeout=300)
        if migrate.returncode != 0:
            raise LocalAirflowError(f"airflow db migrate failed:\n{migrate.stdout}{migrate.stderr}")
        passwords = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.parent.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({self.username: self.password}) + "\n")

    def start_component(self, name: str, arguments: list[str], **env: str) -> None:
        self.processes.start(
            name,
            [sys.executable, "-m", "airflow", *arguments],
            {**self.env, **env},
            self.logs / f"{name}.log",
        )
        self.killed.discard(name)

    def stop(self, timeout: float = 30) -> None:
        """The one teardown: components, then what ``acquire`` claimed.

        Task processes report to the api-server, so it stops last: tasks still running when
        the others are told to stop can finish.
        """
        if self._api is not None:
            self._api.close()
            self._api = None
        problems = []
        others = [name for name in self.processes.components if name != API_SERVER]
        try:
            self.processes.stop([others, [API_SERVER]], timeout)
        except LocalAirflowError as error:
            problems.append(str(error))
        finally:
            problems += self.release()
        if problems:
            raise LocalAirflowError("; ".join(problems))

    # --- Readiness ----------------------------------------------------------------------------

    def check_alive(self) -> None:
        """Raise, with the end of its log, when a component has died unasked; with
        ``restart_always``, start it again instead."""
        dead = self.processes.dead(ignoring=self.killed)
        if dead and self.restart_always:
            for component in dead:
                self.processes.restart(component.name)
                self.restarts.append(component.name)
        elif dead:
            tails = "\n".join(f"--- {c.name} ---\n{tail(c.log, 30)}" for c in dead)
            codes = ", ".join(f"{c.name} ({c.process.returncode})" for c in dead)
            raise LocalAirflowError(f"exited: {codes}\n{tails}")

    def wait_for(
        self,
        probe: Callable[[], T | None],
        description: str,
        timeout: float = 120,
        interval: float = 1.0,
    ) -> T:
        """``wait_for`` that gives up as soon as a component dies."""
        return wait_for(probe, description, timeout, interval, check=self.check_alive)

    def wait_until_ready(self, timeout: float) -> None:
        """What compose's health checks and ``/api/v2/monitor/health`` ask."""

        def healthy() -> bool:
            health = self.api.public("/monitor/health")
            return all(
                (health.get(part) or {}).get("status") == "healthy" for part in HEALTH_REPORTS
            )

        self.wait_for(healthy, "every Airflow component to report healthy", timeout)
        self.wait_for(lambda: self.api.public("/version"), "the api-server's /api/v2/version", 30)
        self.wait_for(self._scheduler_health, "the scheduler's health check server", 30)

    def _scheduler_health(self) -> bool:
        port = self.env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200

    # --- Users' entry points ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def username(self) -> str:
        """The admin of deploy/airflow.env's ``SIMPLE_AUTH_MANAGER_USERS`` (``user:role``)."""
        users = self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
        return users.split(",")[0].split(":")[0]

    @property
    def api(self) -> ApiClient:
        """The REST API as the admin; error answers raise."""
        if self._api is None:
            self._api = ApiClient(self.url, self.username, self.password)
        return self._api

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``airflow <args>`` as a user of this deployment runs it; stdout and stderr kept."""
        return self.processes.run([sys.executable, "-m", "airflow", *args], self.env, timeout)

    def log_tails(self, lines: int = 60) -> str:
        """The end of every component's log and of the newest task logs, for a failure report."""
        parts = []
        for name, component in self.processes.components.items():
            parts.append(f"----- {self.name}: {name} -----\n{tail(component.log, lines)}\n")
        for path in _newest(self.home.glob("logs/dag_id=*/**/*.log"), 3):
            parts.append(f"----- {self.name}: {path.relative_to(self.home)} -----\n")
            parts.append(tail(path, 20) + "\n")
        return "".join(parts)

    # --- DAGs and runs ------------------------------------------------------------------------

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        """The DAG once the dag-processor has parsed and stored it."""
        return self.wait_for(
            lambda: self.api.get(f"/dags/{dag_id}").json(),
            f"DAG {dag_id} to be parsed",
            timeout,
            interval=2,
        )

    def trigger(self, dag_id: str, conf: Mapping[str, Any]) -> dict[str, Any]:
        """A run triggered through the REST API without a logical date, as the UI's form does."""
        body = {"logical_date": None, "conf": dict(conf)}
        return self.api.post(f"/dags/{dag_id}/dagRuns", json=body).json()

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        params = {"limit": 100, "order_by": "run_after", **filters}
        return self.api.get(f"/dags/{dag_id}/dagRuns", params=params).json()["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api.get(_run_path(dag_id, run_id)).json()

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict[str, Any]:
        """The run once it has finished (success or failed)."""

        def finished() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in FINISHED_RUN_STATES else None

        return self.wait_for(finished, f"run {run_id} to finish", timeout, interval=2)

    def task_instances(self, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        """Every task instance of the run, mapped ones included, by (task_id, map_index)."""
        answer = self.api.get(
            f"{_run_path(dag_id, run_id)}/taskInstances", params={"limit": 100}
        ).json()
        assert answer["total_entries"] <= 100, "more task instances than one page"
        return {(ti["task_id"], ti["map_index"]): ti for ti in answer["task_instances"]}


class LightAirflow(LocalAirflow):
    """SQLite and LocalExecutor: api-server, scheduler, dag-processor and triggerer.

    deploy/airflow.env with ``LIGHT_OVERRIDES``; the tests' e2e suite, the benchmarks.
    """

    def airflow_settings(self) -> dict[str, str]:
        return light_settings(self.home, api_port=self.api_port)

    @property
    def database(self) -> Path:
        return self.home / "airflow.db"


def _run_path(dag_id: str, run_id: str) -> str:
    return f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"


def _newest(paths: Iterable[Path], count: int) -> list[Path]:
    return sorted(paths, key=lambda path: path.stat().st_mtime)[-count:]
