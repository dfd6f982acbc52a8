"""What the benchmarks measure with: task process memory, database size, timing helpers."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

TASK_PROCESS_TITLE = "airflow worker -- "


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


def database_bytes(home: Path) -> int:
    """Bytes of the SQLite metadata database's pages in use (free pages do not count)."""
    import sqlite3

    with sqlite3.connect(f"file:{home / 'airflow.db'}?mode=ro", uri=True) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return (pages - free) * size


def median(values: list[float]) -> float:
    return statistics.median(values)


def mib(value: float) -> float:
    return round(value / (1024 * 1024), 1)
