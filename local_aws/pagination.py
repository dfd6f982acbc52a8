"""Opaque NextTokens bound to the request they continue."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from local_aws.errors import ApiError


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def encode_token(position: int, print_: str) -> str:
    raw = json.dumps({"p": position, "f": print_}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: Any, print_: str) -> int:
    """The position a token resumes from; InvalidParameterValueException when it is not ours."""
    if token is None:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, token_print = data["p"], data["f"]
    except (TypeError, ValueError, KeyError, AttributeError):
        position, token_print = None, None
    if token_print != print_ or not isinstance(position, int) or position < 0:
        raise ApiError("InvalidParameterValueException", "The NextToken is not valid.")
    return position
