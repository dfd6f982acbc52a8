"""The asset the DAG updates each time it writes a report set.

A downstream DAG scheduled on it (``schedule=[LICENSE_CONSUMPTION_REPORT]``) runs after each
report set lands; the event's ``extra`` holds ``report_folder`` (``s3://bucket/key/``),
``run_timestamp``, and the counts ``configurations``, ``not_collected`` and
``near_or_over_limit``.
"""

from __future__ import annotations

from airflow.sdk import Asset

LICENSE_CONSUMPTION_REPORT = Asset(name="license_consumption_report")
