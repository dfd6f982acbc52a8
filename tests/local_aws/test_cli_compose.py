"""`python -m local_aws serve` as the compose local-aws profile runs it: on every interface,
fixed ports, with the report bucket created."""

from __future__ import annotations

import json
import signal
import urllib.request

import boto3
import pytest

from local_airflow.processes import free_port
from tests.local_aws.helpers import serving_cli


@pytest.mark.slow  # starts the local AWS CLI in a process
def test_serve_on_all_interfaces_with_buckets(tmp_path):
    emulator_port, moto_port = free_port(), free_port()
    with serving_cli(
        tmp_path / "local_aws.env",
        "--host=0.0.0.0",
        f"--emulator-port={emulator_port}",
        f"--moto-port={moto_port}",
        "--bucket=license-reports",
        "--bucket=second-bucket",
    ) as process:
        # what the compose health check asks
        health = f"http://127.0.0.1:{emulator_port}/_emulator/health"
        with urllib.request.urlopen(health, timeout=5) as response:
            assert json.loads(response.read())["configurations"] == 12
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
    assert process.returncode == 0
    assert "# S3 bucket: license-reports" in stdout
