"""Usage records of a configuration: an explicit list, or records generated from their index.

Generated usage never materialises its records: record i is a pure function of i, so a
configuration with 1,000,000 records costs a few integers of memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

# Generated records repeat their resource type and license consumption every CYCLE records,
# which lets summaries be computed in closed form.
CYCLE = 20
DEFAULT_START_TIME = 1_704_067_200  # 2024-01-01T00:00:00Z
_TYPES = ["EC2_INSTANCE"] * 14 + ["EC2_HOST"] * 2 + ["SYSTEMS_MANAGER_MANAGED_INSTANCE"] * 3
_TYPES.append("RDS")
# Licenses consumed per record by counting type; every length divides CYCLE.
_CONSUMED = {"vCPU": (2, 4, 8, 16, 4), "Core": (2, 4, 8, 16), "Socket": (1, 2), "Instance": (1,)}
_ID_SPACE = 16**17
_ID_STEP = 0x9E3779B97F4A7C15 % _ID_SPACE | 1  # odd, so i -> id is a bijection


class UsageSource(Protocol):
    def __len__(self) -> int: ...

    def record(self, index: int) -> dict[str, Any]: ...


class ExplicitUsage:
    def __init__(self, records: Sequence[dict[str, Any]]) -> None:
        self._records = list(records)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, index: int) -> dict[str, Any]:
        return dict(self._records[index])


class GeneratedUsage:
    """`count` deterministic records for the configuration in `region`/`partition`."""

    def __init__(
        self,
        count: int,
        *,
        region: str,
        partition: str,
        owner_accounts: Sequence[str],
        counting_type: str = "vCPU",
        start_time: int = DEFAULT_START_TIME,
        id_offset: int = 0,
    ) -> None:
        if count < 0:
            raise ValueError("usage_count must be >= 0")
        if not owner_accounts:
            raise ValueError("owner_accounts must not be empty")
        self.count = count
        self.region = region
        self.partition = partition
        self.owner_accounts = tuple(owner_accounts)
        self.consumed = _CONSUMED.get(counting_type, (1,))
        self.start_time = start_time
        self.id_offset = id_offset % _ID_SPACE

    def __len__(self) -> int:
        return self.count

    def record(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.count:
            raise IndexError(index)
        position = index % CYCLE
        resource_type = _TYPES[position]
        owner = self.owner_accounts[index % len(self.owner_accounts)]
        suffix = f"{(self.id_offset + index * _ID_STEP) % _ID_SPACE:017x}"
        prefix = f"arn:{self.partition}"
        if resource_type == "EC2_INSTANCE":
            arn = f"{prefix}:ec2:{self.region}:{owner}:instance/i-{suffix}"
            status = "stopped" if position == 7 else "running"
        elif resource_type == "EC2_HOST":
            arn = f"{prefix}:ec2:{self.region}:{owner}:dedicated-host/h-{suffix}"
            status = "available"
        elif resource_type == "RDS":
            arn = f"{prefix}:rds:{self.region}:{owner}:db:db-{suffix}"
            status = "available"
        else:
            arn = f"{prefix}:ssm:{self.region}:{owner}:managed-instance/mi-{suffix}"
            status = "Online"
        return {
            "ResourceArn": arn,
            "ResourceType": resource_type,
            "ResourceStatus": status,
            "ResourceOwnerId": owner,
            "AssociationTime": self.start_time + index * 60,
            "ConsumedLicenses": self.consumed[position % len(self.consumed)],
        }

    def summaries(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
        """(ConsumedLicenseSummaryList, ManagedResourceSummaryList, total consumed), exact."""
        full, rest = divmod(self.count, CYCLE)
        consumed: dict[str, int] = {}
        managed: dict[str, int] = {}
        for position, resource_type in enumerate(_TYPES):
            times = full + (1 if position < rest else 0)
            if not times:
                continue
            per_record = self.consumed[position % len(self.consumed)]
            consumed[resource_type] = consumed.get(resource_type, 0) + times * per_record
            managed[resource_type] = managed.get(resource_type, 0) + times
        return (
            [{"ResourceType": t, "ConsumedLicenses": n} for t, n in consumed.items()],
            [{"ResourceType": t, "AssociationCount": n} for t, n in managed.items()],
            sum(consumed.values()),
        )


def iter_records(source: UsageSource, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Lazily yield (index, record) from `start`."""
    for index in range(start, len(source)):
        yield index, source.record(index)
