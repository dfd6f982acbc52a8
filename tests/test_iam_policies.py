"""The shipped IAM policies and CloudFormation templates: least privilege, as AWS evaluates it.

iam/license-tracking-policy.json is the DAG's identity, iam/license-consumption-page-policy.json
the page's (read only), iam/license-tracking-member-role.yaml the role of each member account and
deploy/license-report-bucket.yaml the report bucket. That the DAG's policy grants what the DAG
calls is tested in test_alerts_and_permissions.py; the page's is tested here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.athena import load_template  # CloudFormation templates, short tags kept as data
from tests.airflow_home import ROOT

POLICY_FILE = ROOT / "iam" / "license-tracking-policy.json"
PAGE_POLICY_FILE = ROOT / "iam" / "license-consumption-page-policy.json"
MEMBER_ROLE_FILE = ROOT / "iam" / "license-tracking-member-role.yaml"
BUCKET_TEMPLATE_FILE = ROOT / "deploy" / "license-report-bucket.yaml"
POLICY_FILES = (POLICY_FILE, PAGE_POLICY_FILE)

OBJECT_ARN = "arn:aws:s3:::REPORT_BUCKET/REPORT_PREFIX*"
VIA_S3 = "s3.REPORT_KEY_REGION.amazonaws.com"


def statements(path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def actions_of(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def with_action(path, prefix: str) -> list[dict[str, Any]]:
    return [s for s in statements(path) if any(a.startswith(prefix) for a in actions_of(s))]


# --- The DAG's policy and the page's ------------------------------------------------------------


def test_assume_role_only_inside_the_organisation_or_in_listed_accounts():
    assume = [s for s in statements(POLICY_FILE) if "sts:AssumeRole" in actions_of(s)]
    assert assume and all(s["Effect"] == "Allow" for s in assume)
    for statement in assume:
        condition = statement.get("Condition", {})
        in_organisation = condition.get("StringEquals", {}).get("aws:ResourceOrgID")
        accounts = {role.split(":")[4] for role in as_list(statement["Resource"])}
        assert in_organisation == "${aws:PrincipalOrgID}" or "*" not in accounts, statement["Sid"]
        roles = as_list(statement["Resource"])
        assert all(role.endswith(":role/LicenseTrackingReader") for role in roles)
    assert any("Condition" in s for s in assume), "no statement for the organisation's accounts"


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_s3_rights_are_scoped_to_the_report_prefix(path):
    for statement in with_action(path, "s3:"):
        if actions_of(statement) == {"s3:ListBucket"}:
            assert statement["Resource"] == "arn:aws:s3:::REPORT_BUCKET"
            prefixes = statement["Condition"]["StringLike"]["s3:prefix"]
            assert as_list(prefixes) == ["REPORT_PREFIX*"]
        else:
            assert "s3:ListBucket" not in actions_of(statement)
            assert as_list(statement["Resource"]) == [OBJECT_ARN], statement["Sid"]


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_the_report_key_is_usable_through_s3_only(path):
    (kms,) = with_action(path, "kms:")
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": VIA_S3}}
    assert kms["Resource"].startswith("arn:aws:kms:REPORT_KEY_REGION:")


def test_the_page_policy_only_reads():
    granted = set().union(*(actions_of(s) for s in statements(PAGE_POLICY_FILE)))
    assert granted == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt"}
    assert all(s["Effect"] == "Allow" for s in statements(PAGE_POLICY_FILE))
    assert not [a for a in granted if "*" in a]


def test_every_placeholder_of_the_policies_has_an_example_for_cfn_lint():
    from iam.policies_as_template import PLACEHOLDERS, policy_files, template

    assert set(policy_files()) == set(POLICY_FILES)
    for path in POLICY_FILES:
        words = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", path.read_text()))
        assert words <= set(PLACEHOLDERS), path.name
    rendered = json.dumps(template())
    assert not re.search(r"\b[A-Z]+_[A-Z_]+\b", rendered)


# --- The member account's role ------------------------------------------------------------------


def test_the_member_role_requires_an_external_id_unless_switched_off():
    template = load_template(MEMBER_ROLE_FILE)
    parameters = template["Parameters"]
    assert parameters["RequireExternalId"]["Default"] == "true"
    assert parameters["RequireExternalId"]["AllowedValues"] == ["true", "false"]
    # The stack is refused when the ExternalId is required and empty.
    (rule,) = template["Rules"].values()
    assert rule["RuleCondition"] == {"Equals": [{"Ref": "RequireExternalId"}, "true"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Not": [{"Equals": [{"Ref": "ExternalId"}, ""]}]}
    # Whenever one is given, the trust policy asks for it.
    assert template["Conditions"]["HasExternalId"] == {
        "Not": [{"Equals": [{"Ref": "ExternalId"}, ""]}]
    }
    role = template["Resources"]["LicenseTrackingReaderRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "AirflowPrincipalArn"}}
    condition, without = trust["Condition"]["If"][1:]
    assert trust["Condition"]["If"][0] == "HasExternalId"
    assert condition == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}
    assert without == {"Ref": "AWS::NoValue"}


# --- The report bucket --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bucket() -> dict[str, Any]:
    return load_template(BUCKET_TEMPLATE_FILE)


def bucket_properties(template: dict[str, Any]) -> dict[str, Any]:
    (bucket,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    return bucket["Properties"]


def test_the_bucket_is_private_and_its_owner_owns_every_object(bucket):
    properties = bucket_properties(bucket)
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    ownership = properties["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}


def test_the_bucket_encrypts_with_the_given_key_else_sse_s3(bucket):
    assert bucket["Parameters"]["KmsKeyArn"]["Default"] == ""
    assert bucket["Conditions"]["HasKmsKey"] == {"Not": [{"Equals": [{"Ref": "KmsKeyArn"}, ""]}]}
    (default,) = bucket_properties(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    condition, with_key, without_key = default["If"]
    assert condition == "HasKmsKey"
    assert with_key["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Ref": "KmsKeyArn"},
    }
    assert without_key["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_the_bucket_policy_denies_requests_without_tls(bucket):
    (policy,) = [r for r in bucket["Resources"].values() if r["Type"] == "AWS::S3::BucketPolicy"]
    denials = policy["Properties"]["PolicyDocument"]["Statement"]
    (insecure,) = [s for s in denials if "Bool" in s.get("Condition", {})]
    assert insecure["Effect"] == "Deny" and insecure["Principal"] == "*"
    assert insecure["Action"] == "s3:*"
    assert insecure["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert insecure["Resource"] == [
        {"GetAtt": "ReportBucket.Arn"},
        {"Sub": "${ReportBucket.Arn}/*"},
    ]


def test_lifecycle_expires_the_staging_area_of_the_layout_and_aborts_uploads(bucket):
    from license_manager.report_layout import staging_folder

    rules = bucket_properties(bucket)["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    (staging,) = [rule for rule in rules if "ExpirationInDays" in rule]
    (prefix_parameter,) = re.findall(r"\$\{(\w+)\}", staging["Prefix"]["Sub"])
    assert prefix_parameter == "ReportPrefix"
    moment = datetime(2026, 11, 29, tzinfo=UTC)
    for prefix in ("", "reports/", "team-a/licences/"):
        expired = staging["Prefix"]["Sub"].replace("${ReportPrefix}", prefix)
        assert staging_folder(prefix, moment).startswith(expired)
        assert not f"{prefix}2026/11/29/".startswith(expired)  # never a report set
    (uploads,) = [rule for rule in rules if "AbortIncompleteMultipartUpload" in rule]
    assert uploads["Prefix"] == ""
    assert uploads["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] >= 1


# --- What the page calls ------------------------------------------------------------------------


@pytest.fixture
def page_client(airflow_db):
    import os

    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    os.environ.setdefault(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    client = TestClient(create_app(), base_url="http://airflow.test")
    user = SimpleAuthManagerUser(username="viewer", role="viewer")
    client.headers["Authorization"] = f"Bearer {get_auth_manager().generate_jwt(user)}"
    return client


@pytest.fixture
def calls_with_params(monkeypatch):
    import botocore.client

    calls: list[tuple[str, str, dict[str, Any]]] = []
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation_name, api_params):
        calls.append((client.meta.service_model.signing_name, operation_name, dict(api_params)))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return calls


def keys_of(operation: str, params: dict[str, Any]) -> list[str]:
    """The object keys (or the listing prefix) an S3 request reaches."""
    if operation == "ListObjectsV2":
        return [params.get("Prefix", "")]
    return [params["Key"]] if "Key" in params else []


@pytest.mark.usefixtures("airflow_db")
def test_the_page_policy_grants_exactly_what_the_page_calls(
    world, page_client, calls_with_params, monkeypatch
):
    import boto3
    from license_manager.ui.app import cache

    from tests.test_alerts_and_permissions import IAM_ACTIONS, KMS_ACTIONS

    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_KMS_KEY_ID", key)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET", world.bucket)
    monkeypatch.setenv("AIRFLOW_VAR_LICENSE_REPORT_PREFIX", "reports/")
    monkeypatch.delenv("AIRFLOW_VAR_LICENSE_REPORT_BUCKET_OWNER", raising=False)
    arns = [world.add(usage_count=3), world.add(usage_count=0)]
    conf = {"license_config_arns": arns, "license_report_prefix": "reports/"}
    for day in (28, 29):
        run = world.dag.test(run_conf=conf, logical_date=datetime(2026, 11, day, tzinfo=UTC))
        assert run.state == "success"
    calls_with_params.clear()
    cache.clear()
    try:
        assert page_client.get("/license-consumption/api/report").status_code == 200
        download = "/license-consumption/download/license-consumption-summary.csv"
        assert page_client.get(download).status_code == 200
    finally:
        cache.clear()

    page_calls = {(service, operation) for service, operation, _ in calls_with_params}
    assert ("s3", "GetObject") in page_calls and ("s3", "ListObjectsV2") in page_calls
    unknown = page_calls - IAM_ACTIONS.keys()
    assert not unknown, f"map these operations to IAM actions: {unknown}"
    needed = set().union(*(IAM_ACTIONS[c] | KMS_ACTIONS.get(c, set()) for c in page_calls))
    granted = set().union(*(actions_of(s) for s in statements(PAGE_POLICY_FILE)))
    assert needed == granted
    # Every request stays inside the prefix the policy names.
    for _, operation, params in calls_with_params:
        assert params["Bucket"] == world.bucket
        assert all(k.startswith("reports/") for k in keys_of(operation, params)), params
