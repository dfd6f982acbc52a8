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
from tests import docs_commands

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


@pytest.fixture(scope="module")
def make_ui() -> Iterator[tuple[subprocess.Popen[str], Output, int]]:
    """`make ui`, started once for the module's tests, which run in order: the last one stops
    it with Ctrl-C; the teardown stops it when a test before that failed."""
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


@pytest.fixture(scope="module")
def ready(make_ui) -> re.Match[str]:
    """The `Airflow UI:` line, once make ui has printed it."""
    process, output, _ = make_ui
    return output.wait_for(UI_LINE, process)


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


def test_make_ui_serves_days_of_moving_history(make_ui, ready):
    _, output, port = make_ui

    assert int(ready["port"]) == port
    assert sum(bool(UI_LINE.match(line)) for line in output.lines) == 1
    assert f"License consumption page: {ready['url']}/license-consumption/" in output.lines

    data = page_data(ready["url"], ready["user"], ready["password"])
    assert len(data["history_timestamps"]) >= 4
    rows = data["configurations"]
    assert data["not_collected"] == []
    assert any(row["change"] for row in rows)
    assert any(len(set(row["history"])) >= 4 for row in rows)
    assert any(row["status"] == "OVER_LIMIT" for row in rows)
    assert any(crossed_its_limit(row) for row in rows), rows


def test_the_documented_commands_run_as_written_against_it(make_ui, ready, tmp_path):
    """Every shell example of docs/operating.md, in one bash in the repository's folder with
    make ui's PORT, as a reader runs them; the AWS CLI is PyPI's, run by uv."""
    _, _, port = make_ui
    script = "\n".join(docs_commands.blocks(ROOT / "docs" / "operating.md"))
    env = {
        **docs_commands.reader_environment(tmp_path),
        "PORT": str(port),
    }

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    shown = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, shown
    out = result.stdout
    assert '"is_paused": false' in out, shown
    assert "fetch_license_configuration\t0\t" in out, shown  # a mapped instance and its label
    assert re.search(r"adhoc/\d{4}/\d{2}/\d{2}/\d{8}T\d{6}Z/manifest\.json", out), shown
    assert out.count("backfill__2026-03-0") == 3, shown
    # the alert of the fetch of the missing ARN, read from the queue (check_collection's may
    # arrive after the run has ended)
    assert "Task: fetch_license_configuration" in out, shown
    assert "Configuration: arn:aws:license-manager:" in out, shown
    assert "lic-00000000000000000000000000000000" in out, shown


def test_every_shell_example_of_the_readme_and_docs_is_run_or_exempt_with_its_reason():
    for path, first_line in docs_commands.all_blocks():
        if path.name == "operating.md":
            continue  # run by the test above
        assert (path.name, first_line) in docs_commands.EXEMPT, (
            f"{path.name}: a shell example that no test runs: {first_line!r}"
        )


def test_ctrl_c_stops_every_process_it_started(make_ui, ready):
    process, output, _ = make_ui
    started = descendants(process.pid)
    sessions = {os.getsid(child.pid) for child in started if child.ppid() == process.pid}
    assert len(sessions) >= 4  # api-server, scheduler, dag-processor, triggerer

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0
    assert living(started) == []
    assert in_sessions(sessions) == []
    output.close()
    assert output.lines[-1].startswith("Stopped")
