"""What a mapped task learnt about one license configuration, staged as JSON for the writer.

The writer turns each outcome into a summary row and a manifest entry.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from license_manager.csv_schema import to_json, utilization_percent

#: The error of a configuration whose task left no outcome (killed, or never ran).
NOT_RECORDED = "no result was recorded: the task did not finish (see its log in Airflow)"


@dataclass
class FileRecord:
    """One file of the report set as the manifest lists it."""

    key: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class ConfigurationOutcome:
    """One ARN's result: ``status`` is ``ok``, ``failed`` or ``invalid``."""

    arn: str
    region: str = ""
    account_id: str = ""
    configuration_id: str = ""
    status: str = "failed"
    error: str | None = None
    configuration: dict[str, Any] = field(default_factory=dict)
    usage: FileRecord | None = None
    #: The usage file itself when it is small enough to travel inside the outcome (see
    #: ``report_writer.INLINE_USAGE_BYTES``); otherwise it is staged at ``usage.key``.
    usage_csv: str | None = None
    collected_at: str | None = None
    source: str = "listed"  # or "discovered"

    def to_json(self) -> str:
        return to_json(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> ConfigurationOutcome:
        data = json.loads(text)
        usage = data.pop("usage", None)
        return cls(**data, usage=FileRecord(**usage) if usage else None)

    def summary_record(self, usage_file: str | None) -> dict[str, Any]:
        details = self.configuration
        return {
            **details,
            "Region": self.region,
            "AccountId": self.account_id,
            "LicenseConfigurationArn": self.arn,
            "LicenseConfigurationId": details.get("LicenseConfigurationId")
            or self.configuration_id,
            "UtilizationPercent": utilization_percent(
                details.get("ConsumedLicenses"), details.get("LicenseCount")
            ),
            "UsageRecordCount": self.usage.rows if self.usage else None,
            "UsageFile": usage_file,
            "CollectedAt": self.collected_at,
            "Error": self.error,
            "Source": self.source,
        }

    def manifest_entry(self, usage_file: str | None) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "region": self.region,
            "account_id": self.account_id,
            "status": self.status,
            "error": self.error,
            "usage_file": usage_file,
            "usage_records": self.usage.rows if self.usage else None,
            "consumed_licenses": self.configuration.get("ConsumedLicenses"),
            "license_count": self.configuration.get("LicenseCount"),
            "source": self.source,
        }
