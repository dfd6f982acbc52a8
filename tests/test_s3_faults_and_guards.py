"""S3 as it really answers: bursts of 503 SlowDown and 500, the bucket owner check, SSE-KMS.

An HTTP proxy in front of moto (``local_aws.s3_proxy``) injects the faults and records every
request a run sends, so that each part of a multipart upload or copy is seen as S3 sees it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import boto3
import pytest

from tests import support
from tests.support import MOTO_ACCOUNT, task_instances, task_states

pytestmark = pytest.mark.usefixtures("airflow_db")

WHEN = datetime(2026, 3, 4, tzinfo=UTC)
#: Three consecutive faults on every kind of write: the package back-off allows six attempts.
BURST = {
    "PutObject": [503, 500, 503],
    "CreateMultipartUpload": [503, 500, 503],
    "UploadPart": [503, 500, 503],
    "CompleteMultipartUpload": [500, 503, 500],
    "CopyObject": [503, 500, 503],
    "UploadPartCopy": [503, 500, 503],
}
WRITES = {"PutObject", "CopyObject", "CreateMultipartUpload"}


@pytest.fixture
def configurations(world):
    """Usage files of each size: over 8 MiB (multipart upload and copy), over 32 KiB (staged
    and copied whole), and small (inside the staged outcome, written by the writer)."""
    return [world.add(usage_count=n) for n in (60_000, 1_000, 3)]


def report_set(world) -> dict:
    """The report set and its tables' files without what differs between two runs of it (run ID,
    collection times)."""
    view = support.report_set(world, world.folder())
    for key in world.keys(world.manifest()["prefix"] + "tables/"):
        if "/license_consumption/" in key:
            rows = world.read_dicts(key)
            view[key] = [{**row, **dict.fromkeys(support.PER_RUN_COLUMNS)} for row in rows]
        else:
            view[key] = world.read(key)
    return view


def try_numbers(dag_run) -> set[int]:
    """The try numbers of the run's tasks that ran (a skipped task has none)."""
    return {row.try_number for row in task_instances(dag_run) if row.state != "skipped"}


def test_a_burst_of_503s_and_500s_on_every_write_leaves_the_report_set_identical(
    world, s3_proxy, configurations
):
    undisturbed = world.run(WHEN, license_config_arns=configurations)
    assert undisturbed.state == "success"
    expected = report_set(world)
    for operation, statuses in BURST.items():
        s3_proxy.fail(operation, statuses)

    disturbed = world.run(WHEN, license_config_arns=configurations)

    assert disturbed.state == "success"
    assert s3_proxy.faults_pending() == {}
    assert s3_proxy.faults_served == Counter({name: len(burst) for name, burst in BURST.items()})
    # Each request was retried inside its task: no task needed a second try.
    assert try_numbers(disturbed) == {1}
    assert report_set(world) == expected
    assert world.keys(f"{world.manifest()['prefix']}_staging/") == []


@pytest.mark.parametrize(("faults", "succeeds"), [(2, True), (3, False)])
def test_each_request_is_tried_as_often_as_the_back_off_allows(
    local_aws_servers, s3_proxy, faults, succeeds
):
    from botocore.exceptions import ClientError
    from license_manager.hooks import ReportBucketHook
    from license_manager.retries import Backoff

    bucket = "backoff-counted"
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    hook = ReportBucketHook(aws_conn_id=None, backoff=Backoff(3, base_delay=0.01))
    s3_proxy.fail("PutObject", [503] * faults)
    first = len(s3_proxy.requests)

    if succeeds:
        hook.put_bytes(b"data", "key", bucket)
    else:
        with pytest.raises(ClientError, match="SlowDown"):
            hook.put_bytes(b"data", "key", bucket)

    assert [request.operation for request in s3_proxy.requests[first:]] == ["PutObject"] * min(
        faults + 1, 3
    )


def test_every_s3_request_names_the_owner_and_every_object_is_written_with_the_kms_key(
    world, s3_proxy, configurations
):
    key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    s3_proxy.expect_bucket_owner(MOTO_ACCOUNT)
    first = len(s3_proxy.requests)

    dag_run = world.run(
        WHEN,
        license_config_arns=configurations,
        license_report_kms_key_id=key_arn,
        license_report_bucket_owner=MOTO_ACCOUNT,
    )

    assert dag_run.state == "success"
    sent = s3_proxy.requests[first:]
    operations = {request.operation for request in sent}
    assert {
        "UploadPart",
        "UploadPartCopy",
        "CompleteMultipartUpload",
        "DeleteObjects",
    } | WRITES <= (operations)
    for request in sent:
        assert request.headers.get("x-amz-expected-bucket-owner") == MOTO_ACCOUNT, request
        if request.operation in WRITES:
            assert request.headers.get("x-amz-server-side-encryption") == "aws:kms", request
            assert request.headers.get("x-amz-server-side-encryption-aws-kms-key-id") == key_arn
        if "x-amz-copy-source" in request.headers:
            assert request.headers.get("x-amz-source-expected-bucket-owner") == MOTO_ACCOUNT
    s3 = boto3.client("s3", region_name="us-east-1")
    for key in world.keys():
        head = s3.head_object(Bucket=world.bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert key_arn.endswith(head["SSEKMSKeyId"].rsplit("/", 1)[-1]), key


def test_a_bucket_of_another_owner_fails_the_run_before_anything_is_written(
    world, s3_proxy, configurations, capsys
):
    s3_proxy.expect_bucket_owner(MOTO_ACCOUNT)

    dag_run = world.run(
        WHEN, license_config_arns=configurations, license_report_bucket_owner="999999999999"
    )

    assert dag_run.state == "failed"
    assert task_states(dag_run)[("resolve_settings", -1)] == "failed"
    assert world.keys() == []
    assert "license_report_bucket" in capsys.readouterr().out
