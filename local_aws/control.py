"""The emulator's control interface over HTTP: the /_emulator/ endpoints and their client.

Tests, the demo and benchmarks in other processes seed the emulator, inject faults and read
call counts through EmulatorClient. Each endpoint calls one public method of
LicenseManagerEmulator and answers JSON.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_aws.http_server import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from local_aws.emulator import LicenseManagerEmulator

CONTROL_PREFIX = "/_emulator/"

# ---- the endpoints ------------------------------------------------------------------------------

Endpoint = Callable[["LicenseManagerEmulator", Any], Any]


def _health(emulator: LicenseManagerEmulator, _: Any) -> Any:
    return emulator.health()


def _calls(emulator: LicenseManagerEmulator, _: Any) -> Any:
    return emulator.calls()


def _reset_calls(emulator: LicenseManagerEmulator, _: Any) -> Any:
    emulator.reset_calls()
    return emulator.calls()


def _faults(emulator: LicenseManagerEmulator, _: Any) -> Any:
    return emulator.faults()


def _set_faults(emulator: LicenseManagerEmulator, body: Any) -> Any:
    emulator.set_faults(body or {})
    return emulator.faults()


def _clear_faults(emulator: LicenseManagerEmulator, _: Any) -> Any:
    emulator.clear_faults()
    return emulator.faults()


def _seed(emulator: LicenseManagerEmulator, body: Any) -> Any:
    if isinstance(body, list):
        body = {"configurations": body}
    if not isinstance(body, dict) or not isinstance(body.get("configurations"), list):
        raise ValueError("seed body: a list or {'configurations': [...], 'replace': bool}")
    loaded = emulator.seed(body["configurations"], replace=bool(body.get("replace", True)))
    return {"loaded": loaded, **emulator.health()}


def _reset(emulator: LicenseManagerEmulator, body: Any) -> Any:
    parts = body or {}
    if not isinstance(parts, dict):
        raise ValueError("reset body must be an object")
    emulator.reset(
        **{k: bool(parts[k]) for k in ("calls", "faults", "data", "settings") if k in parts}
    )
    return emulator.health()


def _settings(emulator: LicenseManagerEmulator, _: Any) -> Any:
    return emulator.settings()


def _update_settings(emulator: LicenseManagerEmulator, body: Any) -> Any:
    if not isinstance(body, dict):
        raise ValueError("settings body must be an object")
    emulator.update_settings(**body)
    return emulator.settings()


# (method, path under CONTROL_PREFIX) -> endpoint
ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "health"): _health,
    ("GET", "calls"): _calls,
    ("POST", "calls/reset"): _reset_calls,
    ("DELETE", "calls"): _reset_calls,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _set_faults,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "seed"): _seed,
    ("POST", "reset"): _reset,
    ("GET", "settings"): _settings,
    ("POST", "settings"): _update_settings,
}


def handle_control(emulator: LicenseManagerEmulator, request: HttpRequest) -> HttpResponse:
    """Answer one request under CONTROL_PREFIX: 404 for no endpoint, 400 for a bad body."""
    endpoint = ENDPOINTS.get(
        (request.method, request.path.removeprefix(CONTROL_PREFIX).rstrip("/"))
    )
    if endpoint is None:
        error = f"no control endpoint {request.method} {request.path}"
        return HttpResponse.json(404, {"error": error})
    try:
        body = json.loads(request.body) if request.body.strip() else None
        return HttpResponse.json(200, endpoint(emulator, body))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return HttpResponse.json(400, {"error": str(exc)})


# ---- the client ---------------------------------------------------------------------------------


class EmulatorControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class EmulatorClient:
    """The control endpoints from another process, e.g.
    EmulatorClient(os.environ["AWS_ENDPOINT_URL_LICENSE_MANAGER"]).seed(configurations)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{CONTROL_PREFIX}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise EmulatorControlError(exc.code, detail) from None

    def health(self) -> dict[str, Any]:
        return self._request("GET", "health")

    def calls(self) -> dict[str, Any]:
        """{"total": n, "by_operation": {op: n}, "by_operation_arn": {op: {arn: n}}}"""
        return self._request("GET", "calls")

    def call_count(self, operation: str, arn: str | None = None) -> int:
        snapshot = self.calls()
        count: int
        if arn is None:
            count = snapshot["by_operation"].get(operation, 0)
        else:
            count = snapshot["by_operation_arn"].get(operation, {}).get(arn, 0)
        return count

    def reset_calls(self) -> dict[str, Any]:
        return self._request("POST", "calls/reset", {})

    def faults(self) -> dict[str, Any]:
        return self._request("GET", "faults")

    def set_faults(self, spec: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        return self._request("POST", "faults", {**(spec or {}), **fields})

    def clear_faults(self) -> dict[str, Any]:
        return self._request("DELETE", "faults")

    def seed(self, configurations: list[dict[str, Any]], *, replace: bool = True) -> dict[str, Any]:
        return self._request("POST", "seed", {"configurations": configurations, "replace": replace})

    def seed_file(self, path: str | Path, *, replace: bool = True) -> dict[str, Any]:
        data = json.loads(Path(path).read_text())
        configurations = data["configurations"] if isinstance(data, dict) else data
        return self.seed(configurations, replace=replace)

    def reset(
        self, *, calls: bool = True, faults: bool = True, data: bool = True, settings: bool = True
    ) -> dict[str, Any]:
        parts = {"calls": calls, "faults": faults, "data": data, "settings": settings}
        return self._request("POST", "reset", parts)

    def settings(self) -> dict[str, Any]:
        return self._request("GET", "settings")

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        return self._request("POST", "settings", changes)
