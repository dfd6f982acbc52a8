"""`python -m local_aws serve` as the compose local-aws profile runs it: on every interface,
fixed ports, with the report bucket created."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_on_all_interfaces_with_buckets(tmp_path):
    emulator_port, moto_port = free_port(), free_port()
    env_file = tmp_path / "local_aws.env"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_aws",
            "serve",
            "--host=0.0.0.0",
            f"--emulator-port={emulator_port}",
            f"--moto-port={moto_port}",
            "--bucket=license-reports",
            "--bucket=second-bucket",
            f"--env-file={env_file}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists() or not env_file.read_text():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the CLI did not start"
            time.sleep(0.1)
        # what the compose health check asks
        health = f"http://127.0.0.1:{emulator_port}/_emulator/health"
        with urllib.request.urlopen(health, timeout=5) as response:
            assert json.loads(response.read())["configurations"] == 10
        with urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/moto-api/data.json", timeout=5):
            pass
        s3 = boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{moto_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        names = sorted(bucket["Name"] for bucket in s3.list_buckets()["Buckets"])
        assert names == ["license-reports", "second-bucket"]
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "# S3 bucket: license-reports" in stdout
