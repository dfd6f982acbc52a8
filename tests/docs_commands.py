"""The shell examples of the README and docs/: extracted as a reader copies them, and the
shell a reader runs them in (curl, jq and the AWS CLI on PATH, none of the tests' settings)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from tests.deployment import ROOT, find_uv

#: The AWS CLI the examples call, run by uv from PyPI in an environment of its own.
AWS_CLI = "awscli==1.45.11"
FENCE = re.compile(r"^```(?P<language>\S*)\s*$")
SHELL = frozenset({"bash", "sh", "shell"})

#: Shell examples no test runs against `make ui` as written, and what proves them instead.
EXEMPT = {
    (
        "README.md",
        "make demo   # a local AWS with demo data, the DAG run twice through Airflow, "
        "the report printed",
    ): "tests/test_make_demo.py runs `make demo`, tests/test_make_ui.py `make ui`; CI `make test`",
    (
        "configuration.md",
        "export AIRFLOW_VAR_LICENSE_CONFIG_ARNS='[\"arn:aws:license-manager:"
        'us-east-1:111111111111:license-configuration:lic-0123456789abcdef0123456789abcdef",',
    ): "a deployment's environment; tests/test_settings.py reads every setting from Variables",
    (
        "output.md",
        "aws cloudformation deploy --template-file iam/license-tracking-athena-tables.yaml \\",
    ): "needs an AWS account; cfn-lint checks the "
    "template and tests/test_tables.py runs its queries in DuckDB",
    ("production.md", "cp .env.example .env"): "needs a Docker engine; tests/test_deployment_files"
    ".py checks the compose file and tests/topology/ runs its topology natively",
    ("production.md", "docker compose up -d --scale airflow-worker=3"): "needs a Docker engine; "
    "tests/topology/test_celery_topology.py runs two workers natively",
    (
        "production.md",
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    ): "starts the machine's own services, as a CI machine needs them",
}


def blocks(path: Path) -> list[str]:
    """The shell examples (```bash, ```sh, ```shell) of a Markdown file, in order."""
    found: list[str] = []
    language: str | None = None  # of the fenced block the line is in; None outside one
    lines: list[str] = []
    for line in path.read_text().splitlines():
        fence = FENCE.match(line)
        if fence and language is None:
            language, lines = fence["language"], []
        elif fence:
            if language in SHELL:
                found.append("\n".join(lines))
            language = None
        elif language is not None:
            lines.append(line)
    return found


def all_blocks() -> list[tuple[Path, str]]:
    """Each shell example of the README and docs/ as (file, its first line)."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [(path, block.splitlines()[0]) for path in files for block in blocks(path)]


def aws_cli(folder: Path) -> Path:
    """A folder holding an ``aws`` command: PyPI's AWS CLI, run by uv."""
    uv = find_uv()
    assert uv, "uv is needed: run `make install` (it installs .local/tools/bin/uv)"
    folder.mkdir(parents=True, exist_ok=True)
    command = folder / "aws"
    command.write_text(f'#!/bin/sh\nexec "{uv}" tool run --quiet --from "{AWS_CLI}" aws "$@"\n')
    command.chmod(0o755)
    return folder


def reader_environment(tmp: Path) -> dict[str, str]:
    """A reader's shell: this machine's PATH with the AWS CLI, none of the tests' AWS or Airflow
    settings (the examples source make ui's aws.env themselves)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "AIRFLOW", "PYTEST", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{aws_cli(tmp / 'bin')}{os.pathsep}{env.get('PATH', '')}"
    return env
