"""A threaded HTTP/1.1 server for one app on a local port: bind, serve from a thread, stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def json(cls, status: int, payload: Any) -> HttpResponse:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())


App = Callable[[HttpRequest], HttpResponse]


def _handler_for(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        # Headers and body leave in one segment: with separate small writes, Nagle's algorithm
        # and the client's delayed ACK cost ~40 ms per call.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = HttpRequest(
                method=self.command,
                path=self.path.split("?", 1)[0],
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            response = app(request)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        do_GET = do_POST = do_DELETE = _serve

    return Handler


class ThreadedHttpServer:
    """Serves `app` on `host`:`port` (a free port when 0) from a daemon thread."""

    def __init__(
        self, app: App, host: str = "127.0.0.1", port: int = 0, *, name: str = "http-server"
    ) -> None:
        self._app = app
        self._address = (host, port)
        self._name = name
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        server = ThreadingHTTPServer(self._address, _handler_for(self._app))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name=self._name, daemon=True)
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server, self._thread = None, None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"
