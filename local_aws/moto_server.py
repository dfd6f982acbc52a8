"""moto's threaded server (KMS, S3, SNS, SQS, STS and the rest of moto) on a local port."""

from __future__ import annotations

import logging
import urllib.request

from moto import backends
from moto.server import ThreadedMotoServer


def _list_moto_modules_once() -> None:
    """moto's server lists its own package folder (a listdir and a stat per entry, some 180)
    twice for every request it routes, to find the service; the folder does not change while
    it runs, so the list is taken once. Routing, and every answer, stay moto's."""
    if not getattr(backends.list_of_moto_modules, "listed_once", False):
        modules = tuple(backends.list_of_moto_modules())

        def list_of_moto_modules() -> tuple[str, ...]:
            return modules

        list_of_moto_modules.listed_once = True  # type: ignore[attr-defined]
        backends.list_of_moto_modules = list_of_moto_modules


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        self._quiet = quiet
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._running = False

    def start(self) -> MotoServer:
        if not self._running:
            _list_moto_modules_once()
            if self._quiet:
                # moto's request handler logs every request through werkzeug's logger.
                logging.getLogger("werkzeug").setLevel(logging.WARNING)
            self._server.start()
            self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._running = False

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Drop every moto resource (moto's own reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass
