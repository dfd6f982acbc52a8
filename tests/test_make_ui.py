"""`make ui` (``python -m demo.ui``): started as a user starts it, read through the page's data
route with a login of the REST API, stopped with Ctrl-C (SIGINT), nothing left behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from local_airflow.processes import free_port, living

pytestmark = pytest.mark.deployment

ROOT = Path(__file__).resolve().parents[1]
#: `make ui` promises to be ready within two minutes; a loaded test machine gets more.
READY_TIMEOUT = 420
UI_LINE = re.compile(
    r"^Airflow UI: (?P<url>http://127\.0\.0\.1:(?P<port>\d+))  "
    r"\(user (?P<user>\S+), password (?P<password>\S+)\)$"
)


class Output:
    """The process's output lines, read as they come (the pipe never fills up)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._reader.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern[str], process: subprocess.Popen[str]) -> re.Match[str]:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := pattern.match(line):
                    return match
            if process.poll() is not None:
                break
            time.sleep(0.5)
        pytest.fail("no 'Airflow UI:' line; output:\n" + "\n".join(self.lines))

    def close(self) -> None:
        self._reader.join(timeout=10)


@pytest.fixture
def make_ui() -> Iterator[tuple[subprocess.Popen[str], Output, int]]:
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.ui"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        yield process, output, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
        output.close()
        shutil.rmtree(ROOT / ".local" / "ui" / str(port), ignore_errors=True)


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def in_sessions(sessions: set[int]) -> list[psutil.Process]:
    """Living processes of these sessions: Airflow's task processes change process group but
    stay in their component's session, however far they move."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) in sessions:
                found.append(process)
        except (OSError, psutil.Error):
            pass
    return living(found)


def page_data(url: str, user: str, password: str) -> dict[str, Any]:
    token = httpx.post(f"{url}/auth/token", json={"username": user, "password": password})
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert httpx.get(f"{url}/license-consumption/api/report").status_code in (401, 403)
    page = httpx.get(f"{url}/license-consumption/", headers=headers)
    assert page.status_code == 200
    response = httpx.get(f"{url}/license-consumption/api/report", headers=headers, timeout=60)
    response.raise_for_status()
    return response.json()


def crossed_its_limit(row: dict[str, Any]) -> bool:
    """Within the count on an earlier day, over it on a later one."""
    history = [consumed for consumed in row["history"] if consumed is not None]
    under = [i for i, consumed in enumerate(history) if consumed <= row["count"]]
    over = [i for i, consumed in enumerate(history) if consumed > row["count"]]
    return bool(under and over and min(under) < max(over))


def test_make_ui_serves_days_of_moving_history_and_ctrl_c_leaves_nothing(make_ui):
    process, output, port = make_ui

    match = output.wait_for(UI_LINE, process)
    assert int(match["port"]) == port
    assert sum(bool(UI_LINE.match(line)) for line in output.lines) == 1
    assert f"License consumption page: {match['url']}/license-consumption/" in output.lines

    data = page_data(match["url"], match["user"], match["password"])
    assert len(data["history_timestamps"]) >= 4
    rows = data["configurations"]
    assert data["not_collected"] == []
    assert any(row["change"] for row in rows)
    assert any(len(set(row["history"])) >= 4 for row in rows)
    assert any(row["status"] == "OVER_LIMIT" for row in rows)
    assert any(crossed_its_limit(row) for row in rows), rows

    started = descendants(process.pid)
    sessions = {os.getsid(child.pid) for child in started if child.ppid() == process.pid}
    assert len(sessions) >= 4  # api-server, scheduler, dag-processor, triggerer

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0
    assert living(started) == []
    assert in_sessions(sessions) == []
    output.close()
    assert output.lines[-1].startswith("Stopped")
