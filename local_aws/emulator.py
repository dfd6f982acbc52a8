"""The License Manager emulator: its state, the methods that control it, and its HTTP server.

The server answers the License Manager API on POST / (api.py) and the control endpoints under
/_emulator/ (control.py); both reach the state only through this class.
"""

from __future__ import annotations

import copy
from typing import Any

from local_aws.api import ApiSettings, LicenseManagerApi
from local_aws.arns import signing_service
from local_aws.control import CONTROL_PREFIX, handle_control
from local_aws.faults import CallCounter, FaultInjector
from local_aws.http_server import HttpRequest, HttpResponse, ThreadedHttpServer
from local_aws.operations import usage_resume_token
from local_aws.seeding import SeedSource, load_seed
from local_aws.store import Store
from local_aws.sts import IssuedCredentials, StsFront


class LicenseManagerEmulator:
    """Emulated AWS License Manager. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        seed: SeedSource | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size_cap: int = 100,
        isolate_accounts: bool = False,
    ) -> None:
        self._initial_settings = ApiSettings(
            page_size_cap=page_size_cap, isolate_accounts=isolate_accounts
        ).as_dict()
        self._initial_seed = load_seed(seed) if seed is not None else []
        self._settings = ApiSettings(**copy.deepcopy(self._initial_settings))
        self._store = Store()
        self._store.load(self._initial_seed, replace=True)
        self._faults = FaultInjector()
        self._calls = CallCounter()
        self._api = LicenseManagerApi(self._store, self._settings, self._faults, self._calls)
        self._sts = StsFront(self._api.assumed_keys, self._settings.denied_roles, self._calls)
        self._server = ThreadedHttpServer(self._route, host, port, name="license-manager-emulator")

    # ---- control ------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "configurations": self._store.count(),
            "scopes": self._store.scopes(),
        }

    def seed(self, source: SeedSource, *, replace: bool = True) -> int:
        """Load configurations (replacing all, or adding/overwriting by ARN); how many loaded.

        An invalid entry raises ValueError and changes nothing."""
        return self._store.load(load_seed(source), replace=replace)

    def reset(
        self, *, calls: bool = True, faults: bool = True, data: bool = True, settings: bool = True
    ) -> None:
        """Back to the start state: no calls counted (nor STS credentials remembered as issued),
        no faults, the initial seed and settings."""
        if calls:
            self._calls.reset()
            self._sts.forget_issued()
        if faults:
            self._faults.clear()
        if data:
            self._store.load(self._initial_seed, replace=True)
        if settings:
            self._settings.update(copy.deepcopy(self._initial_settings))

    def faults(self) -> dict[str, Any]:
        """The installed fault spec, with each fail-then-succeed rule's remaining failures."""
        return self._faults.state()

    def set_faults(self, spec: dict[str, Any] | None = None, **fields: Any) -> None:
        """Install a fault spec (see local_aws.faults); replaces the previous one."""
        self._faults.set({**(spec or {}), **fields})

    def clear_faults(self) -> None:
        self._faults.clear()

    def calls(self) -> dict[str, Any]:
        """{"total": n, "by_operation": {op: n}, "by_operation_arn": {op: {arn: n}}}"""
        return self._calls.snapshot()

    def call_count(self, operation: str | None = None, arn: str | None = None) -> int:
        """Calls of `operation` (any when None) naming `arn` (any when None)."""
        return self._calls.count(operation, arn)

    def reset_calls(self) -> None:
        self._calls.reset()

    def issued_credentials(self) -> list[IssuedCredentials]:
        """The temporary credentials of every AssumeRole granted through the STS front since the
        last reset of calls: for tests that look for them where they must not be."""
        return self._sts.issued()

    def settings(self) -> dict[str, Any]:
        return self._settings.as_dict()

    def update_settings(self, **changes: Any) -> None:
        """Change limits, the home account, account isolation, denied roles or failing scopes
        (see api.ApiSettings); ValueError when invalid."""
        self._settings.update(changes)

    def usage_token(
        self, arn: str, position: int, filters: list[dict[str, Any]] | None = None
    ) -> str:
        """A valid NextToken that resumes ListUsageForLicenseConfiguration at `position`."""
        return usage_resume_token(arn, position, filters)

    @property
    def sts_upstream(self) -> str | None:
        """moto's URL: STS requests signed for ``sts`` are forwarded there (local_aws.sts)."""
        return self._sts.upstream

    @sts_upstream.setter
    def sts_upstream(self, url: str | None) -> None:
        self._sts.upstream = url

    # ---- HTTP server --------------------------------------------------------------------------

    def _route(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return handle_control(self, request)
        if signing_service(request.headers.get("authorization")) == "sts":
            return self._sts.handle(request)
        if request.method == "POST" and request.path == "/":
            return self._api.handle(request)
        return HttpResponse.json(404, {"error": f"no route {request.method} {request.path}"})

    def start(self) -> LicenseManagerEmulator:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    def __enter__(self) -> LicenseManagerEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
