"""The deployment files as test data: docker-compose.yaml's services, .env.example and the
requirements exported from uv.lock. What a local deployment reads itself (deploy/airflow.env,
the compose commands) lives in local_airflow.environment."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from local_airflow.environment import ROOT

ENV_EXAMPLE_FILE = ROOT / ".env.example"

#: The services of Airflow 3.3's official docker-compose.yaml (flower and airflow-cli under
#: profiles there too).
OFFICIAL_SERVICES = (
    "postgres",
    "redis",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "flower",
)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    """A service's ``environment:`` as a dict (compose accepts a mapping or KEY=VALUE list)."""
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {key: "" if value is None else str(value) for key, value in environment.items()}


def env_files_of(service: dict[str, Any]) -> list[str]:
    entries = service.get("env_file") or []
    if isinstance(entries, str):
        entries = [entries]
    return [entry if isinstance(entry, str) else entry["path"] for entry in entries]


def find_uv() -> str | None:
    """The uv the Makefile installs, else $UV, else uv on PATH."""
    candidates = [ROOT / ".local" / "tools" / "bin" / "uv", os.environ.get("UV")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("uv")


def _local_aws_export() -> list[str]:
    """moto[server] and what it needs: the dev group less its other members (test and lint
    tools, and what requirements/docker.txt installs already)."""
    import tomllib

    from packaging.requirements import Requirement

    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["dev"]
    others = [Requirement(item).name for item in dev if isinstance(item, str)]
    # cfn-lint is a dev tool of its own and also one of moto[server]'s dependencies
    kept = {"moto", "cfn-lint"}
    prunes = [arg for name in others if name not in kept for arg in ("--prune", name)]
    return ["--only-group", "dev", *prunes, "--no-emit-project"]


#: How requirements/*.txt are exported from uv.lock (the Dockerfile installs them).
REQUIREMENTS_EXPORTS = {
    "docker.txt": ["--no-dev", "--extra", "celery", "--no-emit-project"],
    "local-aws.txt": _local_aws_export(),
}


def requirement_lines(text: str) -> list[str]:
    """Requirements and their hashes, without uv's comments (which vary between versions)."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
