"""Print a CloudFormation template holding every IAM policy of this folder, for cfn-lint.

cfn-lint reads templates, not bare policy documents: each ``*-policy.json`` becomes a managed
policy of one template, with its placeholders (``REPORT_BUCKET``, ``ACCOUNT_ID``, ...) replaced
by example values, so that cfn-lint checks actions, condition keys and ARNs as AWS would see
them once a deployment fills them in. Used by ``make lint``:

    python iam/policies_as_template.py | cfn-lint
"""

from __future__ import annotations

import json
import re
from pathlib import Path

IAM_FOLDER = Path(__file__).resolve().parent

#: Every placeholder of the policies, and the example value cfn-lint sees for it.
PLACEHOLDERS = {
    "ACCOUNT_ID": "111122223333",
    "LISTED_ACCOUNT_ID": "444455556666",
    "REPORT_BUCKET": "amzn-s3-demo-bucket",
    "REPORT_PREFIX": "reports/",
    "REPORT_KEY_REGION": "us-east-1",
    "REPORT_KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab",
    "ALERT_REGION": "us-east-1",
    "ALERT_TOPIC": "license-tracking-alerts",
}
_PLACEHOLDER = re.compile(r"\b(" + "|".join(sorted(PLACEHOLDERS, key=len, reverse=True)) + r")\b")


def policy_files() -> list[Path]:
    return sorted(IAM_FOLDER.glob("*-policy.json"))


def with_examples(text: str) -> str:
    """``text`` with every placeholder replaced by its example value."""
    return _PLACEHOLDER.sub(lambda match: PLACEHOLDERS[match.group(1)], text)


def template() -> dict:
    resources = {}
    for path in policy_files():
        name = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", path.stem))
        document = json.loads(with_examples(path.read_text()))
        resources[name] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {"Description": path.name, "PolicyDocument": document},
        }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


if __name__ == "__main__":
    print(json.dumps(template(), indent=2))
