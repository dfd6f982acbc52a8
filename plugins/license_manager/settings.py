"""Settings: who may give each one, where it comes from, how it is checked.

*Run settings* may be given when a run is triggered (trigger form, REST ``conf``, backfill
``--dag-run-conf``): the given value, else the Airflow Variable of the same name, else the
default. *Deployment settings* choose whose identity the DAG uses and where data goes: they come
only from Variables (or the deployment's configuration) and a run whose conf names one fails.
Airflow's security model trusts whoever may trigger a DAG to start runs, not to pick credentials.

Each setting is declared once, in ``SETTINGS``: the trigger form, the DAG's docs, the checks a
run makes and what the License consumption page reads are derived from it.

Resolved when a run executes, never at parse time; the DAG's schedule is in ``schedule.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from airflow.sdk import Param

from license_manager.arns import (
    InvalidLicenseConfigurationArn,
    parse_license_configuration_arn,
    split_arn_list,
)
from license_manager.compat import AirflowFailException

#: The trigger form's sections.
COLLECT = "What to collect"
REPORT = "Report"
#: What a list setting is given in the trigger form for "none in this run", whatever the
#: Variable holds: an empty field falls back to the Variable.
NONE_FOR_THIS_RUN = "none"

RUN: Literal["run"] = "run"
DEPLOYMENT: Literal["deployment"] = "deployment"


@dataclass(frozen=True)
class Setting:
    """One setting and everything about it."""

    name: str
    #: The trigger form's label and help text of a run setting.
    title: str
    description: str
    #: The setting's line in the DAG's docs; its default, when it has one, is added.
    doc: str
    kind: Literal["run", "deployment"] = RUN
    default: str | None = None
    #: The trigger form's section of a run setting.
    section: str | None = None
    #: Takes a JSON list or one string separated by commas, spaces or newlines.
    is_list: bool = False
    #: Normalises one value (the split list, for a list setting); ValueError naming the setting.
    parser: Callable[[Any], Any] | None = None
    #: A field of ``Settings``; False for a setting that only the License consumption page reads.
    read_by_run: bool = True
    #: Says where report sets are and how to reach them: the page reads it as well as the run.
    locates_reports: bool = False

    def parsed(self, value: Any) -> Any:
        """``value`` normalised; ValueError naming the setting."""
        if self.is_list:
            value = split_arn_list(value, self.name)
        return self.parser(value) if self.parser else value


# The checks are imported when a value is parsed: this module is imported when the DAG file is.
def _validation() -> ModuleType:
    from license_manager import validation

    return validation


def _discovery() -> ModuleType:
    from license_manager import discovery

    return discovery


def _utilization_threshold(value: Any) -> str:
    from license_manager.compliance import parse_threshold

    try:
        return str(parse_threshold(value))
    except ValueError as error:
        raise ValueError(f"license_alert_utilization_percent: {error}") from None


def _optional_text(value: Any) -> str | None:
    return str(value or "").strip() or None


def _checked_when_given(value: Any, check: Callable[[str], str]) -> str | None:
    text = _optional_text(value)
    return check(text) if text else None


SETTINGS = (
    Setting(
        "license_config_arns",
        "License configuration ARNs",
        "License configuration ARNs: a JSON list, or one string separated by commas, "
        "spaces or newlines. Required unless Regions to discover in are given.",
        doc="the license configurations to collect; required unless "
        "`license_discovery_regions` is given",
        section=COLLECT,
        is_list=True,
    ),
    Setting(
        "license_discovery_regions",
        "Regions to discover in",
        "Regions in which every license configuration is collected, in addition to the "
        "ARNs: a JSON list, or one string separated by commas, spaces or newlines.",
        doc="Regions in which every license configuration is collected as well",
        section=COLLECT,
        is_list=True,
        parser=lambda regions: _discovery().check_regions(regions),
    ),
    Setting(
        "license_discovery_accounts",
        "Accounts to discover in",
        "12-digit account IDs to discover in, same list forms; with none, the connection's "
        "own account.",
        doc="account IDs to discover in; not set: the connection's own account",
        section=COLLECT,
        is_list=True,
        parser=lambda accounts: _discovery().check_accounts(accounts),
    ),
    Setting(
        "license_report_prefix",
        "Report key prefix",
        "Key prefix put before the date folders ('reports/' gives 'reports/2026/...'): "
        "letters, digits and !-_.*'() separated by '/'.",
        doc="key prefix before the date folders; not set: no prefix",
        default="",
        section=REPORT,
        parser=lambda prefix: _validation().report_prefix(prefix or ""),
        locates_reports=True,
    ),
    Setting(
        "license_alert_utilization_percent",
        "Near-limit threshold (%)",
        "Utilization (0 to 100) at or above which a configuration is near its limit.",
        doc="utilization at or above which a configuration is near its limit",
        default="90",
        section=REPORT,
        parser=_utilization_threshold,
    ),
    Setting(
        "license_report_bucket",
        "Report bucket",
        "S3 bucket that receives the reports. Required.",
        doc="the S3 bucket that receives the reports; required",
        kind=DEPLOYMENT,
        parser=lambda bucket: _validation().bucket_name(bucket),
        locates_reports=True,
    ),
    Setting(
        "aws_conn_id",
        "AWS connection",
        "Airflow connection used for License Manager, S3 and SNS.",
        doc="the Airflow connection used for License Manager, S3 and SNS",
        kind=DEPLOYMENT,
        default="aws_default",
        parser=lambda conn_id: _validation().connection_id(conn_id),
        locates_reports=True,
    ),
    Setting(
        "license_alert_sns_topic_arn",
        "Alert SNS topic",
        "SNS topic that receives failure and compliance alerts; not set: no alert.",
        doc="the SNS topic for failure and compliance alerts; not set: no alert",
        kind=DEPLOYMENT,
        parser=lambda topic: _validation().sns_topic_arn(topic),
    ),
    Setting(
        "license_account_role_arn_template",
        "Member account role",
        "IAM role assumed for an account other than the connection's own, with {account_id} "
        "and optionally {partition}, e.g. arn:aws:iam::{account_id}:role/LicenseTrackingReader. "
        "Not set: the connection's credentials for every account.",
        doc="a role assumed in every other account, with `{account_id}`",
        kind=DEPLOYMENT,
        parser=lambda template: _checked_when_given(template, _discovery().check_role_template),
    ),
    Setting(
        "license_account_role_external_id",
        "AssumeRole ExternalId",
        "ExternalId passed to AssumeRole.",
        doc="the ExternalId passed to AssumeRole",
        kind=DEPLOYMENT,
        parser=lambda external_id: _checked_when_given(external_id, _discovery().check_external_id),
    ),
    Setting(
        "license_report_kms_key_id",
        "Report KMS key",
        "KMS key (ID, ARN or alias) for SSE-KMS on every object the run writes; not set: the "
        "bucket's default encryption.",
        doc="the KMS key for SSE-KMS on every object written; not set: the bucket's default",
        kind=DEPLOYMENT,
        parser=lambda key: _validation().kms_key_id(key),
    ),
    Setting(
        "license_report_bucket_owner",
        "Report bucket owner",
        "12-digit account ID that must own the report bucket (ExpectedBucketOwner on every "
        "S3 request); not set: not checked.",
        doc="the account that must own the bucket (ExpectedBucketOwner); not set: not checked",
        kind=DEPLOYMENT,
        parser=lambda owner: _validation().account_id("license_report_bucket_owner", owner),
        locates_reports=True,
    ),
    Setting(
        "license_page_aws_conn_id",
        "License consumption page connection",
        "Airflow connection the License consumption page reads report sets with (give it "
        "read-only rights); not set: aws_conn_id.",
        doc="the License consumption page's read-only connection; not set: `aws_conn_id`",
        kind=DEPLOYMENT,
        parser=lambda conn_id: _validation().connection_id(conn_id, "license_page_aws_conn_id"),
        read_by_run=False,
    ),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}

#: The settings a run may be given at trigger time, in the trigger form's order.
RUN_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.kind == RUN)
#: The settings that only an administrator sets, as Airflow Variables.
DEPLOYMENT_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.kind == DEPLOYMENT)
#: Settings that take a list (a JSON list or a separated string), as the trigger form shows them.
LIST_SETTINGS = frozenset(setting.name for setting in SETTINGS if setting.is_list)
#: The settings that say where report sets are and how to reach them: what the License
#: consumption page reads as well as the run.
REPORT_LOCATION_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.locates_reports)


#: The JSON Schema draft of the trigger form's params. Airflow validates every param of the DAG
#: in every task (twice in a mapped one) and jsonschema checks each schema against its draft's
#: meta-schema first: draft 7's is the cheaper to check, and the form needs nothing newer than
#: a type list.
PARAM_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"


def trigger_form_params() -> dict[str, Param]:
    """One DAG param per run setting, empty by default: the form's value wins over the
    Variable. Deployment settings have no field: a run cannot be given them."""
    return {
        setting.name: Param(
            None,
            description=_form_help(setting),
            schema={
                "$schema": PARAM_SCHEMA_DRAFT,
                "type": ["null", "string", "array"] if setting.is_list else ["null", "string"],
                "title": setting.title,
                "section": setting.section,
            },
        )
        for setting in SETTINGS
        if setting.kind == RUN
    }


def _form_help(setting: Setting) -> str:
    """The trigger form's help text of a run setting: what it is, then what empty means."""
    default = f" {setting.default!r} when the Variable is not set." if setting.default else ""
    none = (
        f" Type {NONE_FOR_THIS_RUN} for none in this run, whatever the Variable holds."
        if setting.is_list
        else ""
    )
    return (
        f"{setting.description} Left empty: the Airflow Variable {setting.name}"
        f"{',' if default else '.'}{default}{none}"
    )


_DOC_HEADINGS = {
    RUN: "**Run settings** (trigger form value, else the Airflow Variable of the same name, "
    "else the default):",
    DEPLOYMENT: "**Deployment settings** (Airflow Variables only; a run whose conf names one "
    "fails):",
}


def settings_doc_md() -> str:
    """The DAG docs' paragraphs on the run and the deployment settings, one line each."""
    return "\n\n".join(
        "\n".join([heading, "", *(_doc_line(s) for s in SETTINGS if s.kind == kind)])
        for kind, heading in _DOC_HEADINGS.items()
    )


def _doc_line(setting: Setting) -> str:
    default = f" (default `{setting.default}`)" if setting.default else ""
    return f"- `{setting.name}`: {setting.doc}{default}"


class SettingsError(AirflowFailException, ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The settings of one run, after trigger params, Variables and the defaults of
    ``SETTINGS`` were merged and checked: ``resolve_settings`` gives every field."""

    license_config_arns: list[str]
    license_report_bucket: str
    license_report_prefix: str
    aws_conn_id: str
    license_alert_sns_topic_arn: str | None
    license_alert_utilization_percent: str
    license_discovery_regions: list[str]
    license_discovery_accounts: list[str]
    license_account_role_arn_template: str | None
    license_account_role_external_id: str | None
    license_report_kms_key_id: str | None
    license_report_bucket_owner: str | None


def _is_given(value: Any) -> bool:
    return value is not None and not (isinstance(value, str | list) and not value)


def airflow_variable(name: str) -> Any:
    """The Airflow Variable ``name``, or None when it is not set."""
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def lookup_setting(name: str, params: Mapping[str, Any], variable: Callable[[str], Any]) -> Any:
    """A run setting given at trigger time wins, then the Airflow Variable of the same name.

    A deployment setting comes from the Variable alone (``refuse_deployment_settings`` has
    failed any run whose conf names one).
    """
    setting = _BY_NAME[name]
    value = params.get(name) if setting.kind == RUN else None
    if isinstance(value, str) and value.strip().lower() == NONE_FOR_THIS_RUN:
        return [] if setting.is_list else value
    return value if _is_given(value) else variable(name)


def setting_value(name: str, params: Mapping[str, Any], variable: Callable[[str], Any]) -> Any:
    """The trigger form's value (run settings only), else the Airflow Variable, else the
    setting's default."""
    value = lookup_setting(name, params, variable)
    return value if _is_given(value) else _BY_NAME[name].default


def refuse_deployment_settings(given: Mapping[str, Any]) -> None:
    """Fail a run whose trigger conf (or params) names a deployment setting."""
    named = [name for name in DEPLOYMENT_SETTINGS if name in given]
    if named:
        variables = ", ".join(f"{name} (AIRFLOW_VAR_{name.upper()})" for name in named)
        raise SettingsError(
            f"{', '.join(named)} cannot be given when a run is triggered: "
            f"{'they are deployment settings' if len(named) > 1 else 'it is a deployment setting'}"
            f" (identity and destination), which an administrator sets as the Airflow "
            f"Variable of the same name: {variables}"
        )


def resolve_settings(
    params: Mapping[str, Any],
    variable: Callable[[str], Any],
    conf: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge params, Variables and defaults; raise SettingsError naming a missing setting.

    ``params`` are the run's params and ``conf`` its trigger conf (which Airflow merges into
    the params by default); either naming a deployment setting fails the run.
    ``variable(name)`` returns the Variable's value or None; it is only called at run time.
    """
    refuse_deployment_settings({**(conf or {}), **params})
    values = {
        setting.name: setting_value(setting.name, params, variable)
        for setting in SETTINGS
        if setting.read_by_run
    }
    if not _is_given(values["license_report_bucket"]):
        raise SettingsError(
            "license_report_bucket is not set: an administrator sets the Airflow Variable "
            "license_report_bucket (AIRFLOW_VAR_LICENSE_REPORT_BUCKET)"
        )
    checked = _parsed(values)
    arns, regions = checked["license_config_arns"], checked["license_discovery_regions"]
    if not arns and not regions:
        raise SettingsError(
            "license_config_arns is empty and license_discovery_regions is not set: give ARNs "
            "in the trigger form or set the Airflow Variable license_config_arns "
            "(AIRFLOW_VAR_LICENSE_CONFIG_ARNS), or give Regions to discover in "
            "license_discovery_regions"
        )
    if not regions:
        _require_a_valid_arn(arns)
    return Settings(**checked)


def _parsed(values: Mapping[str, Any]) -> dict[str, Any]:
    """Each of ``values`` parsed by its setting; SettingsError naming the first one rejected."""
    try:
        return {name: _BY_NAME[name].parsed(value) for name, value in values.items()}
    except ValueError as error:
        raise SettingsError(str(error)) from None


def _require_a_valid_arn(arns: list[str]) -> None:
    """A run with no valid ARN would write nothing and look green: it fails instead.

    Invalid entries next to valid ones are reported in the summary, not here.
    """
    problems = []
    for text in arns:
        try:
            parse_license_configuration_arn(text)
        except InvalidLicenseConfigurationArn as error:
            problems.append(str(error))
        else:
            return
    shown = "; ".join(problems[:3]) + (
        f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
    )
    raise SettingsError(
        f"license_config_arns holds no valid license configuration ARN "
        f"({len(problems)} entries): {shown}"
    )


def alert_destination(variable: Callable[[str], Any]) -> tuple[str | None, str]:
    """The SNS topic (None: no alert) and connection of the failure alert: deployment
    settings, validated as a run validates them (ValueError naming the setting)."""
    return (
        deployment_setting("license_alert_sns_topic_arn", variable),
        deployment_setting("aws_conn_id", variable),
    )


def deployment_setting(name: str, variable: Callable[[str], Any]) -> Any:
    """The Variable ``name`` (else the setting's default), parsed; ValueError naming it."""
    return _BY_NAME[name].parsed(setting_value(name, {}, variable))


def report_location_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``REPORT_LOCATION_SETTINGS`` of ``values``, normalised; ValueError naming the first
    one AWS would reject."""
    return {name: _BY_NAME[name].parsed(values[name]) for name in REPORT_LOCATION_SETTINGS}
