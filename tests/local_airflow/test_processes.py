"""The local deployments' one teardown, on plain Python processes that behave like Airflow's
task processes: they leave their component's session and may ignore SIGTERM."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

from local_airflow.processes import Supervisor, wait_for

# A component that starts a child in a session of its own, as a task process leaves its
# component's process group; with "stubborn" both ignore SIGTERM.
COMPONENT = """
import signal, subprocess, sys, time
stubborn = sys.argv[1] == "stubborn"
child = '''
import os, signal, sys, time
os.setsid()
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
time.sleep(600)
'''
if stubborn:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
process = subprocess.Popen([sys.executable, "-c", child, sys.argv[1]])
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


def start(supervisor: Supervisor, name: str, behaviour: str) -> tuple[int, int]:
    """Start a component; return its pid and its child's."""
    log = supervisor.cwd / f"{name}.log"
    component = supervisor.start(
        name, [sys.executable, "-c", COMPONENT, behaviour], dict(os.environ), log
    )
    child = int(wait_for(lambda: log.read_text().strip(), f"{name}'s child", 30, 0.05))
    pid = component.process.pid
    wait_for(lambda: os.getsid(child) != pid, f"{name}'s child to leave its session", 30, 0.05)
    return pid, child


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("behaviour", ["polite", "stubborn"])
def test_teardown_ends_every_process_a_component_started(supervisors, behaviour: str):
    supervisor = supervisors("deployment")
    first = start(supervisor, "first", behaviour)
    second = start(supervisor, "second", behaviour)
    assert {p.pid for p in supervisor.marked()} == {*first, *second}

    supervisor.stop([["first"], ["second"]], timeout=0.5)

    assert supervisor.marked() == []
    assert all(gone(pid) for pid in (*first, *second))


def test_a_killed_component_takes_its_processes_and_no_others(supervisors):
    supervisor = supervisors("ours")
    neighbour = supervisors("theirs")  # another deployment on the same machine
    victim = start(supervisor, "worker-a", "stubborn")
    survivor = start(supervisor, "worker-b", "polite")
    other = start(neighbour, "worker-a", "polite")

    supervisor.kill("worker-a")

    assert all(gone(pid) for pid in victim)
    assert {p.pid for p in supervisor.marked()} == set(survivor)
    assert {p.pid for p in neighbour.marked()} == set(other)


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
    assert counted.own > 0
    assert counted.title.startswith(sys.executable)
