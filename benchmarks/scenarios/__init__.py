"""The benchmark scenarios. Each returns a Result: its knobs, its figures, its target, whether
the target holds. Scenarios 1, 2, 3, 5 and 7 run through a real Airflow (scheduler,
LocalExecutor, separate task processes) against the local AWS (``dag_runs``, ``org_scale``);
scenario 4 times parsing (``parse_cost``) and scenarios 6 and 6b read report sets from moto's
S3 (``page``). What they share is in ``bench``."""

from benchmarks.scenarios.bench import DAG_ID, NOOP_DAG_ID, ROOT, Bench, Result
from benchmarks.scenarios.dag_runs import airflow_overhead, api_calls, big_usage, throttled
from benchmarks.scenarios.org_scale import org_scale
from benchmarks.scenarios.page import compliance_page, page_slow_prefix
from benchmarks.scenarios.parse_cost import parse_cost

__all__ = [
    "DAG_ID",
    "NOOP_DAG_ID",
    "ROOT",
    "Bench",
    "Result",
    "airflow_overhead",
    "api_calls",
    "big_usage",
    "compliance_page",
    "org_scale",
    "page_slow_prefix",
    "parse_cost",
    "throttled",
]
