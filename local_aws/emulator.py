"""The License Manager emulator: API dispatch, in-process control, and its HTTP server."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_aws.arns import DEFAULT_ACCOUNT, caller_from_authorization
from local_aws.errors import ApiError
from local_aws.faults import CallCounter, FaultInjector
from local_aws.operations import OPERATIONS, Context, usage_resume_token
from local_aws.seeding import load_seed
from local_aws.store import Store

TARGET_PREFIX = "AWSLicenseManager."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

SeedSource = str | Path | list[dict[str, Any]] | dict[str, Any]


@dataclass
class Settings:
    page_size_cap: int = 100
    default_account: str = DEFAULT_ACCOUNT
    max_filters: int = 10
    max_filter_values: int = 10

    def update(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key not in asdict(self):
                raise ValueError(f"unknown setting: {key}")
            if key == "default_account":
                if not (isinstance(value, str) and value.isdigit() and len(value) == 12):
                    raise ValueError("default_account must be 12 digits")
            elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{key} must be a positive integer")
        for key, value in changes.items():
            setattr(self, key, value)


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def _call_arns(params: Any) -> list[str]:
    if not isinstance(params, dict):
        return []
    arn = params.get("LicenseConfigurationArn")
    arns = params.get("LicenseConfigurationArns")
    names = [arn] if isinstance(arn, str) else []
    if isinstance(arns, list):
        names += [a for a in arns if isinstance(a, str)]
    return names


class LicenseManagerEmulator:
    """Emulated AWS License Manager. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        seed: SeedSource | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size_cap: int = 100,
    ) -> None:
        self.settings = Settings(page_size_cap=page_size_cap)
        self.store = Store()
        self.faults = FaultInjector()
        self.calls = CallCounter()
        self._initial_seed = load_seed(seed) if seed is not None else []
        self.store.load(self._initial_seed, replace=True)
        self._address = (host, port)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- in-process control -------------------------------------------------------------

    def seed(self, source: SeedSource, *, replace: bool = True) -> int:
        """Load configurations (replacing all, or adding/overwriting by ARN)."""
        return self.store.load(load_seed(source), replace=replace)

    def set_faults(self, spec: dict[str, Any] | None = None, **fields: Any) -> None:
        """Install a fault spec (see local_aws.faults); replaces the previous one."""
        self.faults.set({**(spec or {}), **fields})

    def clear_faults(self) -> None:
        self.faults.clear()

    def call_count(self, operation: str | None = None, arn: str | None = None) -> int:
        return self.calls.count(operation, arn)

    def reset(self, *, calls: bool = True, faults: bool = True, data: bool = True) -> None:
        """Back to the start state: counters cleared, no faults, the initial seed."""
        if calls:
            self.calls.reset()
        if faults:
            self.faults.clear()
        if data:
            self.store.load(self._initial_seed, replace=True)

    def usage_token(
        self, arn: str, position: int, filters: list[dict[str, Any]] | None = None
    ) -> str:
        """A valid NextToken that resumes ListUsageForLicenseConfiguration at `position`."""
        return usage_resume_token(arn, position, filters)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "configurations": self.store.count(), "scopes": self.store.scopes()}

    # ---- API ----------------------------------------------------------------------------

    def handle_api(self, headers: dict[str, str], body: bytes) -> ApiResponse:
        """Answer one JSON 1.1 request. `headers` keys must be lower-case."""
        target = headers.get("x-amz-target", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else target
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = None
        arns = _call_arns(params)
        self.calls.record(operation or "<none>", arns)
        delay, error = self.faults.decide(operation, arns)
        if delay:
            time.sleep(delay)
        try:
            if not target.startswith(TARGET_PREFIX) or operation not in OPERATIONS:
                raise ApiError(
                    "UnknownOperationException", f"Unknown or unsupported operation: {target!r}"
                )
            if error is not None:
                raise error
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "The request body is not a JSON object.")
            account, region = caller_from_authorization(
                headers.get("authorization"), self.settings.default_account
            )
            context = Context(
                account,
                region,
                self.store,
                self.settings.page_size_cap,
                self.settings.max_filters,
                self.settings.max_filter_values,
            )
            result = OPERATIONS[operation](params, context)
            return self._response(200, result)
        except ApiError as exc:
            response = self._response(exc.status, exc.body())
            response.headers["x-amzn-ErrorType"] = exc.code
            return response

    @staticmethod
    def _response(status: int, payload: dict[str, Any]) -> ApiResponse:
        headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}
        return ApiResponse(status, headers, json.dumps(payload).encode())

    # ---- HTTP server --------------------------------------------------------------------

    def start(self) -> LicenseManagerEmulator:
        from local_aws.handler import make_handler

        if self._server is not None:
            return self
        self._server = ThreadingHTTPServer(self._address, make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="license-manager-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def __enter__(self) -> LicenseManagerEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
