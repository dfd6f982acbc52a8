"""What `make demo` and `make ui` share: the demo's bucket, its deployment Variables, and its
consumption from day to day."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from local_aws.servers import DEFAULT_REGION, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, LocalAWS

ROOT = Path(__file__).resolve().parents[1]
LOCAL = ROOT / ".local"
BUCKET = "license-reports"
PREFIX = "reports/"
#: The role the demo assumes in each member account (the emulator's STS grants it).
ROLE_TEMPLATE = "arn:{partition}:iam::{account_id}:role/LicenseTrackingReader"


def demo_scopes(arns: list[str]) -> tuple[list[str], list[str]]:
    """The accounts and Regions of the demo configurations, sorted."""
    parts = [arn.split(":") for arn in arns]
    return sorted({p[4] for p in parts}), sorted({p[3] for p in parts})


def demo_variables(arns: list[str]) -> dict[str, str]:
    """The demo's settings as the Airflow Variables of the deployment (``AIRFLOW_VAR_*``).

    No ARN is listed: discovery finds them all, in every demo account and Region."""
    accounts, regions = demo_scopes(arns)
    return {
        "AIRFLOW_VAR_LICENSE_DISCOVERY_REGIONS": json.dumps(regions),
        "AIRFLOW_VAR_LICENSE_DISCOVERY_ACCOUNTS": json.dumps(accounts),
        "AIRFLOW_VAR_LICENSE_ACCOUNT_ROLE_ARN_TEMPLATE": ROLE_TEMPLATE,
        "AIRFLOW_VAR_LICENSE_REPORT_BUCKET": BUCKET,
        "AIRFLOW_VAR_LICENSE_REPORT_PREFIX": PREFIX,
    }


def daily_change(index: int) -> int:
    """How many licenses the demo's configuration number ``index`` gains each day (0 to 3)."""
    return (index + 3) % 4


def consumption_days_before(entries: list[dict[str, Any]], days: int) -> list[dict[str, Any]]:
    """The demo configurations as they were ``days`` days earlier: each had ``daily_change``
    licenses fewer in use per day (never fewer than none)."""
    return [
        {**entry, "ConsumedLicenses": max(0, entry["ConsumedLicenses"] - days * daily_change(i))}
        for i, entry in enumerate(entries)
    ]


def demo_s3(local_aws: LocalAWS) -> Any:
    """An S3 client of the local AWS."""
    return boto3.client(
        "s3",
        endpoint_url=local_aws.moto_url,
        region_name=DEFAULT_REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY,
        aws_secret_access_key=DUMMY_SECRET_KEY,
    )
