"""Constants and assertions shared by the local_aws tests."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.validate import validate_parameters

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
# Errors must reach the test as answered, not hidden by botocore's retries.
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


class RawBodies:
    """Raw response bodies captured before botocore parses them."""

    def __init__(self) -> None:
        self.bodies: list[tuple[int, dict[str, Any]]] = []

    def __call__(self, response_dict: dict[str, Any], **_: Any) -> None:
        self.bodies.append((response_dict["status_code"], json.loads(response_dict["body"])))

    @property
    def last(self) -> tuple[int, dict[str, Any]]:
        return self.bodies[-1]


def assert_valid_output(client: Any, operation: str, response: dict[str, Any]) -> None:
    """The parsed response and the raw wire body both validate against the output shape
    (the raw check also catches members the shape does not have: botocore's parser would
    drop them silently)."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    parsed = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    validate_parameters(parsed, shape)
    status, raw = client.raw.last
    assert status == 200
    validate_parameters(raw, shape)
    assert set(raw) == set(parsed)


@contextmanager
def serving_cli(env_file: Path, *options: str, timeout: float = 30) -> Generator[subprocess.Popen]:
    """``python -m local_aws serve`` with ``options``, once it has written ``env_file``.

    Killed on exit if the test has not stopped it.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "serve", f"--env-file={env_file}", *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not env_file.exists() or not env_file.read_text():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the CLI did not start"
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
