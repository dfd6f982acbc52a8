"""The local deployments' one teardown, on plain Python processes that move away from their
component the ways Airflow's task processes and their subprocesses do, and ignore SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

from local_airflow.processes import Supervisor, wait_for

# A component starting one child, both deaf to SIGTERM. The child moves away:
#   task:     a process group of its own, retitled with setproctitle (which hides the
#             environment /proc shows), as Airflow's task processes do;
#   daemon:   a session of its own, as a subprocess started with start_new_session;
#   disguised: both a session of its own and retitled: only its parent names it.
COMPONENT = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = '''
import os, signal, sys, time
import setproctitle
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[1] == "task":
    os.setpgid(0, 0)
else:
    os.setsid()
if sys.argv[1] in ("task", "disguised"):
    setproctitle.setproctitle("airflow worker -- " + "x" * 200)
print("moved", flush=True)
time.sleep(600)
'''
process = subprocess.Popen([sys.executable, "-c", child, sys.argv[1]], stdout=subprocess.PIPE)
process.stdout.readline()
print(process.pid, flush=True)
time.sleep(600)
"""


@pytest.fixture
def supervisors(tmp_path: Path):
    """``supervisors(name)``: a Supervisor per deployment, each stopped after the test."""
    made: list[Supervisor] = []

    def make(name: str) -> Supervisor:
        (tmp_path / name).mkdir()
        made.append(Supervisor(tmp_path / name))
        return made[-1]

    yield make
    for supervisor in made:
        supervisor.stop([], timeout=0.5)


def start(supervisor: Supervisor, name: str, child: str) -> tuple[int, int]:
    """Start a component; return its pid and its child's, once the child has moved."""
    log = supervisor.cwd / f"{name}.log"
    component = supervisor.start(
        name, [sys.executable, "-c", COMPONENT, child], dict(os.environ), log
    )
    moved = int(wait_for(lambda: log.read_text().strip(), f"{name}'s child", 30, 0.05))
    if child == "task":
        assert os.getpgid(moved) != component.process.pid
    else:
        assert os.getsid(moved) != component.process.pid
    return component.process.pid, moved


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("child", ["task", "daemon", "disguised"])
def test_teardown_ends_every_process_a_component_started(supervisors, child: str):
    supervisor = supervisors("deployment")
    first = start(supervisor, "first", child)
    second = start(supervisor, "second", child)
    assert {p.pid for p in supervisor.members()} == {*first, *second}

    supervisor.stop([["first"], ["second"]], timeout=0.5)

    assert supervisor.members() == []
    assert all(gone(pid) for pid in (*first, *second))


def test_a_killed_component_takes_its_processes_and_no_others(supervisors):
    supervisor = supervisors("ours")
    neighbour = supervisors("theirs")  # another deployment on the same machine
    victim = start(supervisor, "worker-a", "task")
    survivor = start(supervisor, "worker-b", "task")
    other = start(neighbour, "worker-a", "task")

    supervisor.kill("worker-a")

    assert all(gone(pid) for pid in victim)
    assert {p.pid for p in supervisor.members()} == set(survivor)
    assert {p.pid for p in neighbour.members()} == set(other)


def test_teardown_ends_the_task_process_of_a_component_that_died(supervisors):
    supervisor = supervisors("deployment")
    component, task = start(supervisor, "worker", "task")
    os.kill(component, signal.SIGKILL)  # as an out-of-memory kill would: the task lives on
    supervisor.components["worker"].process.wait(timeout=10)
    assert not gone(task)

    supervisor.stop([["worker"]], timeout=0.5)

    assert gone(task)


# A component whose child burns 0.3 CPU-seconds, ends and is waited for, as an executor worker
# waits for each task process.
REAPING_COMPONENT = """
import subprocess, sys, time
burn = "import time\\nwhile time.process_time() < 0.3: pass"
subprocess.run([sys.executable, "-c", burn], check=True)
print("reaped", flush=True)
time.sleep(600)
"""


def test_an_ended_child_s_cpu_is_counted_in_its_parent_s_reaped(supervisors):
    supervisor = supervisors("deployment")
    log = supervisor.cwd / "parent.log"
    parent = supervisor.start(
        "parent", [sys.executable, "-c", REAPING_COMPONENT], dict(os.environ), log
    )
    wait_for(lambda: "reaped" in log.read_text(), "the child to be reaped", 60, 0.05)

    (counted,) = supervisor.cpu()  # the child has ended: only the parent is left

    assert (counted.pid, counted.component) == (parent.process.pid, "parent")
    assert counted.reaped >= 0.25  # the kernel counts in clock ticks
    # A parent that only starts and waits may not have run for a whole tick: the kernel
    # guarantees a count, not a positive one.
    assert counted.own >= 0
    assert counted.title.startswith(sys.executable)


# A component that starts, says so, and exits: as Airflow's scheduler does when it loses its
# metadata database.
EXITING_COMPONENT = (
    "import os; print('started', os.environ['WHO'], flush=True); raise SystemExit(3)"
)


def test_restart_always_starts_a_component_that_exited_again(tmp_path: Path):
    from local_airflow import LightAirflow
    from local_airflow.processes import LocalAirflowError

    deployment = LightAirflow(tmp_path)
    log = tmp_path / "scheduler.log"
    command = [sys.executable, "-c", EXITING_COMPONENT]
    first = deployment.processes.start("scheduler", command, {**os.environ, "WHO": "me"}, log)
    first.process.wait(timeout=30)
    with pytest.raises(LocalAirflowError, match=r"exited: scheduler \(3\)"):
        deployment.check_alive()

    deployment.restart_always = True
    deployment.check_alive()

    again = deployment.processes.components["scheduler"]
    assert again is not first and again.command == command
    again.process.wait(timeout=30)
    assert log.read_text().splitlines() == ["started me", "started me"]
    assert deployment.restarts == ["scheduler"]
    deployment.processes.stop([], timeout=0.5)
