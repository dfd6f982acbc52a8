"""An HTTP proxy in front of moto's S3 that injects faults and records what clients send.

moto answers every S3 request it can; real S3 also answers ``503 SlowDown`` under load and
``500 InternalError`` now and then, and checks ``x-amz-expected-bucket-owner``. This proxy
adds both, so that clients are tested at the HTTP level, as they meet S3:

    with S3FaultProxy(moto_url) as proxy:
        proxy.fail("UploadPart", [503, 500, 503])   # the next three UploadPart answers
        proxy.slow_down("CopyObject", 2.0)           # each CopyObject waits two seconds
        proxy.slow_down("ListObjectsV2", 3.0, prefix="team-a/")  # listings of that prefix
        ...  # point AWS_ENDPOINT_URL_S3 at proxy.url
        proxy.requests                               # every request: operation and headers
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_ERRORS = {503: ("SlowDown", "Please reduce your request rate."), 500: ("InternalError", "")}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class RecordedRequest:
    operation: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = field(repr=False, default=b"")


def s3_operation(method: str, path: str, headers: dict[str, str]) -> str:
    """The S3 operation of a path-style request, for the operations this project sends."""
    query = parse_qs(urlsplit(path).query, keep_blank_values=True)
    copy = "x-amz-copy-source" in headers
    has_key = "/" in urlsplit(path).path.strip("/")
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        if not has_key:
            return "CreateBucket"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "delete" in query:
            return "DeleteObjects"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "GET":
        return "GetObject" if has_key else "ListObjectsV2"
    return f"{method} {path}"


@dataclass
class _State:
    faults: dict[str, deque[int]] = field(default_factory=dict)
    #: (operation, listed prefix or None for every request of the operation) -> seconds
    delays: dict[tuple[str, str | None], float] = field(default_factory=dict)
    served: Counter[str] = field(default_factory=Counter)
    requests: list[RecordedRequest] = field(default_factory=list)
    bucket_owner: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class S3FaultProxy:
    """Forward S3 requests to ``upstream``; answer queued faults and owner mismatches itself."""

    def __init__(self, upstream: str, host: str = "127.0.0.1") -> None:
        self.upstream = urlsplit(upstream)
        self._host = host
        self.state = _State()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    def fail(self, operation: str, statuses: list[int]) -> None:
        """The next ``len(statuses)`` requests of ``operation`` are answered with these."""
        with self.state.lock:
            self.state.faults.setdefault(operation, deque()).extend(statuses)

    def slow_down(self, operation: str, seconds: float, prefix: str | None = None) -> None:
        """Every later request of ``operation`` waits ``seconds`` before it is forwarded; with
        ``prefix``, only the listings whose ``prefix`` parameter is exactly that."""
        with self.state.lock:
            self.state.delays[(operation, prefix)] = seconds

    def expect_bucket_owner(self, account_id: str | None) -> None:
        """Answer 403 AccessDenied, as S3 does, when a request names another bucket owner."""
        self.state.bucket_owner = account_id

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    @property
    def faults_served(self) -> Counter[str]:
        with self.state.lock:
            return Counter(self.state.served)

    def faults_pending(self) -> dict[str, int]:
        with self.state.lock:
            return {name: len(queue) for name, queue in self.state.faults.items() if queue}

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                headers = {name.lower(): value for name, value in self.headers.items()}
                length = int(headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = s3_operation(self.command, self.path, headers)
                state = proxy.state
                with state.lock:
                    state.requests.append(
                        RecordedRequest(operation, self.command, self.path, headers, body)
                    )
                    queue = state.faults.get(operation)
                    status = queue.popleft() if queue else None
                    listed = parse_qs(urlsplit(self.path).query).get("prefix", [None])[0]
                    delay = state.delays.get(
                        (operation, listed), state.delays.get((operation, None), 0.0)
                    )
                    if status:
                        state.served[operation] += 1
                owner = headers.get("x-amz-expected-bucket-owner")
                if (
                    status is None
                    and state.bucket_owner
                    and owner not in (None, state.bucket_owner)
                ):
                    status = 403
                if status is not None:
                    self._answer_error(status)
                    return
                time.sleep(delay)
                self._forward(body)

            def _answer_error(self, status: int) -> None:
                code, message = _ERRORS.get(status, ("AccessDenied", "Access Denied"))
                payload = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f"<Error><Code>{code}</Code><Message>{message}</Message>"
                    "<RequestId>fault-proxy</RequestId></Error>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _forward(self, body: bytes) -> None:
                upstream = http.client.HTTPConnection(
                    proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=60
                )
                try:
                    upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
                    response = upstream.getresponse()
                    payload = response.read()
                    self.send_response(response.status)
                    for name, value in response.getheaders():
                        if name.lower() not in _HOP_BY_HOP:
                            self.send_header(name, value)
                    length = (
                        response.getheader("Content-Length") if self.command == "HEAD" else None
                    )
                    self.send_header("Content-Length", length or str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler
