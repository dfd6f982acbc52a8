"""Faults in the running system: the scheduler SIGKILLed while write_report is mid-write.

Killing the scheduler of the light deployment (LocalExecutor) takes the task processes it
started with it, so ``write_report`` dies during its copies. The scheduler is started again;
it finds the dead scheduler's running task and runs it again, which writes the report set
again (or, when the killed try had finished, keeps it). The run ends with a report set
identical to an undisturbed run's. The package's stack reaches S3 through ``proxy``, which
slows the copies down so that the kill lands during them. Its file name puts it last in the
package: the other modules never run on a restarted scheduler.
"""

from __future__ import annotations

import time

from local_airflow.environment import AIRFLOW_COMMANDS
from tests import support
from tests.e2e.license_runs import DAG_ID, new_world, run_folder, stack_variables

SCHEDULER = "airflow-scheduler"
WRITE_REPORT = ("write_report", -1)


def report_set(world, run) -> dict:
    """A run's report files by name, without what differs between runs."""
    return support.report_set(world, run_folder(run))


def test_scheduler_killed_while_write_report_writes(stack, proxy, local_aws_servers):
    world = new_world(local_aws_servers)
    # usage files over 32 KiB: staged apart from their outcomes, and copied by the writer
    arns = [world.add(name=f"Configuration {n}", usage_count=400 + n) for n in range(4)]
    with stack_variables(stack, {"license_report_bucket": world.bucket}):
        conf = {"license_config_arns": arns}
        calm = stack.wait_for_run(DAG_ID, stack.trigger(DAG_ID, conf)["dag_run_id"])
        assert calm["state"] == "success"
        expected = report_set(world, calm)
        assert len(expected) == 4 + 3  # usage files, summary, manifest, the manifest's file list

        proxy.slow_down("CopyObject", 15.0)  # the copies run side by side: kill during them
        try:
            run_id = stack.trigger(DAG_ID, conf)["dag_run_id"]
            copies = len([r for r in proxy.requests if r.operation == "CopyObject"])

            def mid_write() -> bool:
                states = stack.task_instances(DAG_ID, run_id)
                copied = len([r for r in proxy.requests if r.operation == "CopyObject"])
                return states[WRITE_REPORT]["state"] == "running" and copied > copies

            stack.wait_for(lambda: mid_write() or None, "write_report copying", timeout=240)
            stack.killed.add(SCHEDULER)
            stack.processes.kill(SCHEDULER)
            time.sleep(2)
        finally:
            proxy.slow_down("CopyObject", 0.0)
        stack.start_component(SCHEDULER, AIRFLOW_COMMANDS[SCHEDULER].split())

        run = stack.wait_for_run(DAG_ID, run_id, timeout=600)

    assert run["state"] == "success"
    assert report_set(world, run) == expected
    write_report = stack.task_instances(DAG_ID, run_id)[WRITE_REPORT]
    assert write_report["try_number"] == 2  # the killed try, then the one that wrote the set
    assert world.keys("_staging/") == []
