"""AWS JSON 1.1 errors, with status codes taken from botocore's service model."""

from __future__ import annotations

from functools import cache

from botocore.model import ServiceModel
from botocore.session import get_session

SERVICE_NAME = "license-manager"

# Errors the emulator can answer with that the service model does not declare.
_PROTOCOL_ERRORS = {
    "UnknownOperationException": 400,
    "SerializationException": 400,
    # What AWS answers in a Region that is not enabled for the caller's account.
    "UnrecognizedClientException": 400,
}


@cache
def service_model() -> ServiceModel:
    return get_session().get_service_model(SERVICE_NAME)


@cache
def status_for(code: str) -> int:
    """HTTP status for an error code: the model's `error.httpStatusCode`, else 500 for
    faults (server errors) and 400 for client errors."""
    if code in _PROTOCOL_ERRORS:
        return _PROTOCOL_ERRORS[code]
    shape = service_model().shape_for(code)
    if not shape.metadata.get("exception"):
        raise KeyError(code)
    error = shape.metadata.get("error") or {}
    if "httpStatusCode" in error:
        return int(error["httpStatusCode"])
    # Shape.metadata drops the `fault` trait; the raw shape model keeps it.
    return 500 if shape._shape_model.get("fault") else 400


def known_error_codes() -> set[str]:
    model = service_model()
    codes = {s.name for s in model.error_shapes}
    return codes | set(_PROTOCOL_ERRORS)


class ApiError(Exception):
    """An error answered to the client in the JSON 1.1 error shape."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status_for(code)

    def body(self) -> dict[str, str]:
        return {"__type": self.code, "Message": self.message}


def check_error_code(code: str) -> str:
    """Validate an error code chosen for fault injection."""
    try:
        status_for(code)
    except Exception as exc:
        raise ValueError(f"unknown License Manager error code: {code!r}") from exc
    return code
