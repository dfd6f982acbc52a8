"""Airflow started as processes of this machine, for the tests, the benchmarks and the demo.

environment.py      the environment of every Airflow process, from deploy/airflow.env:
                    native substitutions (hosts, ports, home) and the light flavour's
                    overrides, listed with their reasons
processes.py        free_port, wait_for, log tails; the Supervisor that starts each process
                    in a session of its own with a marker, counts their CPU, and the one
                    teardown
api.py              the REST API client (token from /auth/token, again after a 401)
deployment.py       LocalAirflow, the core (airflow-init, components, readiness, teardown,
                    DAG and run helpers), and LightAirflow: SQLite, LocalExecutor
topology.py         CeleryTopology: docker-compose.yaml's topology on PostgreSQL and Redis
worker_hostname.py  the native Celery workers' ``[core] hostname_callable``
"""

from local_airflow.api import ApiClient
from local_airflow.deployment import LightAirflow, LocalAirflow
from local_airflow.processes import LocalAirflowError, ProcessCpu, free_port, wait_for
from local_airflow.topology import CeleryTopology

__all__ = [
    "ApiClient",
    "CeleryTopology",
    "LightAirflow",
    "LocalAirflow",
    "LocalAirflowError",
    "ProcessCpu",
    "free_port",
    "wait_for",
]
