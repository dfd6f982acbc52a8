"""Seed data: loading, validation against the service model, and synthetic builders.

A seed is a JSON list of configurations (or {"configurations": [...]}). Each one holds
GetLicenseConfiguration response members (LicenseConfigurationArn required, every other
member optional) plus emulator keys:

- ``usage``: explicit LicenseConfigurationUsage records, or
- ``usage_count``: N records generated on demand (see ``usage.GeneratedUsage``), with
  optional ``usage_owner_accounts`` (default: the configuration's account) and
  ``usage_start_time`` (epoch seconds or ISO 8601).

Timestamps may be epoch seconds or ISO 8601 strings; the emulator answers epoch seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import validate_parameters

from local_aws.arns import ConfigArn, parse_config_arn
from local_aws.errors import service_model
from local_aws.usage import DEFAULT_START_TIME, ExplicitUsage, GeneratedUsage, UsageSource

DEMO_SEED_PATH = Path(__file__).parent / "seeds" / "demo.json"
# A seed file's path, its parsed list of configurations, or {"configurations": [...]}.
SeedSource = str | Path | list[dict[str, Any]] | dict[str, Any]
EMULATOR_KEYS = {"usage", "usage_count", "usage_owner_accounts", "usage_start_time"}


@dataclass
class StoredConfiguration:
    arn: ConfigArn
    members: dict[str, Any]  # GetLicenseConfiguration members, wire form
    usage: UsageSource


def _get_shape() -> Shape:
    return service_model().operation_model("GetLicenseConfiguration").output_shape


def _usage_shape() -> Shape:
    return service_model().shape_for("LicenseConfigurationUsage")


def to_epoch(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    raise ValueError(f"not a timestamp: {value!r}")


def _to_wire(value: Any, shape: Shape, path: str) -> Any:
    """Convert timestamps to epoch seconds and reject members the shape does not have."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object")
        unknown = set(value) - set(shape.members)
        if unknown:
            raise ValueError(f"{path}: unknown members {sorted(unknown)}")
        return {k: _to_wire(v, shape.members[k], f"{path}.{k}") for k, v in value.items()}
    if shape.type_name == "list":
        if not isinstance(value, list):
            raise ValueError(f"{path}: expected a list")
        return [_to_wire(v, shape.member, f"{path}[{i}]") for i, v in enumerate(value)]
    if shape.type_name == "timestamp":
        return to_epoch(value)
    return value


def _validate(value: dict[str, Any], shape: Shape, path: str) -> None:
    try:
        validate_parameters(value, shape)
    except ParamValidationError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def build_configuration(entry: dict[str, Any]) -> StoredConfiguration:
    """Validate one seed entry and turn it into the stored form. Raises ValueError."""
    if not isinstance(entry, dict):
        raise ValueError("a seed configuration must be an object")
    raw_arn = entry.get("LicenseConfigurationArn")
    arn = parse_config_arn(raw_arn)
    if arn is None:
        raise ValueError(f"invalid LicenseConfigurationArn: {raw_arn!r}")
    path = arn.arn
    members = {k: v for k, v in entry.items() if k not in EMULATOR_KEYS}
    if isinstance(members.get("LicenseExpiry"), str):  # a long, but ISO is friendlier in seeds
        members["LicenseExpiry"] = int(to_epoch(members["LicenseExpiry"]))
    members = _to_wire(members, _get_shape(), path)
    _validate(members, _get_shape(), path)

    if "usage" in entry and "usage_count" in entry:
        raise ValueError(f"{path}: give either usage or usage_count, not both")
    usage: UsageSource
    if "usage_count" in entry:
        count = entry["usage_count"]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ValueError(f"{path}: usage_count must be a non-negative integer")
        usage = GeneratedUsage(
            count,
            region=arn.region,
            partition=arn.partition,
            owner_accounts=entry.get("usage_owner_accounts") or [arn.account],
            counting_type=members.get("LicenseCountingType", "vCPU"),
            start_time=int(to_epoch(entry.get("usage_start_time", DEFAULT_START_TIME))),
            id_offset=int(arn.config_id[4:], 16),
        )
    else:
        records = entry.get("usage", [])
        if not isinstance(records, list):
            raise ValueError(f"{path}: usage must be a list")
        wire = [_to_wire(r, _usage_shape(), f"{path}.usage[{i}]") for i, r in enumerate(records)]
        for i, record in enumerate(wire):
            _validate(record, _usage_shape(), f"{path}.usage[{i}]")
        usage = ExplicitUsage(wire)
    return StoredConfiguration(arn, members, usage)


def load_seed(source: SeedSource) -> list[dict[str, Any]]:
    """The seed's configuration entries (validated later, by build_configuration)."""
    data = json.loads(Path(source).read_text()) if isinstance(source, str | Path) else source
    if isinstance(data, dict):
        data = data.get("configurations")
    if not isinstance(data, list):
        raise ValueError("a seed is a list of configurations or {'configurations': [...]}")
    return data


def _summaries(
    records: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    consumed: dict[str, int] = {}
    managed: dict[str, int] = {}
    for record in records:
        rtype = record.get("ResourceType", "EC2_INSTANCE")
        consumed[rtype] = consumed.get(rtype, 0) + int(record.get("ConsumedLicenses", 0))
        managed[rtype] = managed.get(rtype, 0) + 1
    return (
        [{"ResourceType": t, "ConsumedLicenses": n} for t, n in consumed.items()],
        [{"ResourceType": t, "AssociationCount": n} for t, n in managed.items()],
        sum(consumed.values()),
    )


def make_configuration(
    arn: str,
    *,
    name: str | None = None,
    counting_type: str = "vCPU",
    license_count: int | None = None,
    hard_limit: bool = False,
    usage_count: int | None = None,
    usage: list[dict[str, Any]] | None = None,
    owner_accounts: list[str] | None = None,
    description: str | None = None,
    status: str = "AVAILABLE",
    tags: dict[str, str] | None = None,
    **members: Any,
) -> dict[str, Any]:
    """A complete seed entry with consistent summaries; extra kwargs are response members."""
    parsed = parse_config_arn(arn)
    if parsed is None:
        raise ValueError(f"invalid LicenseConfigurationArn: {arn!r}")
    entry: dict[str, Any] = {
        "LicenseConfigurationId": parsed.config_id,
        "LicenseConfigurationArn": arn,
        "Name": name or f"config-{parsed.config_id[4:12]}",
        "Description": description or f"Synthetic {counting_type} license configuration",
        "LicenseCountingType": counting_type,
        "LicenseRules": [],
        "LicenseCountHardLimit": hard_limit,
        "Status": status,
        "OwnerAccountId": parsed.account,
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        "ProductInformationList": [],
        "DisassociateWhenNotFound": False,
    }
    if usage is not None and usage_count is not None:
        raise ValueError("give either usage or usage_count, not both")
    if usage_count is not None:
        entry["usage_count"] = usage_count
        if owner_accounts:
            entry["usage_owner_accounts"] = list(owner_accounts)
        generated = GeneratedUsage(
            usage_count,
            region=parsed.region,
            partition=parsed.partition,
            owner_accounts=owner_accounts or [parsed.account],
            counting_type=counting_type,
        )
        consumed, managed, total = generated.summaries()
    else:
        entry["usage"] = list(usage or [])
        consumed, managed, total = _summaries(entry["usage"])
    entry["ConsumedLicenses"] = total
    entry["LicenseCount"] = license_count if license_count is not None else total + 100
    entry["ConsumedLicenseSummaryList"] = consumed
    entry["ManagedResourceSummaryList"] = managed
    entry.update(members)
    return entry
