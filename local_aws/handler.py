"""HTTP front of the emulator: the AWS API on POST / and the control API under /_emulator/."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local_aws.emulator import LicenseManagerEmulator

CONTROL_PREFIX = "/_emulator/"


class _ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _control(emulator: LicenseManagerEmulator, method: str, path: str, body: Any) -> Any:
    """Dispatch one control request; returns the JSON answer."""
    route = (method, path.split("?", 1)[0].rstrip("/"))
    match route:
        case ("GET", "/_emulator/health"):
            return emulator.health()
        case ("GET", "/_emulator/calls"):
            return emulator.calls.snapshot()
        case ("POST", "/_emulator/calls/reset") | ("DELETE", "/_emulator/calls"):
            emulator.calls.reset()
            return emulator.calls.snapshot()
        case ("GET", "/_emulator/faults"):
            return emulator.faults.state()
        case ("POST", "/_emulator/faults"):
            emulator.set_faults(body or {})
            return emulator.faults.state()
        case ("DELETE", "/_emulator/faults"):
            emulator.clear_faults()
            return emulator.faults.state()
        case ("POST", "/_emulator/seed"):
            if isinstance(body, list):
                body = {"configurations": body}
            if not isinstance(body, dict):
                raise ValueError("seed body: a list or {'configurations': [...], 'replace': bool}")
            loaded = emulator.seed(body.get("configurations"), replace=body.get("replace", True))
            return {"loaded": loaded, **emulator.health()}
        case ("POST", "/_emulator/reset"):
            body = body or {}
            emulator.reset(**{k: bool(body[k]) for k in ("calls", "faults", "data") if k in body})
            return emulator.health()
        case ("GET", "/_emulator/settings"):
            return vars(emulator.settings)
        case ("POST", "/_emulator/settings"):
            if not isinstance(body, dict):
                raise ValueError("settings body must be an object")
            emulator.settings.update(body)
            return vars(emulator.settings)
    raise _ControlError(404, f"no control endpoint {method} {path}")


def make_handler(emulator: LicenseManagerEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        # Headers and body leave in one segment: with separate small writes, Nagle's algorithm
        # and the client's delayed ACK cost ~40 ms per call.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self, method: str) -> None:
            body = self._body()
            if self.path.startswith(CONTROL_PREFIX):
                self._handle_control(method, body)
            elif method == "POST" and self.path.split("?", 1)[0] == "/":
                headers = {k.lower(): v for k, v in self.headers.items()}
                response = emulator.handle_api(headers, body)
                self._send(response.status, response.headers, response.body)
            else:
                self._send_json(404, {"error": f"no route {method} {self.path}"})

        def _handle_control(self, method: str, raw: bytes) -> None:
            try:
                parsed = json.loads(raw) if raw.strip() else None
                self._send_json(200, _control(emulator, method, self.path, parsed))
            except _ControlError as exc:
                self._send_json(exc.status, {"error": str(exc)})
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                self._send_json(400, {"error": str(exc)})

        def _send_json(self, status: int, payload: Any) -> None:
            self._send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def do_DELETE(self) -> None:  # noqa: N802
            self._handle("DELETE")

    return Handler
