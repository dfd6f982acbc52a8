"""Processes of one local deployment: started in sessions of their own with a marker, ended by
one teardown that leaves nothing behind.

Each component starts a session (and so a process group) of its own, and carries two
environment variables: ``LOCAL_AIRFLOW_RUN`` (the deployment's run id) and
``LOCAL_AIRFLOW_COMPONENT`` (its name). A process of the deployment is found however far it
moved (``Supervisor.members``):

- by its session: Airflow moves task processes into process groups of their own, but they
  stay in their component's session. Airflow retitles its processes ("airflow worker -- ...")
  with setproctitle, which overwrites what /proc shows of their environment, so the session is
  what still names them;
- by the marker in its environment: a process that starts a session of its own (a
  subprocess with ``start_new_session``, a daemon) inherits the variables;
- by descent from either.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import psutil

RUN_MARKER = "LOCAL_AIRFLOW_RUN"
COMPONENT_MARKER = "LOCAL_AIRFLOW_COMPONENT"

T = TypeVar("T")


class LocalAirflowError(RuntimeError):
    """A deployment that cannot start, a component that died, a process that would not end."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(
    probe: Callable[[], T | None],
    description: str,
    timeout: float = 120.0,
    interval: float = 1.0,
    *,
    check: Callable[[], None] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that.

    A probe that raises an HTTP or OS error (a server not up yet, a 404) counts as not yet.
    ``check`` runs before each probe and may raise to give up early (a component died).
    Raises TimeoutError naming ``description`` and the last error.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        if check is not None:
            check()
        try:
            result = probe()
        except (httpx.HTTPError, OSError) as error:
            result, last_error = None, error
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {description}{detail}")
        time.sleep(interval)


def tail(path: Path, lines: int = 60) -> str:
    """The last lines of a log, without the api-server's lines for successful requests."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"({error})"
    kept = [
        line
        for line in text.splitlines()
        if not ("[http.access]" in line and "status_code=2" in line)
    ]
    return "\n".join(kept[-lines:])


@dataclass
class Component:
    """A long-running process: ``command`` is run with this Python, logging to ``log``."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen | None = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass(frozen=True)
class ProcessCpu:
    """CPU-seconds of one living process of a deployment, as the kernel counts them."""

    pid: int
    component: str
    title: str
    own: float  # user + system time of the process itself
    reaped: float  # user + system time of its ended children that it has waited for


class Supervisor:
    """Starts components and one-off commands, and ends all of them.

    :param cwd: the working directory of every process.
    :param run_id: the marker value; unique by default, so that deployments running side by
        side (on a shared machine, too) never end each other's processes.
    """

    def __init__(self, cwd: Path, run_id: str | None = None) -> None:
        self.cwd = cwd
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.components: dict[str, Component] = {}

    def _marked(self, env: Mapping[str, str], component: str) -> dict[str, str]:
        return {**env, RUN_MARKER: self.run_id, COMPONENT_MARKER: component}

    def start(self, name: str, command: list[str], env: Mapping[str, str], log: Path) -> Component:
        """Start (or restart) ``name`` in a session, so a process group, of its own."""
        component = Component(name, command, self._marked(env, name), log)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            component.process = subprocess.Popen(
                command,
                env=component.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.components[name] = component
        return component

    def restart(self, name: str) -> Component:
        """Start an exited component again with its command, environment and log."""
        component = self.components[name]
        if component.alive():
            raise LocalAirflowError(f"{name} is still running")
        return self.start(name, component.command, component.env, component.log)

    def run(
        self, command: list[str], env: Mapping[str, str], timeout: float, *, name: str = "cli"
    ) -> subprocess.CompletedProcess[str]:
        """Run a command to its end (killing it and what it started on timeout)."""
        with subprocess.Popen(
            command,
            env=self._marked(env, name),
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process.pid, signal.SIGKILL)
                _kill_and_reap(self.members(name))
                stdout, stderr = process.communicate()
                raise LocalAirflowError(
                    f"{' '.join(command)} did not finish in {timeout:.0f}s:\n{stdout}\n{stderr}"
                ) from None
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def dead(self, *, ignoring: Iterable[str] = ()) -> list[Component]:
        """Components that have exited, except those named in ``ignoring``."""
        return [
            component
            for name, component in self.components.items()
            if name not in ignoring and component.process and component.process.poll() is not None
        ]

    def members(self, *components: str) -> list[psutil.Process]:
        """The living processes of this deployment (of these components, when named)."""
        sessions = {
            component.process.pid: name
            for name, component in self.components.items()
            if component.process is not None
        }
        owner: dict[int, str] = {}  # pid -> component
        parents: dict[int, int] = {}
        processes = {}
        for process in psutil.process_iter(["ppid"]):
            processes[process.pid] = process
            parents[process.pid] = process.info["ppid"]
            if name := sessions.get(_session(process.pid)) or self._marker(process):
                owner[process.pid] = name
        for pid in parents:  # descendants of a member are members
            line = [pid]
            while line[-1] not in owner and parents.get(line[-1], 0) > 1:
                line.append(parents[line[-1]])
            if line[-1] in owner:
                owner.update(dict.fromkeys(line, owner[line[-1]]))
        return living(
            processes[pid] for pid, name in owner.items() if not components or name in components
        )

    def _marker(self, process: psutil.Process) -> str | None:
        environ = _environ(process)
        return environ.get(COMPONENT_MARKER) if environ.get(RUN_MARKER) == self.run_id else None

    def cpu(self) -> list[ProcessCpu]:
        """Every living process of the components with its CPU-seconds so far.

        A component's processes are found as its descendants, not by the marker: a process
        that sets its title (Airflow's executor workers and task processes do) may overwrite
        the environment the marker is read from. When a process waits for an ended child, the
        kernel adds the child's CPU to the parent's ``reaped``; so ``own + reaped`` summed over
        the living processes counts every process a component ever had once, provided each
        ended process's parent waited for it.
        """
        found = []
        for name, component in self.components.items():
            if not component.alive():
                continue
            try:
                root = psutil.Process(component.process.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for process in tree:
                try:
                    with process.oneshot():
                        times = process.cpu_times()
                        title = " ".join(process.cmdline()).strip()  # a set title is NUL-padded
                except psutil.Error:
                    continue
                own, reaped = times.user + times.system, times.children_user + times.children_system
                found.append(ProcessCpu(process.pid, name, title, own, reaped))
        return found

    def kill(self, name: str, timeout: float = 10) -> None:
        """SIGKILL a component and every process it started, as when its host dies."""
        component = self.components[name]
        known = self.members(name)  # before the kill: some are found only through a parent
        _signal_group(component.process.pid, signal.SIGKILL)
        _kill_and_reap(known, timeout)
        for _ in range(3):  # again, for a process forked while the previous round was killing
            _kill_and_reap(self.members(name), timeout)
        component.process.wait(timeout=timeout)
        if survivors := self.members(name):
            raise LocalAirflowError(f"processes of {name} survived SIGKILL: {_describe(survivors)}")

    def stop(self, batches: Iterable[Iterable[str]], timeout: float = 30) -> None:
        """The teardown: end every component, batch after batch, then check nothing is left.

        Each batch's process groups get SIGTERM; once ``timeout`` has passed, whatever of the
        batch still runs (task processes in groups of their own included) gets SIGKILL.
        Components named in no batch come last. Then any process of the run still alive is
        killed, and one that survives even that is named in a LocalAirflowError.
        """
        batches = [[name for name in batch if name in self.components] for batch in batches]
        named = {name for batch in batches for name in batch}
        batches.append([name for name in self.components if name not in named])
        for batch in batches:
            self._stop_batch([self.components[name] for name in batch], timeout)
        if leftovers := self.members():
            sys.stderr.write(f"processes outlived their components: {_describe(leftovers)}\n")
            _kill_and_reap(leftovers)
        if survivors := self.members():
            raise LocalAirflowError(f"processes survived teardown: {_describe(survivors)}")

    def _stop_batch(self, components: list[Component], timeout: float) -> None:
        started = [c for c in components if c.process is not None]
        names = [c.name for c in started]
        # Before the signal: a process found only through its parent is lost when that ends.
        known = self.members(*names)
        for component in started:
            if component.alive():
                _signal_group(component.process.pid, signal.SIGTERM)

        def ended() -> bool:  # one scan of /proc, once every component has exited
            return (
                all(c.process.poll() is not None for c in started)
                and not living(known)
                and not self.members(*names)
            )

        try:
            wait_for(ended, "components to stop after SIGTERM", timeout=timeout, interval=0.2)
        except TimeoutError:
            for component in started:
                if component.alive():
                    sys.stderr.write(f"{component.name} outlived SIGTERM by {timeout:.0f}s\n")
                    _signal_group(component.process.pid, signal.SIGKILL)
            if leftovers := living({*known, *self.members(*names)}):
                sys.stderr.write(f"SIGKILL after {timeout:.0f}s: {_describe(leftovers)}\n")
                _kill_and_reap(leftovers)
        for component in started:
            try:
                component.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass  # named by stop()'s final check


def _session(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def _environ(process: psutil.Process) -> dict[str, str]:
    try:
        return process.environ()
    except (psutil.Error, OSError):
        return {}


def living(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    """The processes that still run (not gone, not zombies waiting for their parent)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.Error:
            pass
    return alive


def _kill_and_reap(processes: list[psutil.Process], timeout: float = 10) -> None:
    """SIGKILL each process and wait until it is gone or a zombie.

    Zombies count as gone: a task process whose parent died is a child of PID 1, which may
    never reap it, and psutil's own wait would wait for the timeout.
    """
    for process in processes:
        try:
            process.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout
    while living(processes) and time.monotonic() < deadline:
        time.sleep(0.05)


def _describe(processes: list[psutil.Process]) -> str:
    described = []
    for process in processes:
        try:
            described.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            described.append(str(process.pid))
    return "; ".join(described)


def _signal_group(group: int, signal_number: int) -> None:
    try:
        os.killpg(group, signal_number)
    except ProcessLookupError:
        pass
