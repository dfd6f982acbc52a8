"""Shared fixtures: one emulator for the session (reset before each test) and boto3 clients."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

# `local_aws` lives at the repo root; `python -m pytest` from there finds it already, plain
# `pytest` (or another rootdir) may not.
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_aws import DEMO_SEED_PATH, LicenseManagerEmulator  # noqa: E402
from tests.local_aws.helpers import ACCOUNT_A, NO_RETRIES, RawBodies  # noqa: E402


@pytest.fixture(scope="session")
def demo_seed() -> list[dict[str, Any]]:
    return json.loads(DEMO_SEED_PATH.read_text())["configurations"]


@pytest.fixture(scope="session")
def _session_emulator() -> Iterator[LicenseManagerEmulator]:
    with LicenseManagerEmulator(DEMO_SEED_PATH) as emulator:
        yield emulator


@pytest.fixture
def emulator(_session_emulator: LicenseManagerEmulator) -> LicenseManagerEmulator:
    """The running demo emulator, back to its initial state (seed, settings, no faults or calls)."""
    _session_emulator.reset()
    return _session_emulator


@pytest.fixture(scope="session")
def _clients(_session_emulator: LicenseManagerEmulator) -> dict[tuple, Any]:
    return {}


@pytest.fixture
def lm(_session_emulator: LicenseManagerEmulator, _clients: dict) -> Callable[..., Any]:
    """lm(region, account, config=None) -> a boto3 license-manager client on the emulator,
    with `client.raw` holding the raw response bodies it received."""

    def make(region: str = "us-east-1", account: str = ACCOUNT_A, config: Config | None = None):
        key = (region, account, id(config))
        if key not in _clients:
            client = boto3.client(
                "license-manager",
                region_name=region,
                endpoint_url=_session_emulator.url,
                aws_access_key_id=account,
                aws_secret_access_key="testing",
                config=config or NO_RETRIES,
            )
            client.raw = RawBodies()
            client.meta.events.register("before-parse.license-manager.*", client.raw)
            _clients[key] = client
        return _clients[key]

    return make
