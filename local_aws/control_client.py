"""A small client for the emulator's /_emulator/ control API (for other processes)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class EmulatorControlError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class EmulatorClient:
    """e.g. EmulatorClient(os.environ["AWS_ENDPOINT_URL_LICENSE_MANAGER"])."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
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
        if arn is None:
            return snapshot["by_operation"].get(operation, 0)
        return snapshot["by_operation_arn"].get(operation, {}).get(arn, 0)

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
        self, *, calls: bool = True, faults: bool = True, data: bool = True
    ) -> dict[str, Any]:
        return self._request("POST", "reset", {"calls": calls, "faults": faults, "data": data})

    def settings(self) -> dict[str, Any]:
        return self._request("GET", "settings")

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        return self._request("POST", "settings", changes)
