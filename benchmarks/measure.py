"""What the benchmarks measure with: task process memory, CPU by process group, database
size, and the statistics of repeated samples."""

from __future__ import annotations

import math
import re
import resource
import statistics
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from local_airflow import ProcessCpu

TASK_PROCESS_TITLE = "airflow worker -- "
#: LocalExecutor's workers: each supervises one task process at a time, forks it and waits for it.
EXECUTOR_WORKER_TITLE = "airflow worker -- LocalExecutor"
IDLE_EXECUTOR_WORKER = "<idle>"


def _peak_rss_bytes(pid: int) -> int | None:
    """The process's resident-memory high-water mark (VmHWM), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _task_processes() -> dict[int, str]:
    """Airflow task processes by pid: their title is 'airflow worker -- <task instance id>'."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if title.startswith(TASK_PROCESS_TITLE):
            found[int(entry.name)] = title.removeprefix(TASK_PROCESS_TITLE).split()[0]
    return found


class TaskMemorySampler:
    """Samples the peak resident memory of every Airflow task process while it runs.

    The kernel's high-water mark is read, so a peak between two samples is not missed; only
    the last moments of a process after its final sample can escape.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks: dict[str, int] = {}  # task instance id -> bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid, ti_id in _task_processes().items():
                peak = _peak_rss_bytes(pid)
                if peak:
                    self.peaks[ti_id] = max(peak, self.peaks.get(ti_id, 0))
            time.sleep(self.interval)

    def __enter__(self) -> TaskMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


#: The line an executor worker logs when the task process it supervised has ended and it is
#: free for the next task: ``<ISO time> [info ] Workload finished ... workload_id=<ti id>``.
_WORKLOAD_FINISHED = re.compile(r"^(\S+Z) .*Workload finished .*workload_id=([0-9a-f-]+)")


class WorkloadLog:
    """When each task's executor worker was done with it, from a log that holds the
    LocalExecutor workers' output (the scheduler's); each read takes only what was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.finished: dict[str, datetime] = {}  # task instance id -> when

    def read(self) -> dict[str, datetime]:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            added = log.read()
        complete = added[: added.rfind(b"\n") + 1]  # a line still being written waits
        self.offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            if match := _WORKLOAD_FINISHED.match(line):
                self.finished[match[2]] = datetime.fromisoformat(match[1])
        return self.finished


def database_bytes(home: Path) -> int:
    """Bytes of the SQLite metadata database's pages in use (free pages do not count)."""
    import sqlite3

    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size


def database_file_bytes(home: Path) -> int:
    """Bytes of the SQLite metadata database's files on disk (its write-ahead log included)."""
    files = (home / "airflow.db", home / "airflow.db-wal")
    return sum(path.stat().st_size for path in files if path.exists())


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], percent: float) -> float:
    """The nearest-rank percentile: the smallest sample with ``percent`` % at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


# --- CPU by process group ---------------------------------------------------------------------


def is_task_process(title: str) -> bool:
    return title.startswith(TASK_PROCESS_TITLE) and not title.startswith(EXECUTOR_WORKER_TITLE)


def airflow_cpu_by_group(processes: Iterable[ProcessCpu]) -> dict[str, float]:
    """CPU-seconds so far of a deployment's processes, by group.

    ``task_processes``: the task processes, living or ended: an executor worker waits for each
    one it forks, so an ended task's CPU is in its worker's ``reaped``. ``task_supervisors``:
    the executor workers' own work (fork, log forwarding, relaying the task's API requests).
    Every other process counts for its component, its reaped children included.
    """
    groups: dict[str, float] = {"task_processes": 0.0, "task_supervisors": 0.0}
    for process in processes:
        if is_task_process(process.title):
            groups["task_processes"] += process.own + process.reaped
        elif process.title.startswith(EXECUTOR_WORKER_TITLE):
            groups["task_supervisors"] += process.own
            groups["task_processes"] += process.reaped
        else:
            component = process.component.removeprefix("airflow-")
            groups[component] = groups.get(component, 0.0) + process.own + process.reaped
    return groups


def tasks_settled(processes: Iterable[ProcessCpu]) -> bool:
    """No task process left and every executor worker idle: every task's CPU is counted."""
    return all(
        not is_task_process(p.title)
        and (
            not p.title.startswith(EXECUTOR_WORKER_TITLE) or p.title.endswith(IDLE_EXECUTOR_WORKER)
        )
        for p in processes
    )


def other_threads_cpu_seconds() -> float:
    """CPU-seconds of this process's threads other than the main one, ended ones included.

    In the benchmark process those are the local AWS's servers (the emulator and moto, each a
    thread per connection), so this is the local AWS's CPU. Call it from the main thread.
    """
    assert threading.current_thread() is threading.main_thread()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime - time.thread_time()


def difference(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before.get(key, 0.0) for key in after}


def series(values: list[float], digits: int = 1) -> dict[str, Any]:
    """Every sample, with its median and spread (max - min)."""
    return {
        "samples": [round(v, digits) for v in values],
        "median": round(median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "spread": round(max(values) - min(values), digits),
    }


def overlap_verdict(a: list[float], b: list[float]) -> str:
    """How far apart two series of samples are, judged by their ranges (min to max).

    ``separate``: the ranges do not overlap; the ratio of the medians is meaningful.
    ``overlapping``: the ranges overlap, but neither median lies in the other's range; the
    ratio is indicative. ``within the noise``: a median lies in the other series' range, so a
    typical sample of one is an ordinary sample of the other: the ratio means nothing.
    """
    if max(a) < min(b) or max(b) < min(a):
        return "separate"
    if min(b) <= median(a) <= max(b) or min(a) <= median(b) <= max(a):
        return "within the noise"
    return "overlapping"


def mib(value: float) -> float:
    return round(value / (1024 * 1024), 1)
