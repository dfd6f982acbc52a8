"""The License Manager API as AWS serves it: JSON 1.1 requests on POST /, the operation named by
X-Amz-Target, errors in the JSON 1.1 shape. Every call is counted and may meet an injected fault.

Adding an operation: implement it in operations.py and add it to OPERATIONS below.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from local_aws import operations
from local_aws.arns import DEFAULT_ACCOUNT, caller_from_authorization
from local_aws.errors import ApiError
from local_aws.faults import CallCounter, FaultInjector
from local_aws.http_server import HttpRequest, HttpResponse
from local_aws.operations import Context, Operation
from local_aws.store import Store
from local_aws.sts import AccessKeyAccounts

TARGET_PREFIX = "AWSLicenseManager."
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"

# The operations the emulator answers, by their X-Amz-Target name; any other is
# UnknownOperationException, as the real service answers an operation it does not have.
OPERATIONS: dict[str, Operation] = {
    "GetLicenseConfiguration": operations.get_license_configuration,
    "ListLicenseConfigurations": operations.list_license_configurations,
    "ListUsageForLicenseConfiguration": operations.list_usage_for_license_configuration,
}


@dataclass
class ApiSettings:
    """Limits and defaults of the emulated service, changeable at run time."""

    page_size_cap: int = 100
    default_account: str = DEFAULT_ACCOUNT  # the caller's account when its key is not 12 digits
    max_filters: int = 10
    max_filter_values: int = 10
    #: As AWS: a caller reads only its own account's configurations (AccessDeniedException).
    isolate_accounts: bool = False
    #: Role ARNs whose AssumeRole answers AccessDenied (missing roles, roles that do not trust us).
    denied_roles: list[str] = field(default_factory=list)
    #: "account/region" -> the error every License Manager call there answers:
    #: UnrecognizedClientException (Region not enabled) or AccessDeniedException.
    scope_errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Validate every change, then apply them all (ValueError when one is invalid)."""
        for key, value in changes.items():
            if key not in self.as_dict():
                raise ValueError(f"unknown setting: {key}")
            _check_setting(key, value)
        for key, value in changes.items():
            if key == "denied_roles":  # the STS front holds this list: change it in place
                self.denied_roles[:] = value
            else:
                setattr(self, key, value)


SCOPE_ERRORS = {
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "AccessDeniedException": "User is not authorized to perform this License Manager action.",
}


def _check_setting(key: str, value: Any) -> None:
    if key == "default_account":
        if not (isinstance(value, str) and value.isdigit() and len(value) == 12):
            raise ValueError("default_account must be 12 digits")
    elif key == "isolate_accounts":
        if not isinstance(value, bool):
            raise ValueError("isolate_accounts must be true or false")
    elif key == "denied_roles":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError("denied_roles must be a list of role ARNs")
    elif key == "scope_errors":
        if not isinstance(value, dict) or any(
            not isinstance(scope, str) or scope.count("/") != 1 or code not in SCOPE_ERRORS
            for scope, code in value.items()
        ):
            raise ValueError(
                "scope_errors maps 'account/region' to one of " + ", ".join(SCOPE_ERRORS)
            )
    elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{key} must be a positive integer")


def _call_arns(params: Any) -> list[str]:
    """The configuration ARNs a call names: what faults and call counts are keyed by."""
    if not isinstance(params, dict):
        return []
    arn = params.get("LicenseConfigurationArn")
    arns = params.get("LicenseConfigurationArns")
    names = [arn] if isinstance(arn, str) else []
    if isinstance(arns, list):
        names += [a for a in arns if isinstance(a, str)]
    return names


def _parse_params(body: bytes) -> Any:
    """The request's JSON; None when the body is not JSON."""
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return None


def _response(status: int, payload: dict[str, Any], error_type: str | None = None) -> HttpResponse:
    headers = {"Content-Type": JSON_CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}
    if error_type is not None:
        headers["x-amzn-ErrorType"] = error_type
    return HttpResponse(status, headers, json.dumps(payload).encode())


class LicenseManagerApi:
    """Answers License Manager API requests from the emulator's store, settings and faults."""

    def __init__(
        self, store: Store, settings: ApiSettings, faults: FaultInjector, calls: CallCounter
    ) -> None:
        self._store = store
        self._settings = settings
        self._faults = faults
        self._calls = calls
        self.assumed_keys = AccessKeyAccounts()

    def handle(self, request: HttpRequest) -> HttpResponse:
        target = request.headers.get("x-amz-target", "")
        name = target.removeprefix(TARGET_PREFIX)
        params = _parse_params(request.body)
        arns = _call_arns(params)
        self._calls.record(name or "<none>", arns)
        delay, injected = self._faults.decide(name, arns)
        if delay:
            time.sleep(delay)
        try:
            operation = OPERATIONS.get(name) if target.startswith(TARGET_PREFIX) else None
            if operation is None:
                raise ApiError(
                    "UnknownOperationException", f"Unknown or unsupported operation: {target!r}"
                )
            if injected is not None:
                raise injected
            if not isinstance(params, dict):
                raise ApiError("SerializationException", "The request body is not a JSON object.")
            context = self._context(request)
            scope_error = self._settings.scope_errors.get(f"{context.account}/{context.region}")
            if scope_error is not None:
                raise ApiError(scope_error, SCOPE_ERRORS[scope_error])
            return _response(200, operation(params, context))
        except ApiError as error:
            return _response(error.status, error.body(), error.code)

    def _context(self, request: HttpRequest) -> Context:
        """Who calls, in which Region (from the SigV4 credential scope), with which limits."""
        account, region = caller_from_authorization(
            request.headers.get("authorization"),
            self._settings.default_account,
            self.assumed_keys.account_of,
        )
        return Context(
            account,
            region,
            self._store,
            self._settings.page_size_cap,
            self._settings.max_filters,
            self._settings.max_filter_values,
            self._settings.isolate_accounts,
        )
