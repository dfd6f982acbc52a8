"""Configurations kept per (account, Region)."""

from __future__ import annotations

import threading
from typing import Any

from local_aws.seeding import StoredConfiguration, build_configuration


class Store:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (account, region) -> {arn: configuration}, in seeding order
        self._scopes: dict[tuple[str, str], dict[str, StoredConfiguration]] = {}

    def load(self, entries: list[dict[str, Any]], *, replace: bool) -> int:
        """Add (or replace everything with) validated entries; returns how many were loaded."""
        built = [build_configuration(entry) for entry in entries]  # all valid before any change
        with self._lock:
            if replace:
                self._scopes = {}
            for config in built:
                scope = self._scopes.setdefault((config.arn.account, config.arn.region), {})
                scope[config.arn.arn] = config
        return len(built)

    def get(self, arn: str, region: str) -> StoredConfiguration | None:
        """The configuration if it lives in `region` (any account may read it)."""
        with self._lock:
            for (_, scope_region), configs in self._scopes.items():
                if scope_region == region and arn in configs:
                    return configs[arn]
        return None

    def list_scope(self, account: str, region: str) -> list[StoredConfiguration]:
        with self._lock:
            return list(self._scopes.get((account, region), {}).values())

    def count(self) -> int:
        with self._lock:
            return sum(len(configs) for configs in self._scopes.values())

    def scopes(self) -> dict[str, int]:
        with self._lock:
            return {f"{a}/{r}": len(c) for (a, r), c in self._scopes.items()}
