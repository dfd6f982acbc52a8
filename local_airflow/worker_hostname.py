"""``[core] hostname_callable`` of the native Celery workers.

In docker compose every worker container has a host name of its own, which task instances
record as their ``hostname``. Two workers on one machine share the machine's name, so each
native worker is given the name of its container through the environment.
"""

from __future__ import annotations

import os

HOSTNAME_VARIABLE = "LOCAL_AIRFLOW_HOSTNAME"


def hostname() -> str:
    return os.environ[HOSTNAME_VARIABLE]
