"""The environment of every local Airflow process, built from deploy/airflow.env.

deploy/airflow.env is the env_file of docker-compose.yaml's Airflow services. A local
deployment reads the same file and changes only what differs between a container and a process
of this machine (``native_settings``): the compose host names become 127.0.0.1 with the
deployment's ports, /opt/airflow becomes its AIRFLOW_HOME, and the ports a container has to
itself become free ports. A flavour that is not the compose topology lists what else it changes
in one place, with the reason (``LIGHT_OVERRIDES``).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local_airflow.processes import LocalAirflowError, free_port

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
AIRFLOW_ENV_FILE = ROOT / "deploy" / "airflow.env"

#: Where the image keeps AIRFLOW_HOME; paths in deploy/airflow.env start with it.
IMAGE_AIRFLOW_HOME = "/opt/airflow"
#: Long-running Airflow services of docker-compose.yaml and their command (`airflow <command>`).
AIRFLOW_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}

#: What the light flavour (SQLite, LocalExecutor, no Celery) changes in deploy/airflow.env, and
#: why. None removes the setting; ``{home}`` is the deployment's AIRFLOW_HOME.
LIGHT_OVERRIDES: dict[str, str | None] = {
    # No PostgreSQL: one SQLite file. Four components and the CLI write to it: each waits up
    # to 60 s for its lock.
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:///{home}/airflow.db?timeout=60",
    # No Celery workers and no Redis: the scheduler runs each task in a process of its own.
    "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    "AIRFLOW__CELERY__BROKER_URL": None,
    "AIRFLOW__CELERY__RESULT_BACKEND": None,
    # Every component and its tasks share the machine's cores (two here).
    "AIRFLOW__CORE__PARALLELISM": "4",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    # Whoever drives it (tests, benchmarks) waits for the dag-processor and the scheduler:
    # short loops, so that a DAG is parsed and a run starts within seconds.
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
}

#: Stand-ins for compose host names: the URL found in deploy/airflow.env -> the native URL.
StandIns = Mapping[str, Callable[[urllib.parse.SplitResult], urllib.parse.SplitResult]]

_ENV_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
# Settings of the developer's shell or of a test session that must not reach a deployment.
_NOT_INHERITED = ("AIRFLOW", "_AIRFLOW", "AWS_", "LICENSE_TRACKING_", "PYTHONPATH")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, taken literally; blank lines and # comments skipped.

    Quotes and ``$`` are refused: Docker Compose would strip or interpolate them, so the
    file would not mean the same to compose and to a local deployment.
    """
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {line!r}")
        key, value = match.groups()
        if value[:1] in ("'", '"') or "$" in value or " #" in value:
            raise ValueError(f"{path.name}:{number}: {key} must be a plain value: {value!r}")
        if key in values:
            raise ValueError(f"{path.name}:{number}: {key} is set twice")
        values[key] = value
    return values


def shared_airflow_env() -> dict[str, str]:
    """deploy/airflow.env as compose passes it to every Airflow container."""
    return read_env_file(AIRFLOW_ENV_FILE)


def load_compose() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(COMPOSE_FILE.read_text())


def base_environment() -> dict[str, str]:
    """This process's environment without anything Airflow, AWS or test-session specific."""
    return {key: value for key, value in os.environ.items() if not key.startswith(_NOT_INHERITED)}


def native_settings(
    shared: Mapping[str, str],
    *,
    home: Path,
    api_port: int,
    stand_ins: StandIns | None = None,
) -> dict[str, str]:
    """``shared`` (deploy/airflow.env) for processes of this machine instead of containers.

    :param stand_ins: the native URL of each compose host besides the api-server's; a URL
        naming a host without one is refused.
    """
    hosts: dict[str, Callable[[urllib.parse.SplitResult], urllib.parse.SplitResult]] = {
        "airflow-apiserver": lambda url: url._replace(netloc=f"127.0.0.1:{api_port}"),
        **(stand_ins or {}),
    }
    settings = {}
    for key, value in shared.items():
        if "://" in value:
            url = urllib.parse.urlsplit(value)
            if url.hostname not in hosts:
                raise LocalAirflowError(f"{key}: no native stand-in for host {url.hostname!r}")
            value = urllib.parse.urlunsplit(hosts[url.hostname](url))
        elif value.startswith(IMAGE_AIRFLOW_HOME + "/"):
            value = str(home) + value[len(IMAGE_AIRFLOW_HOME) :]
        settings[key] = value
    # What a container has by itself: the image's AIRFLOW_HOME with ./dags and ./plugins
    # mounted in it, its published api-server port, and ports no other container uses.
    settings.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
        AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
    )
    return settings


def light_settings(home: Path, *, api_port: int = 8080) -> dict[str, str]:
    """deploy/airflow.env for the light flavour: native, then ``LIGHT_OVERRIDES``."""
    shared = {k: v for k, v in shared_airflow_env().items() if k not in LIGHT_OVERRIDES}
    settings = native_settings(shared, home=home, api_port=api_port)
    settings.update({k: v.format(home=home) for k, v in LIGHT_OVERRIDES.items() if v is not None})
    return settings
