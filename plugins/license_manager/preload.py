"""Imports and botocore data for a process that forks task processes, loaded once.

Every mapped task runs in a fresh process. Without a warm parent each one imports boto3, the
amazon provider's hooks and this package, and parses botocore's endpoint data and the License
Manager and S3 models: about 0.4 CPU-seconds per task, more than the task's own work. Naming
this module in the LocalExecutor's forkserver preload moves that cost to the forkserver, once:

    AIRFLOW__SCHEDULER__MP_START_METHOD=forkserver
    AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD=airflow.sdk.execution_time.supervisor,airflow.sdk.execution_time.task_runner,license_manager.preload

Importing it has no other effect; nothing is sent to AWS.
"""

from __future__ import annotations

import boto3.s3.transfer  # noqa: F401 - the report's uploads and copies

import license_manager.operators  # noqa: F401 - what the DAG file imports
import license_manager.pipeline  # noqa: F401
from license_manager.hooks import load_botocore_data

load_botocore_data()
