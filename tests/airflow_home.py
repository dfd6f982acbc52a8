"""The test session's environment: a private AIRFLOW_HOME on SQLite, the project's dags and
plugins, and AWS credentials that can only ever reach the local AWS servers.

Set up when first imported, once per process: ``tests/conftest.py`` and the test modules import
it under this one name (pytest imports ``conftest.py`` itself under a name of its own, and a
second set-up would point Airflow's database at a second, empty home).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="license-tracking-airflow-"))
#: Set by tools/compat_matrix.py: the tests run against the installed wheel, with an empty
#: plugins folder (Airflow puts the plugins folder on sys.path) and without plugins/ on the path.
INSTALLED_PACKAGE = os.environ.get("LICENSE_TRACKING_TEST_INSTALLED_PACKAGE") == "1"
PLUGINS_FOLDER = AIRFLOW_HOME / "plugins" if INSTALLED_PACKAGE else ROOT / "plugins"
PLUGINS_FOLDER.mkdir(exist_ok=True)

os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
    AIRFLOW__CORE__PLUGINS_FOLDER=str(PLUGINS_FOLDER),
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}",
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    # as deploy/airflow.env ships it (tests/test_deployment_files.py checks they agree)
    AIRFLOW__CORE__MAX_MAP_LENGTH="5000",
)
for variable in list(os.environ):
    if variable.startswith(
        ("AWS_ENDPOINT_URL", "AIRFLOW_VAR_", "AWS_PROFILE", "AWS_SESSION_TOKEN")
    ):
        del os.environ[variable]
os.environ.pop("LICENSE_TRACKING_SCHEDULE", None)
