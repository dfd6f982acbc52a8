"""A natively started copy of docker-compose.yaml's Airflow topology.

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

The commands are docker-compose.yaml's and the settings deploy/airflow.env's, with only the
native substitutions (``native_settings``): this flavour overrides nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local_airflow.deployment import LocalAirflow
from local_airflow.environment import (
    AIRFLOW_COMMANDS,
    ROOT,
    load_compose,
    native_settings,
    shared_airflow_env,
)
from local_airflow.processes import LocalAirflowError, free_port
from local_airflow.worker_hostname import HOSTNAME_VARIABLE

POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
POSTGRES_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" '
    "--appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log"
)
REDIS_LOCK_KEY = "license-tracking-topology-run"
DATABASE_PREFIX = "license_tracking_topology_"


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


def topology_settings(
    shared: Mapping[str, str], *, home: Path, database: str, redis_db: int, api_port: int
) -> dict[str, str]:
    """deploy/airflow.env with this machine's PostgreSQL database and Redis database."""
    return native_settings(
        shared,
        home=home,
        api_port=api_port,
        stand_ins={
            "postgres": lambda url: url._replace(
                netloc=f"{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}", path=f"/{database}"
            ),
            "redis": lambda url: url._replace(
                netloc=f"{REDIS_HOST}:{REDIS_PORT}", path=f"/{redis_db}"
            ),
        },
    )


class CeleryTopology(LocalAirflow):
    """The compose topology: CeleryExecutor, PostgreSQL, Redis and two Celery workers."""

    def __init__(
        self,
        home: Path,
        env: Mapping[str, str] | None = None,
        *,
        workers: tuple[str, ...] = ("worker-a", "worker-b"),
        name: str = "topology",
    ) -> None:
        super().__init__(home, env, name=name)
        self.workers = workers
        self.database = f"{DATABASE_PREFIX}{self.processes.run_id}"
        self.database_created = False
        self.redis_db: int | None = None

    # --- The flavour --------------------------------------------------------------------------

    def acquire(self) -> None:
        services = load_compose()["services"]
        for service, command in AIRFLOW_COMMANDS.items():
            if services[service]["command"] != command:
                raise LocalAirflowError(f"docker-compose.yaml runs {service} differently")
        self._create_database()
        self._claim_redis_db()

    def airflow_settings(self) -> dict[str, str]:
        return topology_settings(
            shared_airflow_env(),
            home=self.home,
            database=self.database,
            redis_db=self.redis_db,
            api_port=self.api_port,
        )

    def start_worker(self, name: str) -> None:
        self.start_component(
            name,
            [*AIRFLOW_COMMANDS["airflow-worker"].split(), "--celery-hostname", name],
            # A container's own host name, which task instances record as their hostname,
            # and its own log server port.
            AIRFLOW__CORE__HOSTNAME_CALLABLE="local_airflow.worker_hostname.hostname",
            PYTHONPATH=str(ROOT),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            **{HOSTNAME_VARIABLE: name},
        )

    def start_components(self) -> None:
        super().start_components()
        for worker in self.workers:
            self.start_worker(worker)

    def wait_until_ready(self, timeout: float) -> None:
        super().wait_until_ready(timeout)
        self.wait_for_workers(timeout)

    def release(self) -> list[str]:
        problems = []
        if self.database_created:
            try:
                self._drop_database()
            except Exception as error:
                problems.append(f"database {self.database} was not dropped: {error}")
        if self.redis_db is not None:
            self._flush_redis_db()
        return problems

    # --- Workers ------------------------------------------------------------------------------

    def celery_nodes(self) -> set[str]:
        from celery import Celery

        app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
        try:
            replies = app.control.ping(timeout=1.0)
        finally:
            app.close()
        return {node for reply in replies for node in reply}

    def wait_for_workers(self, timeout: float = 120) -> None:
        expected = {f"celery@{name}" for name in self.workers}
        self.wait_for(lambda: expected <= self.celery_nodes(), "the Celery workers", timeout)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every process it started, as when its container or host
        dies (task processes run in process groups of their own)."""
        self.killed.add(name)
        self.processes.kill(name)

    def restart_dead_workers(self) -> None:
        dead = [name for name in self.workers if not self.processes.components[name].alive()]
        for name in dead:
            self.start_worker(name)
        if dead:
            self.wait_for_workers()

    # --- PostgreSQL and Redis -----------------------------------------------------------------

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
                    raise LocalAirflowError(f"database {self.database} is still there")
        finally:
            connection.close()
        self.database_created = False

    def restart_database(self, down_for: float = 5.0, interval: float = 0.25) -> int:
        """What a restart of the metadata database looks like to its clients, without
        restarting the PostgreSQL server that other databases share: every connection to this
        deployment's database is dropped, new ones are refused for ``down_for`` seconds
        (connections that were being opened are dropped every ``interval``), then accepted
        again. Returns how many connections were dropped."""
        connection = self._postgres()
        dropped = 0
        try:
            with connection.cursor() as cursor:
                self._allow_connections(cursor, False)
                try:
                    deadline = time.monotonic() + down_for
                    while time.monotonic() < deadline:
                        dropped += self._terminate_connections(cursor)
                        time.sleep(interval)
                finally:
                    self._allow_connections(cursor, True)
        finally:
            connection.close()
        return dropped

    def _allow_connections(self, cursor: Any, allowed: bool) -> None:
        cursor.execute(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS {str(allowed).lower()}')

    def _terminate_connections(self, cursor: Any) -> int:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (self.database,),
        )
        return int(cursor.fetchone()[0])

    def _claim_redis_db(self) -> None:
        """The first Redis database that is empty, locked for this run with SET NX."""
        import redis

        run_id = self.processes.run_id
        count = int(redis.Redis(REDIS_HOST, REDIS_PORT).config_get("databases")["databases"])
        for number in range(count - 1, 0, -1):
            client = redis.Redis(REDIS_HOST, REDIS_PORT, db=number)
            if client.set(REDIS_LOCK_KEY, run_id, nx=True, ex=6 * 3600):
                if client.dbsize() == 1:
                    self.redis_db = number
                    return
                client.delete(REDIS_LOCK_KEY)
        raise LocalAirflowError("no empty Redis database to use as the Celery broker")

    def _flush_redis_db(self) -> None:
        import redis

        client = redis.Redis(REDIS_HOST, REDIS_PORT, db=self.redis_db)
        if client.get(REDIS_LOCK_KEY) in (None, self.processes.run_id.encode()):
            client.flushdb()
        self.redis_db = None
