"""STS in front of moto: AssumeRole with roles that can be denied, and whose keys are remembered.

moto serves STS but never refuses an AssumeRole (a role need not exist, no trust policy is
checked). This front forwards every STS request to moto unchanged, except an AssumeRole of a
role seeded as denied, which it answers as AWS does (403 AccessDenied). From each AssumeRole
that moto grants it remembers the new access key's account, so that the License Manager API
knows the caller of a request signed with those credentials, and the temporary credentials
themselves (``issued``), so that a test can look for them where they must not be. Its calls
are counted with the emulator's, as ``sts:<Action>`` (keyed by the role ARN for AssumeRole).
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, unescape

from local_aws.faults import CallCounter
from local_aws.http_server import HttpRequest, HttpResponse

_ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_SECRET_KEY = re.compile(rb"<SecretAccessKey>([^<]+)</SecretAccessKey>")
_SESSION_TOKEN = re.compile(rb"<SessionToken>([^<]+)</SessionToken>")
_ASSUMED_ARN = re.compile(rb"<Arn>arn:[^:]+:sts::(\d{12}):assumed-role/")
#: Headers that are the transport's, not the request's.
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


class AccessKeyAccounts:
    """Access key id -> account of credentials handed out by AssumeRole."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, str] = {}

    def record(self, access_key: str, account: str) -> None:
        with self._lock:
            self._accounts[access_key] = account

    def account_of(self, access_key: str) -> str | None:
        with self._lock:
            return self._accounts.get(access_key)


@dataclass(frozen=True)
class IssuedCredentials:
    """Temporary credentials that an AssumeRole answered with, and the lifetime asked for."""

    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    duration_seconds: int

    @property
    def secrets(self) -> tuple[str, str, str]:
        return (self.access_key_id, self.secret_access_key, self.session_token)


def _issued(role_arn: str, duration_seconds: int, body: bytes) -> IssuedCredentials | None:
    matches = [pattern.search(body) for pattern in (_ACCESS_KEY, _SECRET_KEY, _SESSION_TOKEN)]
    values = [unescape(match[1].decode()) for match in matches if match]
    if len(values) != len(matches):
        return None
    key, secret, token = values
    return IssuedCredentials(role_arn, key, secret, token, duration_seconds)


def _denied(role_arn: str) -> HttpResponse:
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<Error><Type>Sender</Type><Code>AccessDenied</Code>"
        f"<Message>User is not authorized to perform: sts:AssumeRole on resource: "
        f"{escape(role_arn)}</Message></Error><RequestId>denied</RequestId></ErrorResponse>"
    ).encode()
    return HttpResponse(403, {"Content-Type": "text/xml"}, body)


class StsFront:
    """Answers STS requests by forwarding them to ``upstream`` (moto's server)."""

    def __init__(
        self, accounts: AccessKeyAccounts, denied_roles: list[str], calls: CallCounter
    ) -> None:
        self._accounts = accounts
        self._denied_roles = denied_roles
        self._calls = calls
        self._issued: list[IssuedCredentials] = []
        self._lock = threading.Lock()
        self.upstream: str | None = None

    def issued(self) -> list[IssuedCredentials]:
        """The credentials of every AssumeRole granted since the last ``forget_issued``."""
        with self._lock:
            return list(self._issued)

    def forget_issued(self) -> None:
        """Forget the issued credentials (their accounts stay known: the keys stay valid)."""
        with self._lock:
            self._issued.clear()

    def handle(self, request: HttpRequest) -> HttpResponse:
        form = urllib.parse.parse_qs(request.body.decode("utf-8", "replace"))
        action = form.get("Action", [""])[0]
        role_arn = form.get("RoleArn", [""])[0]
        self._calls.record(f"sts:{action or '<none>'}", [role_arn] if role_arn else [])
        if action == "AssumeRole" and role_arn in self._denied_roles:
            return _denied(role_arn)
        if self.upstream is None:
            return HttpResponse.json(503, {"error": "no STS upstream (moto) is configured"})
        response = self._forward(request)
        if action == "AssumeRole" and response.status == 200:
            # STS's own default when a caller does not ask: one hour
            duration = int(form.get("DurationSeconds", ["3600"])[0])
            self._remember(role_arn, duration, response.body)
        return response

    def _remember(self, role_arn: str, duration_seconds: int, body: bytes) -> None:
        key, account = _ACCESS_KEY.search(body), _ASSUMED_ARN.search(body)
        if key and account:
            self._accounts.record(key[1].decode(), account[1].decode())
        issued = _issued(role_arn, duration_seconds, body)
        if issued is not None:
            with self._lock:
                self._issued.append(issued)

    def _forward(self, request: HttpRequest) -> HttpResponse:
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_HEADERS}
        forwarded = urllib.request.Request(
            f"{self.upstream}{request.path}", request.body, headers, method=request.method
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=30) as answer:  # noqa: S310 - local
                return HttpResponse(answer.status, _end_to_end(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, _end_to_end(error.headers), error.read())


def _end_to_end(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS | {"server", "date"}}
