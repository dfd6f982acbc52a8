"""Imports and botocore data for a process that forks task processes, loaded once.

Every mapped task runs in a fresh process. Without a warm parent each one imports what the
DAG file imports (Airflow's task decorators among it), boto3, the amazon provider's hooks and
this package, parses botocore's endpoint data and the License Manager and S3 models, and
discovers the providers' asset URI handlers for the hook lineage of its first S3 write. The
plugin imports this module when ``[license_manager] preload`` is on; with
``[core] lazy_load_plugins = False`` that happens as each Airflow process starts, so executor
workers and the task processes they fork inherit all of it (deploy/airflow.env):

    AIRFLOW__CORE__LAZY_LOAD_PLUGINS=false
    AIRFLOW__LICENSE_MANAGER__PRELOAD=true

docs/performance.md has what it saves a task. Importing it has no other effect; nothing is
sent to AWS.
"""

from __future__ import annotations

import boto3.s3.transfer  # noqa: F401 - the report's uploads and copies

# What the DAG file imports: a task process parses it before it runs its task. ``task`` loads
# Airflow's task decorators and the standard provider's Python operators behind them.
from airflow.sdk import DAG, TriggerRule, task  # noqa: F401

import license_manager.alerts  # noqa: F401
import license_manager.assets  # noqa: F401
import license_manager.discovery  # noqa: F401
import license_manager.operators  # noqa: F401
import license_manager.pipeline  # noqa: F401
import license_manager.report_writer  # noqa: F401 - what the fetch and write tasks import
import license_manager.retries  # noqa: F401 - what a fetch task imports when it runs
import license_manager.schedule  # noqa: F401
import license_manager.settings  # noqa: F401
from license_manager.compat import ProvidersAssetManager
from license_manager.hooks import LicenseManagerHook  # noqa: F401
from license_manager.sessions import load_botocore_data

load_botocore_data()
# The S3 hooks report what they write to Airflow's hook lineage. A process's first report
# discovers every provider's asset URI handlers, importing their modules: once per fetch task
# without this line, once per forking process with it.
ProvidersAssetManager().asset_factories  # noqa: B018
