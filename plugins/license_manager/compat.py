"""Every difference between the Airflow versions this package supports, in one place.

The package declares ``apache-airflow>=3.1,<4``. Names that moved between minors are imported
here, newest location first, and the rest of the package imports them from this module. A
feature that only a newer Airflow had would be detected here at run time and switched off with
a log message, never an import error; none is needed today, as everything the package uses
exists in 3.1 (3.0 is not declared: it has no plugin external views, which give the page its
navigation entry, and the matrix does not run it).
tests/test_compat.py fails when one of the locations below stops being where the installed
Airflow keeps the name; ``make test-compat-all`` runs the DAG and the page on the newest patch
of every supported minor.

The reaches into private parts of the amazon provider and boto3 (faster sessions, the caller
lookup) are in ``license_manager.provider_compat``, each with its own test.

What moved (the newer location first):

- ``AirflowFailException``, ``AirflowNotFoundException``: ``airflow.sdk.exceptions`` since 3.2,
  ``airflow.exceptions`` before (3.2 and later keep it there as a deprecated alias of the same
  class, with a warning on each import).
- ``AirflowPlugin``: ``airflow.sdk.plugins_manager`` since 3.2, ``airflow.plugins_manager``
  before.
- ``get_hook_lineage_collector``: ``airflow.sdk.lineage`` since 3.2, ``airflow.lineage.hook``
  before (the provider's own hooks go through the same pair, in
  ``airflow.providers.common.compat.lineage.hook``).
- The providers' asset URI handlers that the hook lineage collector reads (``asset_factories``):
  ``airflow.sdk.providers_manager_runtime.ProvidersManagerTaskRuntime`` since 3.2,
  ``airflow.providers_manager.ProvidersManager`` before (``ProvidersAssetManager`` here).
- ``retry_exponential_backoff``: a multiplier (float) since 3.2, a bool before; ``True`` means
  "double the delay after each try" in both (3.2 and later read ``True`` as 2.0), so the DAG
  passes ``EXPONENTIAL_RETRY_BACKOFF``. 3.1 refuses a float there (``TypeError``).
- ``dag.test()`` gives failure callbacks the task's exception (``context["exception"]``) from
  3.3 on; its in-process supervisor leaves it out before. A deployment's task runner sets it in
  every supported minor, so only the tests look at ``DAG_TEST_CALLBACKS_GET_THE_EXCEPTION``.
- ``conf`` for task code: ``airflow.sdk.configuration`` since 3.2, ``airflow.configuration``
  before (the same parser in 3.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import airflow
from packaging.version import Version

if TYPE_CHECKING:
    from airflow.configuration import AirflowConfigParser

#: The installed Airflow's version (a pre-release counts as its final release).
AIRFLOW_VERSION = Version(Version(airflow.__version__).base_version)
#: The oldest Airflow that the package declares and the matrix tests.
MINIMUM_AIRFLOW = Version("3.1.0")

try:
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[assignment,no-redef,unused-ignore]
        AirflowFailException,
        AirflowNotFoundException,
    )

try:
    from airflow.sdk.plugins_manager import AirflowPlugin
except ImportError:  # Airflow 3.1
    from airflow.plugins_manager import (  # type: ignore[assignment,no-redef,unused-ignore]
        AirflowPlugin,
    )

try:
    from airflow.sdk.lineage import get_hook_lineage_collector
except ImportError:  # Airflow 3.1
    from airflow.lineage.hook import (  # type: ignore[import-not-found,no-redef,unused-ignore]
        get_hook_lineage_collector,
    )

try:
    from airflow.sdk.providers_manager_runtime import (
        ProvidersManagerTaskRuntime as ProvidersAssetManager,
    )
except ImportError:  # Airflow 3.1
    from airflow.providers_manager import (  # type: ignore[assignment,no-redef,unused-ignore]
        ProvidersManager as ProvidersAssetManager,
    )

#: ``retry_exponential_backoff`` for retries whose delay doubles, read the same by every minor.
EXPONENTIAL_RETRY_BACKOFF = True
#: Whether ``dag.test()`` passes a failed task's exception to its failure callbacks.
DAG_TEST_CALLBACKS_GET_THE_EXCEPTION = AIRFLOW_VERSION >= Version("3.3.0")

__all__ = [
    "AIRFLOW_VERSION",
    "DAG_TEST_CALLBACKS_GET_THE_EXCEPTION",
    "EXPONENTIAL_RETRY_BACKOFF",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowPlugin",
    "ProvidersAssetManager",
    "airflow_conf",
    "get_hook_lineage_collector",
]


def airflow_conf() -> AirflowConfigParser:
    """Airflow's configuration as task code reads it: the Task SDK's where it has one (3.2+)."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # Airflow 3.1
        from airflow.configuration import conf
    return conf  # type: ignore[return-value,unused-ignore]
