"""A natively started copy of docker-compose.yaml's Airflow topology, for tests.

What compose runs in containers runs here as processes of this machine:

    compose service        native
    postgres               PostgreSQL on 127.0.0.1:5432, a database created for the run
    redis                  Redis on 127.0.0.1:6379, a database number claimed for the run
    airflow-init           airflow db migrate + the simple auth manager password file
    airflow-apiserver      airflow api-server
    airflow-scheduler      airflow scheduler
    airflow-dag-processor  airflow dag-processor
    airflow-triggerer      airflow triggerer
    airflow-worker (x2)    airflow celery worker --celery-hostname worker-a / worker-b

The commands are read from docker-compose.yaml and the Airflow settings from
deploy/airflow.env, the compose file's env_file. Only what differs between a container and a
process of this machine is replaced (``native_settings``): the compose host names by
127.0.0.1 and the ports and database of the run, /opt/airflow by the run's AIRFLOW_HOME, and
the ports each container has to itself by free ports. Each process runs in its own process
group and carries a marker variable, so that teardown finds and ends everything it started,
including task processes that left their group.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.deployment import (
    AIRFLOW_COMMANDS,
    IMAGE_AIRFLOW_HOME,
    ROOT,
    load_compose,
    shared_airflow_env,
)

SKIP_VARIABLE = "LICENSE_TRACKING_SKIP_SERVICE_TESTS"
MARKER_VARIABLE = "LICENSE_TRACKING_TOPOLOGY_RUN"
WORKER_HOSTNAME_VARIABLE = "LICENSE_TRACKING_WORKER_HOSTNAME"
POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
REDIS_LOCK_KEY = "license-tracking-topology-run"
DATABASE_PREFIX = "license_tracking_topology_"
ADMIN_USER = "airflow"  # deploy/airflow.env: AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS


class TopologyError(RuntimeError):
    pass


# --- The machine's services -------------------------------------------------------------------


def unavailable_services() -> list[str]:
    """One line per service that cannot be reached, saying how to start it."""
    problems = []
    try:
        import psycopg2

        psycopg2.connect(
            host=POSTGRES_HOST,
            port=POSTGRES_PORT,
            user=POSTGRES_USER,
            dbname="postgres",
            connect_timeout=5,
        ).close()
    except Exception as error:
        problems.append(
            f"PostgreSQL is not reachable at {POSTGRES_HOST}:{POSTGRES_PORT} as user "
            f"{POSTGRES_USER} ({str(error).strip()}); start it with: {POSTGRES_START}"
        )
    try:
        import redis

        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=5).ping()
    except Exception as error:
        problems.append(
            f"Redis is not reachable at {REDIS_HOST}:{REDIS_PORT} ({error}); "
            f"start it with: {REDIS_START}"
        )
    return problems


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Settings -----------------------------------------------------------------------------------


def native_settings(
    shared: Mapping[str, str],
    *,
    airflow_home: Path,
    database: str,
    redis_db: int,
    api_port: int,
) -> dict[str, str]:
    """deploy/airflow.env for processes of this machine instead of compose containers."""
    hosts: dict[str, Callable[[urllib.parse.SplitResult], urllib.parse.SplitResult]] = {
        "postgres": lambda url: url._replace(
            netloc=f"{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}", path=f"/{database}"
        ),
        "redis": lambda url: url._replace(netloc=f"{REDIS_HOST}:{REDIS_PORT}", path=f"/{redis_db}"),
        "airflow-apiserver": lambda url: url._replace(netloc=f"127.0.0.1:{api_port}"),
    }
    settings = {}
    for key, value in shared.items():
        if "://" in value:
            url = urllib.parse.urlsplit(value)
            if url.hostname not in hosts:
                raise TopologyError(f"{key}: no native stand-in for host {url.hostname!r}")
            value = urllib.parse.urlunsplit(hosts[url.hostname](url))
        elif value.startswith(IMAGE_AIRFLOW_HOME + "/"):
            value = str(airflow_home) + value[len(IMAGE_AIRFLOW_HOME) :]
        settings[key] = value
    # What a container has by itself: the image's AIRFLOW_HOME with ./dags and ./plugins
    # mounted in it, and its own ports.
    settings.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
    )
    return settings


def base_environment() -> dict[str, str]:
    """This process's environment without anything Airflow, AWS or test-session specific."""
    dropped = ("AIRFLOW", "AWS_", "LICENSE_TRACKING_", "PYTHONPATH", "_AIRFLOW")
    return {key: value for key, value in os.environ.items() if not key.startswith(dropped)}


# --- REST API -----------------------------------------------------------------------------------


class ApiClient:
    """The public REST API with a token from the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self.username = username
        self.password = password
        self._token: str | None = None

    def _send(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def token(self) -> str:
        if self._token is None:
            login = {"username": self.username, "password": self.password}
            self._token = self._send("POST", "/auth/token", login)["access_token"]
        return self._token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self._send(method, path, body, self.token())
        except urllib.error.HTTPError as error:
            if error.code != 401:
                raise
            self._token = None
            return self._send(method, path, body, self.token())

    def public(self, path: str) -> Any:
        return self._send("GET", path)


# --- Processes ----------------------------------------------------------------------------------


@dataclass
class Component:
    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text)


def marked_processes(run_id: str, **required: str) -> list:
    """Every process whose environment carries this run's marker (and the given values)."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            environ = process.environ()
        except (psutil.Error, OSError):
            continue
        if environ.get(MARKER_VARIABLE) == run_id and all(
            environ.get(key) == value for key, value in required.items()
        ):
            found.append(process)
    return found


def living(processes: list) -> list:
    """The processes that still run (not gone, not zombies waiting for their parent)."""
    import psutil

    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def kill_processes(processes: list, timeout: float = 10) -> None:
    import psutil

    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=timeout)


@dataclass
class NativeTopology:
    """Start with ``start()``, always ``stop()``; ``stop()`` verifies nothing is left."""

    base: Path
    aws_env: Mapping[str, str]
    tuning: Mapping[str, str] = field(default_factory=dict)
    workers: tuple[str, ...] = ("worker-a", "worker-b")
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.airflow_home = self.base / "airflow-home"
        self.logs = self.base / "process-logs"
        self.database = f"{DATABASE_PREFIX}{self.run_id}"
        self.redis_db: int | None = None
        self.database_created = False
        self.api_port = free_port()
        self.password = uuid.uuid4().hex
        self.components: dict[str, Component] = {}
        self.killed: set[str] = set()
        self.settings: dict[str, str] = {}
        self.api = ApiClient(f"http://127.0.0.1:{self.api_port}", ADMIN_USER, self.password)

    # -- external services

    def _postgres(self):
        import psycopg2

        connection = psycopg2.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, dbname="postgres"
        )
        connection.autocommit = True
        return connection

    def _create_database(self) -> None:
        connection = self._postgres()  # not `with`: psycopg2 would open a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            connection.close()
        self.database_created = True

    def _drop_database(self) -> None:
        connection = self._postgres()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cursor.fetchone():
                    raise TopologyError(f"database {self.database} is still there")
        finally:
            connection.close()

    def _claim_redis_db(self) -> None:
        """The first Redis database that is empty, locked for this run with SET NX."""
        import redis

        count = int(redis.Redis(REDIS_HOST, REDIS_PORT).config_get("databases")["databases"])
        for number in range(count - 1, 0, -1):
            client = redis.Redis(REDIS_HOST, REDIS_PORT, db=number)
            if client.set(REDIS_LOCK_KEY, self.run_id, nx=True, ex=6 * 3600):
                if client.dbsize() == 1:
                    self.redis_db = number
                    return
                client.delete(REDIS_LOCK_KEY)
        raise TopologyError("no empty Redis database to use as the Celery broker")

    def _flush_redis_db(self) -> None:
        import redis

        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=self.redis_db)
        if client.get(REDIS_LOCK_KEY) in (None, self.run_id.encode()):
            client.flushdb()

    # -- settings and processes

    def environment(self, **extra: str) -> dict[str, str]:
        return {
            **base_environment(),
            **self.settings,
            **self.aws_env,
            **self.tuning,
            **extra,
            MARKER_VARIABLE: self.run_id,
        }

    def _run_once(self, name: str, command: list[str], timeout: float) -> None:
        log = self.logs / f"{name}.log"
        with log.open("w") as output:
            result = subprocess.run(
                [sys.executable, "-m", "airflow", *command],
                env=self.environment(),
                cwd=self.airflow_home,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,
            )
        if result.returncode:
            raise TopologyError(
                f"airflow {' '.join(command)} failed:\n{Component(name, [], {}, log).tail()}"
            )

    def _start(self, component: Component) -> None:
        output = component.log.open("a")
        component.process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *component.command],
            env=component.env,
            cwd=self.airflow_home,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        output.close()

    def _worker(self, name: str) -> Component:
        return Component(
            name,
            [*AIRFLOW_COMMANDS["airflow-worker"].split(), "--celery-hostname", name],
            self.environment(
                # A container's own host name; task instances record it as their hostname.
                AIRFLOW__CORE__HOSTNAME_CALLABLE="tests.topology.worker_hostname.hostname",
                PYTHONPATH=str(ROOT),
                **{WORKER_HOSTNAME_VARIABLE: name},
                AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            ),
            self.logs / f"{name}.log",
        )

    def start(self, timeout: float = 180) -> NativeTopology:
        services = load_compose()["services"]
        for service, command in AIRFLOW_COMMANDS.items():
            if services[service]["command"] != command:
                raise TopologyError(f"docker-compose.yaml runs {service} differently")
        self.airflow_home.mkdir(parents=True)
        (self.airflow_home / "config").mkdir()
        self.logs.mkdir(parents=True)
        self._create_database()
        self._claim_redis_db()
        self.settings = native_settings(
            shared_airflow_env(),
            airflow_home=self.airflow_home,
            database=self.database,
            redis_db=self.redis_db,
            api_port=self.api_port,
        )
        # airflow-init: migrate the database (which writes the shared airflow.cfg with its
        # generated keys) and write the admin password.
        self._run_once("airflow-init", ["db", "migrate"], timeout=timeout)
        passwords = Path(self.settings["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.write_text(json.dumps({ADMIN_USER: self.password}) + "\n")
        for service, command in AIRFLOW_COMMANDS.items():
            if service == "airflow-worker":
                continue
            self.components[service] = Component(
                service, command.split(), self.environment(), self.logs / f"{service}.log"
            )
        for worker in self.workers:
            self.components[worker] = self._worker(worker)
        for component in self.components.values():
            self._start(component)
        self.wait_until_ready(timeout)
        return self

    # -- readiness

    def _check_alive(self) -> None:
        dead = [
            c
            for c in self.components.values()
            if c.process and c.process.poll() is not None and c.name not in self.killed
        ]
        if dead:
            raise TopologyError(
                "exited: "
                + ", ".join(c.name for c in dead)
                + "\n"
                + "\n".join(c.tail() for c in dead)
            )

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float, interval: float = 1):
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                result = check()
            except Exception as error:  # not up yet
                last_error = error
                result = None
            if result:
                return result
            time.sleep(interval)
        tails = "\n".join(c.tail(15) for c in self.components.values())
        raise TopologyError(f"timed out waiting for {what} (last error: {last_error})\n{tails}")

    def health(self) -> dict[str, str]:
        report = self.api.public("/api/v2/monitor/health")
        return {name: value.get("status") for name, value in report.items()}

    def celery_nodes(self) -> set[str]:
        from celery import Celery

        app = Celery(broker=self.settings["AIRFLOW__CELERY__BROKER_URL"])
        try:
            replies = app.control.ping(timeout=1.0)
        finally:
            app.close()
        return {node for reply in replies for node in reply}

    def wait_for_workers(self, timeout: float = 120) -> None:
        expected = {f"celery@{name}" for name in self.workers}
        self.wait_for("the Celery workers", lambda: expected <= self.celery_nodes(), timeout)

    def scheduler_health(self) -> bool:
        port = self.settings["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status == 200

    def wait_until_ready(self, timeout: float) -> None:
        """What the compose health checks ask, then the DAG parsed and unpaused."""
        components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        self.wait_for(
            "api-server, scheduler, triggerer and dag-processor to be healthy",
            lambda: all(self.health().get(name) == "healthy" for name in components),
            timeout,
        )
        self.wait_for(
            "the api-server's /api/v2/version", lambda: self.api.public("/api/v2/version"), 30
        )
        self.wait_for("the scheduler's health check server", self.scheduler_health, 30)
        self.wait_for_workers(timeout)
        self.wait_for(
            "the license_tracking DAG to be parsed",
            lambda: self.api.call("GET", "/api/v2/dags/license_tracking"),
            timeout,
        )
        self.api.call("PATCH", "/api/v2/dags/license_tracking", {"is_paused": False})

    # -- workers

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's process group and every process it started, as when its
        container or host dies (task processes run in process groups of their own)."""
        component = self.components[name]
        self.killed.add(name)
        try:
            os.killpg(component.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for _ in range(3):
            kill_processes(marked_processes(self.run_id, **{WORKER_HOSTNAME_VARIABLE: name}))
            time.sleep(0.2)
        component.process.wait(timeout=10)
        survivors = living(marked_processes(self.run_id, **{WORKER_HOSTNAME_VARIABLE: name}))
        if survivors:
            raise TopologyError(f"processes of {name} survived: {[p.pid for p in survivors]}")

    def restart_dead_workers(self) -> None:
        dead = [name for name in self.workers if not self.components[name].alive()]
        for name in dead:
            self.components[name] = self._worker(name)
            self._start(self.components[name])
            self.killed.discard(name)
        if dead:
            self.wait_for_workers()

    # -- teardown

    def stop(self, timeout: float = 20) -> None:
        """Terminate each process group, SIGKILL what is left, verify that nothing of the
        run remains, drop the database and flush the Redis database."""
        problems = []
        groups = [c.process.pid for c in self.components.values() if c.alive()]
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for component in self.components.values():
            if component.process:
                try:
                    component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for pgid in groups:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for component in self.components.values():
            if component.process and component.process.poll() is None:
                component.process.wait(timeout=10)
        # Task processes run in groups of their own: find them by the run's marker.
        kill_processes(living(marked_processes(self.run_id)))
        survivors = living(marked_processes(self.run_id))
        if survivors:
            problems.append(f"processes still running: {[p.pid for p in survivors]}")
        if self.database_created:
            try:
                self._drop_database()
            except Exception as error:
                problems.append(f"database {self.database} was not dropped: {error}")
        if self.redis_db is not None:
            self._flush_redis_db()
        if problems:
            raise TopologyError("; ".join(problems))
