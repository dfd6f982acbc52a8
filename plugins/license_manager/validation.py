"""What AWS itself would reject, checked before a run writes anything.

Each function takes one setting's raw value and returns it normalised, or raises ValueError
with a message that names the setting. ``license_manager.settings`` turns that into a
``SettingsError``: the run fails at once, without retries, since none could help.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from license_manager.arns import (
    ACCOUNT_ID_PATTERN,
    PARTITION_PATTERN,
    REGION_PATTERN,
    is_account_id,
)
from license_manager.report_layout import longest_key_under_prefix

# Every pattern below is ASCII and matched whole (fullmatch): "$" would accept a trailing newline.
#: S3's "safe characters" for object keys, and the separator.
_PREFIX_UNSAFE = re.compile(r"[^0-9A-Za-z!_.*'()/-]")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

# S3's rules for general purpose bucket names.
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

#: S3 keys are at most 1,024 bytes (UTF-8).
MAX_KEY_BYTES = 1024
#: The longest prefix whose every key (staging included) stays within MAX_KEY_BYTES.
MAX_PREFIX_BYTES = MAX_KEY_BYTES - longest_key_under_prefix()

_KMS_KEY = r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
_KMS_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"


def _arn_pattern(service: str, resource: str) -> str:
    return rf"arn:{PARTITION_PATTERN}:{service}:{REGION_PATTERN}:{ACCOUNT_ID_PATTERN}:{resource}"


_KMS_KEY_ARN = _arn_pattern("kms", rf"(key/{_KMS_KEY}|{_KMS_ALIAS})")
_KMS_KEY_ID = re.compile(rf"{_KMS_KEY}|{_KMS_ALIAS}|{_KMS_KEY_ARN}")
_SNS_TOPIC_ARN = re.compile(_arn_pattern("sns", r"[A-Za-z0-9_-]{1,256}(\.fifo)?"))
# Airflow's own rule for connection IDs (airflow.models.connection.RE_SANITIZE_CONN_ID).
_CONNECTION_ID = re.compile(r"[\w#!()\-.:/\\]{1,250}")


def _stripped_string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}: {_show(value)}")
    return value.strip()


def _show(value: Any, limit: int = 80) -> str:
    """The value as a message quotes it: repr, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def bucket_name(value: Any) -> str:
    """A general purpose bucket name by S3's naming rules."""
    name = _stripped_string("license_report_bucket", value)
    problem = None
    if not _BUCKET_NAME.fullmatch(name):
        problem = "3 to 63 lowercase letters, digits, dots and hyphens, starting and ending "
        problem += "with a letter or digit"
    elif ".." in name:
        problem = "no two adjacent dots"
    elif _is_ip_address(name):
        problem = "not formatted as an IP address"
    elif name.startswith(_BUCKET_RESERVED_PREFIXES) or name.endswith(_BUCKET_RESERVED_SUFFIXES):
        problem = "no prefix or suffix that S3 reserves"
    if problem:
        raise ValueError(
            f"license_report_bucket {_show(name)} is not a valid S3 bucket name: {problem}"
        )
    return name


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def report_prefix(value: Any) -> str:
    """The prefix normalised: empty segments dropped (``/a//b`` is ``a/b/``), one trailing ``/``.

    ``.`` and ``..`` segments, characters outside S3's safe set (``{{ }}`` and ``%`` among them:
    a prefix is a key, never a template) and a prefix too long for S3's key limit are rejected:
    every key stays under the prefix the user meant, byte for byte.
    """
    text = _stripped_string("license_report_prefix", value)
    if _CONTROL_CHARACTERS.search(text):
        raise ValueError(f"license_report_prefix {_show(text)} holds control characters")
    if unsafe := sorted(set(_PREFIX_UNSAFE.findall(text))):
        raise ValueError(
            f"license_report_prefix {_show(text)} holds {''.join(unsafe)!r}: a prefix takes S3's "
            "safe characters only (letters, digits and !-_.*'() separated by '/')"
        )
    segments = [segment for segment in text.split("/") if segment]
    if {".", ".."} & set(segments):
        raise ValueError(
            f"license_report_prefix {_show(text)} has a '.' or '..' segment: give the folder "
            "itself, such as 'reports/'"
        )
    prefix = "".join(f"{segment}/" for segment in segments)
    size = len(prefix.encode("utf-8"))
    if size > MAX_PREFIX_BYTES:
        raise ValueError(
            f"license_report_prefix is {size} bytes; at most {MAX_PREFIX_BYTES} keep every key "
            f"within S3's {MAX_KEY_BYTES}-byte limit"
        )
    return prefix


def account_id(name: str, value: Any) -> str | None:
    """A 12-digit AWS account ID, or None when not given."""
    text = "" if value is None else _stripped_string(name, value)
    if text and not is_account_id(text):
        raise ValueError(f"{name} {_show(text)} is not a 12-digit AWS account ID")
    return text or None


def kms_key_id(value: Any) -> str | None:
    """A KMS key ID, key ARN, alias (``alias/...``) or alias ARN, or None when not given."""
    text = "" if value is None else _stripped_string("license_report_kms_key_id", value)
    if text and not _KMS_KEY_ID.fullmatch(text):
        raise ValueError(
            f"license_report_kms_key_id {_show(text)} is not a KMS key ID, key ARN, alias "
            "('alias/...') or alias ARN"
        )
    return text or None


def sns_topic_arn(value: Any) -> str | None:
    """An SNS topic ARN, or None when not given."""
    text = "" if value is None else _stripped_string("license_alert_sns_topic_arn", value)
    if text and not _SNS_TOPIC_ARN.fullmatch(text):
        raise ValueError(
            f"license_alert_sns_topic_arn {_show(text)} is not an SNS topic ARN "
            "(arn:aws:sns:<region>:<account>:<topic name>)"
        )
    return text or None


def connection_id(value: Any, name: str = "aws_conn_id") -> str:
    """An Airflow connection ID by Airflow's own rule; errors name the setting ``name``."""
    text = _stripped_string(name, value)
    if not _CONNECTION_ID.fullmatch(text):
        raise ValueError(
            f"{name} {_show(text)} is not a valid Airflow connection ID (1 to 250 "
            "letters, digits and #!()-.:/\\_)"
        )
    return text
