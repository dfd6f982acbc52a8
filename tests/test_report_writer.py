"""The S3 protocol of a report set, request by request, against moto's server."""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from license_manager.csv_schema import SUMMARY_COLUMNS
from license_manager.outcomes import NOT_RECORDED, ConfigurationOutcome
from license_manager.report_layout import run_folder, staging_folder

WHEN = datetime(2026, 11, 29, tzinfo=UTC)


def record_operations(s3) -> list[str]:
    operations: list[str] = []
    s3.conn.meta.events.register(
        "before-call.s3.*", lambda model, **_: operations.append(model.name)
    )
    return operations


def record_requests(s3) -> list[tuple[str, str]]:
    """(operation, key) of every S3 request the hook makes from now on; the first key of a
    DeleteObjects, none of a listing."""
    requests: list[tuple[str, str]] = []

    def record(model, params, **_) -> None:
        deleted = params.get("Delete", {}).get("Objects", [{}])
        requests.append((model.name, params.get("Key", deleted[0].get("Key", ""))))

    s3.conn.meta.events.register("before-parameter-build.s3.*", record)
    return requests


def usage_pages(records: int, page_size: int = 1000):
    record = {
        "ResourceArn": "arn:aws:ec2:us-east-1:111111111111:instance/i-0123456789abcdef0",
        "ResourceType": "EC2_INSTANCE",
        "ResourceStatus": "running",
        "ResourceOwnerId": "111111111111",
        "AssociationTime": "2026-11-01T10:00:00Z",
        "ConsumedLicenses": 4,
    }
    for start in range(0, records, page_size):
        yield [record] * min(page_size, records - start)


def fetched(s3, staging: str, name: str, records: int) -> ConfigurationOutcome:
    """What a fetch task stages for one configuration, as the operator does it."""
    from license_manager.report_writer import stage_outcome, stage_usage_file

    configuration_id = f"lic-{uuid.uuid4().hex}"
    arn = f"arn:aws:license-manager:us-east-1:111111111111:license-configuration:{configuration_id}"
    outcome = ConfigurationOutcome(arn, "us-east-1", "111111111111", configuration_id)
    outcome.configuration = {"Name": name, "LicenseCount": 10, "ConsumedLicenses": 4}
    outcome.usage = stage_usage_file(s3, s3.bucket, staging, outcome, usage_pages(records))
    outcome.status = "ok"
    stage_outcome(s3, s3.bucket, staging, outcome)
    return outcome


def test_a_fetch_task_stages_a_small_usage_file_inside_its_outcome_in_one_put(s3):
    from license_manager.report_layout import outcome_key

    requests = record_requests(s3)
    outcome = fetched(s3, "_staging/x/", "Small", 3)
    assert requests == [("PutObject", outcome_key("_staging/x/", outcome.configuration_id))]
    body = s3.conn.get_object(Bucket=s3.bucket, Key=requests[0][1])["Body"].read()
    staged = ConfigurationOutcome.from_json(body)
    assert staged == outcome and staged.usage is not None
    assert staged.usage_csv is not None and staged.usage_csv.count("\r\n") == 4
    assert len(staged.usage_csv.encode()) == staged.usage.bytes


def test_a_fetch_task_stages_a_larger_usage_file_and_its_outcome_in_two_puts(s3):
    from license_manager.report_writer import INLINE_USAGE_BYTES

    operations = record_operations(s3)
    outcome = fetched(s3, "_staging/x/", "Medium", 1000)
    assert operations == ["PutObject", "PutObject"]  # no HeadObject before either
    assert outcome.usage is not None and outcome.usage.bytes >= INLINE_USAGE_BYTES
    assert outcome.usage_csv is None
    staged = s3.conn.get_object(Bucket=s3.bucket, Key=outcome.usage.key)["Body"].read()
    assert staged.count(b"\r\n") == 1001 and len(staged) == outcome.usage.bytes


def test_a_large_usage_file_is_uploaded_in_8_mib_parts(s3):
    operations = record_operations(s3)
    outcome = fetched(s3, "_staging/x/", "Large", 60_000)
    assert outcome.usage.bytes > 8 * 1024 * 1024
    assert Counter(operations) == {
        "CreateMultipartUpload": 1,
        "UploadPart": math.ceil(outcome.usage.bytes / (8 * 1024 * 1024)),
        "CompleteMultipartUpload": 1,
        "PutObject": 1,  # the outcome
    }


def test_small_bodies_go_with_their_headers_large_parts_wait_for_100_continue(s3):
    expects: list[tuple[str, bytes | None]] = []
    s3.conn.meta.events.register(
        "before-send.s3",
        lambda request, event_name, **_: expects.append(
            (event_name.rsplit(".", 1)[-1], request.headers.get("Expect"))
        ),
    )

    fetched(s3, "_staging/x/", "Medium", 1000)  # a staged usage file and its outcome
    fetched(s3, "_staging/x/", "Large", 60_000)  # in 8 MiB parts

    puts = [expect for operation, expect in expects if operation == "PutObject"]
    assert puts == [None, None, None]  # both outcomes and the staged file: no round trip first
    parts = [expect for operation, expect in expects if operation == "UploadPart"]
    assert parts[0] == b"100-continue"  # 8 MiB: S3 may refuse it before it is sent


def test_deletes_go_1000_keys_a_request_and_log_how_many_not_which(s3, caplog):
    keys = [f"_staging/run/{index:04d}" for index in range(1001)]
    for key in keys[:3]:
        s3.conn.put_object(Bucket=s3.bucket, Key=key, Body=b"x")
    operations = record_operations(s3)
    s3._log = logging.getLogger("report_bucket_hook")  # LoggingMixin's logger, to pytest's

    with caplog.at_level("INFO", logger="report_bucket_hook"):
        s3.delete_objects(s3.bucket, keys)  # missing keys are deleted as S3 deletes them: done

    assert operations == ["DeleteObjects", "DeleteObjects"]
    assert s3.list_keys(bucket_name=s3.bucket) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"Deleted 1001 object(s) from s3://{s3.bucket}" in logged
    assert keys[0] not in logged


def test_staged_files_are_copied_whole_small_ones_without_head_requests(s3):
    from license_manager.report_writer import StagedCopy, copy_staged_files

    bodies = {"small": b"a,b\r\n", "large": bytes(range(256)) * (9 * 4096)}  # 9 MiB: in parts
    for name, body in bodies.items():
        s3.conn.put_object(Bucket=s3.bucket, Key=f"_staging/{name}", Body=body)
    operations = record_operations(s3)

    copy_staged_files(
        s3,
        s3.bucket,
        [
            StagedCopy(f"_staging/{name}", f"report/{name}", len(body))
            for name, body in bodies.items()
        ],
    )

    assert operations.count("CopyObject") == 1  # the small file, its size known: no HeadObject
    assert operations.count("HeadObject") == 1  # the large one, copied in parts
    assert "UploadPartCopy" in operations
    for name, body in bodies.items():
        assert s3.conn.get_object(Bucket=s3.bucket, Key=f"report/{name}")["Body"].read() == body


def run_report(s3):
    from license_manager.report_writer import RunReport

    return RunReport(
        bucket=s3.bucket,
        prefix="reports/",
        folder=run_folder("reports/", WHEN),
        staging=staging_folder("reports/", WHEN),
        dag_id="license_tracking",
        run_id="scheduled__2026-11-29",
        run_timestamp="20261129T000000Z",
    )


def test_the_writer_reads_copies_and_writes_the_manifest_last(s3):
    from license_manager.report_writer import read_staged_outcomes, write_report_set

    report = run_report(s3)
    first = fetched(s3, report.staging, "First", 3)  # its usage file inside its outcome
    second = fetched(s3, report.staging, "Second", 1000)  # its usage file staged
    never_ran = {
        "arn": first.arn.replace(first.configuration_id, "lic-" + "0" * 32),
        "region": "us-east-1",
        "account_id": "111111111111",
        "configuration_id": "lic-" + "0" * 32,
    }
    requested = [
        {key: getattr(outcome, key) for key in never_ran} for outcome in (first, second)
    ] + [never_ran]
    requests = record_requests(s3)

    outcomes = read_staged_outcomes(s3, report, requested)
    manifest, _ = write_report_set(s3, report, outcomes, WHEN)

    operations = [operation for operation, _ in requests]
    assert [outcome.status for outcome in outcomes] == ["ok", "ok", "failed"]
    assert outcomes[2].error == NOT_RECORDED
    assert Counter(operations) == {
        # one per requested configuration, no HeadObject; the staged usage file for its table
        "GetObject": 3 + 1,
        # the previous manifest first; staging last: its settings, then the staged files
        "DeleteObjects": 1 + 2,
        "CopyObject": 1,  # the staged usage file; the other is written from its outcome
        # the first usage file, summary, manifest; the tables' consumption and usage files
        "PutObject": 3 + 3,
        # while the set is written: the folder, the run's keys in each table; staging emptied
        "ListObjectsV2": 3 + 1,
    }
    manifest_put = requests.index(("PutObject", report.folder + "manifest.json"))
    set_requests = [key for _, key in requests[:manifest_put]]
    assert not any(key.startswith(report.prefix + "tables/") for key in set_requests)
    assert all(  # the set is whole before the tables
        not key.startswith(report.folder) for _, key in requests[manifest_put + 1 :]
    )
    assert requests[-3:] == [  # staging emptied last, its settings first: the set is complete
        ("DeleteObjects", report.staging + "run.json"),
        ("DeleteObjects", f"{report.staging}{first.configuration_id}/outcome.json"),
        ("ListObjectsV2", ""),
    ]
    keys = [item["Key"] for item in s3.conn.list_objects_v2(Bucket=s3.bucket)["Contents"]]
    assert sorted(key for key in keys if not key.startswith(report.prefix + "tables/")) == sorted(
        file["key"] for file in manifest["files"]
    ) + [report.folder + "manifest.json"]
    assert len([key for key in keys if key.startswith(report.prefix + "tables/")]) == 3
    summary = s3.conn.get_object(Bucket=s3.bucket, Key=manifest["files"][0]["key"])
    assert summary["ContentType"] == "text/csv; charset=utf-8"
    assert summary["Body"].read().decode().startswith(",".join(SUMMARY_COLUMNS) + "\r\n")
    written = s3.conn.get_object(Bucket=s3.bucket, Key=report.folder + "manifest.json")
    assert written["ContentType"] == "application/json"
    assert json.loads(written["Body"].read()) == manifest


def test_every_report_file_is_recorded_as_lineage_output(s3, monkeypatch):
    from airflow.providers.amazon.aws.hooks import s3 as provider_s3
    from airflow.sdk.lineage import HookLineageCollector
    from license_manager import hooks, report_writer

    collector = HookLineageCollector()
    monkeypatch.setattr(hooks, "get_hook_lineage_collector", lambda: collector)
    monkeypatch.setattr(provider_s3, "get_hook_lineage_collector", lambda: collector)
    report = run_report(s3)
    outcomes = [fetched(s3, report.staging, "Small", 3), fetched(s3, report.staging, "Big", 60_000)]

    manifest, _ = report_writer.write_report_set(s3, report, outcomes, WHEN)

    outputs = {entry.asset.uri for entry in collector.collected_assets.outputs}
    expected = [file["key"] for file in manifest["files"]] + [report.folder + "manifest.json"]
    assert {f"s3://{s3.bucket}/{key}" for key in expected} <= outputs


ARN = "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-" + "0" * 32


def resolve(s3, bucket: str, connection_defined=lambda conn_id: True):
    from license_manager import run_plan

    return run_plan.resolve_run(
        {"license_config_arns": ARN},
        "license_tracking",
        "manual__1",
        WHEN,
        variable={"license_report_bucket": bucket}.get,
        s3_hook=lambda aws_conn_id, **guards: s3,
        connection_defined=connection_defined,
    )


def test_a_missing_connection_is_looked_up_once_per_run_not_per_task(s3, monkeypatch):
    from license_manager import run_plan

    looked_up = []

    def defined(conn_id):
        looked_up.append(conn_id)
        return False

    run = resolve(s3, s3.bucket, connection_defined=defined)
    assert looked_up == ["aws_default"]
    assert run["report"]["aws_conn_id"] is None  # the writer and the alerts
    assert [request["aws_conn_id"] for request in run["fetch_requests"]] == [None]
    assert resolve(s3, s3.bucket)["fetch_requests"][0]["aws_conn_id"] == "aws_default"

    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws"}')
    assert run_plan._connection_defined("aws_default")
    monkeypatch.delenv("AIRFLOW_CONN_AWS_DEFAULT")
    assert not run_plan._connection_defined("aws_default")


def test_the_run_claims_staging_first_and_names_a_missing_bucket(s3):
    from license_manager.run_plan import CollectionFailed

    operations = record_operations(s3)
    run = resolve(s3, s3.bucket)
    assert operations == ["PutObject"]
    assert run["fetch_requests"][0]["staging_folder"] == "_staging/20261129T000000Z/"
    claimed = s3.conn.get_object(Bucket=s3.bucket, Key="_staging/20261129T000000Z/run.json")
    assert json.loads(claimed["Body"].read())["run_id"] == "manual__1"

    with pytest.raises(CollectionFailed, match="license_report_bucket 'no-such-bucket-x' does not"):
        resolve(s3, "no-such-bucket-x")


def test_a_bucket_that_refuses_the_write_is_named_with_the_connection(s3):
    from license_manager.run_plan import CollectionFailed

    class Denied:  # what botocore receives from S3 for a PutObject the principal may not make
        status_code = 403

    denial = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}
    s3.conn.meta.events.register("before-call.s3.PutObject", lambda **_: (Denied(), denial))

    with pytest.raises(CollectionFailed) as failure:
        resolve(s3, s3.bucket)
    assert str(failure.value) == (
        f"license_report_bucket {s3.bucket!r} is not writable with connection 'aws_default': "
        "AccessDenied: Access Denied"
    )
