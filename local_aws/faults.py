"""Fault injection and call counting.

Fault spec (all keys optional; setting a spec replaces the previous one):

    {
      "latency_ms": 0,                # added to every API call
      "throttle_rate": 0.0,           # fraction of calls answered RateLimitExceededException
      "throttle_seed": 0,             # seeds the throttle draws (deterministic sequence)
      "fail_then_succeed": {          # per ARN: the first N calls naming it fail
        "<arn>": {"failures": 2, "error": "ServerInternalException"}
      },
      "permanent_errors": {           # per ARN ("*" = every call): always this error
        "<arn>": "AccessDeniedException"
      }
    }

Precedence: permanent error, then fail-then-succeed, then throttling. An ARN's failure
budget is shared by every operation that names it (LicenseConfigurationArn).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from local_aws.errors import ApiError, check_error_code

WILDCARD = "*"


def _check_number(spec: dict[str, Any], key: str, low: float, high: float | None) -> float:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{key} out of range")
    return float(value)


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.set({})

    def set(self, spec: dict[str, Any]) -> None:
        """Validate and install a fault spec (ValueError when invalid)."""
        if not isinstance(spec, dict):
            raise ValueError("a fault spec is an object")
        unknown = set(spec) - {
            "latency_ms",
            "throttle_rate",
            "throttle_seed",
            "fail_then_succeed",
            "permanent_errors",
        }
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        latency_ms = _check_number(spec, "latency_ms", 0, None)
        throttle_rate = _check_number(spec, "throttle_rate", 0, 1)
        seed = spec.get("throttle_seed", 0)
        failures: dict[str, dict[str, Any]] = {}
        for arn, rule in (spec.get("fail_then_succeed") or {}).items():
            count = rule.get("failures") if isinstance(rule, dict) else None
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ValueError(f"fail_then_succeed[{arn}].failures must be an integer >= 0")
            code = check_error_code(rule.get("error", "RateLimitExceededException"))
            failures[arn] = {"failures": count, "error": code, "remaining": count}
        permanent_spec = spec.get("permanent_errors") or {}
        permanent = {arn: check_error_code(code) for arn, code in permanent_spec.items()}
        with self._lock:
            self._latency = latency_ms / 1000
            self._throttle_rate = throttle_rate
            self._seed = seed
            self._rng = random.Random(seed)
            self._failures = failures
            self._permanent = permanent

    def clear(self) -> None:
        self.set({})

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "latency_ms": self._latency * 1000,
                "throttle_rate": self._throttle_rate,
                "throttle_seed": self._seed,
                "fail_then_succeed": {arn: dict(rule) for arn, rule in self._failures.items()},
                "permanent_errors": dict(self._permanent),
            }

    def decide(self, operation: str, arns: list[str]) -> tuple[float, ApiError | None]:
        """(seconds to sleep, error to answer instead of the real response, if any)."""
        with self._lock:
            for key in [*arns, WILDCARD]:
                if key in self._permanent:
                    code = self._permanent[key]
                    return self._latency, ApiError(code, f"Injected {code} for {operation}.")
            for arn in arns:
                rule = self._failures.get(arn)
                if rule and rule["remaining"] > 0:
                    rule["remaining"] -= 1
                    done = rule["failures"] - rule["remaining"]
                    message = f"Injected failure {done}/{rule['failures']} for {arn}."
                    return self._latency, ApiError(rule["error"], message)
            if self._throttle_rate and self._rng.random() < self._throttle_rate:
                return self._latency, ApiError("RateLimitExceededException", "Rate exceeded.")
            return self._latency, None


class CallCounter:
    """Calls per operation and per operation per ARN, injected errors included."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._by_operation: Counter[str] = Counter()
            self._by_arn: dict[str, Counter[str]] = {}

    def record(self, operation: str, arns: list[str]) -> None:
        with self._lock:
            self._by_operation[operation] += 1
            for arn in dict.fromkeys(arns):
                self._by_arn.setdefault(operation, Counter())[arn] += 1

    def count(self, operation: str | None = None, arn: str | None = None) -> int:
        with self._lock:
            if operation is None:
                if arn is None:
                    return sum(self._by_operation.values())
                return sum(c[arn] for c in self._by_arn.values())
            if arn is None:
                return self._by_operation[operation]
            return self._by_arn.get(operation, Counter())[arn]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._by_operation.values()),
                "by_operation": dict(self._by_operation),
                "by_operation_arn": {op: dict(c) for op, c in self._by_arn.items()},
            }
