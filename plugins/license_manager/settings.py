"""Settings: who may give each one, where it comes from, how it is checked.

*Run settings* may be given when a run is triggered (trigger form, REST ``conf``, backfill
``--dag-run-conf``): the given value, else the Airflow Variable of the same name, else the
default. *Deployment settings* choose whose identity the DAG uses and where data goes: they come
only from Variables (or the deployment's configuration) and a run whose conf names one fails.
Airflow's security model trusts whoever may trigger a DAG to start runs, not to pick credentials.

Resolved when a run executes, never at parse time; the DAG's schedule is in ``schedule.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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
    name: str
    title: str
    description: str
    kind: Literal["run", "deployment"] = RUN
    default: str | None = None
    #: The trigger form's section of a run setting.
    section: str | None = None


SETTINGS = (
    Setting(
        "license_config_arns",
        "License configuration ARNs",
        "License configuration ARNs: a JSON list, or one string separated by commas, "
        "spaces or newlines. Required unless Regions to discover in are given.",
        section=COLLECT,
    ),
    Setting(
        "license_discovery_regions",
        "Regions to discover in",
        "Regions in which every license configuration is collected, in addition to the "
        "ARNs: a JSON list, or one string separated by commas, spaces or newlines.",
        section=COLLECT,
    ),
    Setting(
        "license_discovery_accounts",
        "Accounts to discover in",
        "12-digit account IDs to discover in, same list forms; with none, the connection's "
        "own account.",
        section=COLLECT,
    ),
    Setting(
        "license_report_prefix",
        "Report key prefix",
        "Key prefix put before the date folders ('reports/' gives 'reports/2026/...'): "
        "letters, digits and !-_.*'() separated by '/'.",
        default="",
        section=REPORT,
    ),
    Setting(
        "license_alert_utilization_percent",
        "Near-limit threshold (%)",
        "Utilization (0 to 100) at or above which a configuration is near its limit.",
        default="90",
        section=REPORT,
    ),
    Setting(
        "license_report_bucket",
        "Report bucket",
        "S3 bucket that receives the reports. Required.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "aws_conn_id",
        "AWS connection",
        "Airflow connection used for License Manager, S3 and SNS.",
        kind=DEPLOYMENT,
        default="aws_default",
    ),
    Setting(
        "license_alert_sns_topic_arn",
        "Alert SNS topic",
        "SNS topic that receives failure and compliance alerts; not set: no alert.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "license_account_role_arn_template",
        "Member account role",
        "IAM role assumed for an account other than the connection's own, with {account_id} "
        "and optionally {partition}, e.g. arn:aws:iam::{account_id}:role/LicenseTrackingReader. "
        "Not set: the connection's credentials for every account.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "license_account_role_external_id",
        "AssumeRole ExternalId",
        "ExternalId passed to AssumeRole.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "license_report_kms_key_id",
        "Report KMS key",
        "KMS key (ID, ARN or alias) for SSE-KMS on every object the run writes; not set: the "
        "bucket's default encryption.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "license_report_bucket_owner",
        "Report bucket owner",
        "12-digit account ID that must own the report bucket (ExpectedBucketOwner on every "
        "S3 request); not set: not checked.",
        kind=DEPLOYMENT,
    ),
    Setting(
        "license_page_aws_conn_id",
        "License consumption page connection",
        "Airflow connection the License consumption page reads report sets with (give it "
        "read-only rights); not set: aws_conn_id.",
        kind=DEPLOYMENT,
    ),
)

#: The settings a run may be given at trigger time, in the trigger form's order.
RUN_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.kind == RUN)
#: The settings that only an administrator sets, as Airflow Variables.
DEPLOYMENT_SETTINGS = tuple(setting.name for setting in SETTINGS if setting.kind == DEPLOYMENT)

#: Settings that take a list (a JSON list or a separated string), as the trigger form shows them.
LIST_SETTINGS = frozenset(
    {"license_config_arns", "license_discovery_regions", "license_discovery_accounts"}
)


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
                "type": ["null", "string", "array"]
                if setting.name in LIST_SETTINGS
                else ["null", "string"],
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
        if setting.name in LIST_SETTINGS
        else ""
    )
    return (
        f"{setting.description} Left empty: the Airflow Variable {setting.name}"
        f"{',' if default else '.'}{default}{none}"
    )


class SettingsError(AirflowFailException, ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """The settings of one run, after trigger params and Variables were merged."""

    license_config_arns: list[str] = field(default_factory=list)
    license_report_bucket: str = ""
    license_report_prefix: str = ""
    aws_conn_id: str = "aws_default"
    license_alert_sns_topic_arn: str | None = None
    license_alert_utilization_percent: str = "90"
    license_discovery_regions: list[str] = field(default_factory=list)
    license_discovery_accounts: list[str] = field(default_factory=list)
    license_account_role_arn_template: str | None = None
    license_account_role_external_id: str | None = None
    license_report_kms_key_id: str | None = None
    license_report_bucket_owner: str | None = None


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
    value = params.get(name) if _KINDS[name] == RUN else None
    if isinstance(value, str) and value.strip().lower() == NONE_FOR_THIS_RUN:
        return [] if name in LIST_SETTINGS else value
    return value if _is_given(value) else variable(name)


_DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
_KINDS = {setting.name: setting.kind for setting in SETTINGS}


def setting_value(name: str, params: Mapping[str, Any], variable: Callable[[str], Any]) -> Any:
    """The trigger form's value (run settings only), else the Airflow Variable, else the
    setting's default."""
    value = lookup_setting(name, params, variable)
    return value if _is_given(value) else _DEFAULTS[name]


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
    values = {name: setting_value(name, params, variable) for name in Settings.__dataclass_fields__}
    try:
        arns = split_arn_list(values["license_config_arns"])
        organisation = _organisation_settings(values)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    if not arns and not organisation["license_discovery_regions"]:
        raise SettingsError(
            "license_config_arns is empty and license_discovery_regions is not set: give ARNs "
            "in the trigger form or set the Airflow Variable license_config_arns "
            "(AIRFLOW_VAR_LICENSE_CONFIG_ARNS), or give Regions to discover in "
            "license_discovery_regions"
        )
    if not organisation["license_discovery_regions"]:
        _require_a_valid_arn(arns)
    if not _is_given(values["license_report_bucket"]):
        raise SettingsError(
            "license_report_bucket is not set: an administrator sets the Airflow Variable "
            "license_report_bucket (AIRFLOW_VAR_LICENSE_REPORT_BUCKET)"
        )
    try:
        checked = _validated(values)
    except ValueError as error:
        raise SettingsError(str(error)) from None
    threshold = _utilization_threshold(values["license_alert_utilization_percent"])
    return Settings(
        license_config_arns=arns,
        license_alert_utilization_percent=threshold,
        **organisation,
        **checked,
    )


def _utilization_threshold(value: Any) -> str:
    from license_manager.compliance import parse_threshold

    try:
        return str(parse_threshold(value))
    except ValueError as error:
        raise SettingsError(f"license_alert_utilization_percent: {error}") from None


def _optional_text(value: Any) -> str | None:
    return str(value or "").strip() or None


def _organisation_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Discovery and role settings, validated (ValueError naming the setting)."""
    from license_manager import discovery

    regions = split_arn_list(values["license_discovery_regions"], "license_discovery_regions")
    accounts = split_arn_list(values["license_discovery_accounts"], "license_discovery_accounts")
    template = _optional_text(values["license_account_role_arn_template"])
    external_id = _optional_text(values["license_account_role_external_id"])
    return {
        "license_discovery_regions": discovery.check_regions(regions),
        "license_discovery_accounts": discovery.check_accounts(accounts),
        "license_account_role_arn_template": template and discovery.check_role_template(template),
        "license_account_role_external_id": external_id
        and discovery.check_external_id(external_id),
    }


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
    from license_manager import validation

    topic = setting_value("license_alert_sns_topic_arn", {}, variable)
    aws_conn_id = setting_value("aws_conn_id", {}, variable)
    return validation.sns_topic_arn(topic), validation.connection_id(aws_conn_id)


#: The settings that say where report sets are and how to reach them: what the License
#: consumption page reads as well as the run.
REPORT_LOCATION_SETTINGS = (
    "license_report_bucket",
    "license_report_prefix",
    "aws_conn_id",
    "license_report_bucket_owner",
)


def report_location_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``REPORT_LOCATION_SETTINGS`` of ``values``, normalised; ValueError naming the first
    one AWS would reject."""
    from license_manager import validation

    return {
        "license_report_bucket": validation.bucket_name(values["license_report_bucket"]),
        "license_report_prefix": validation.report_prefix(values["license_report_prefix"] or ""),
        "aws_conn_id": validation.connection_id(values["aws_conn_id"]),
        "license_report_bucket_owner": validation.account_id(
            "license_report_bucket_owner", values["license_report_bucket_owner"]
        ),
    }


def _validated(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting but the ARNs, normalised; ValueError naming the first one AWS would reject."""
    from license_manager import validation

    return {
        **report_location_settings(values),
        "license_alert_sns_topic_arn": validation.sns_topic_arn(
            values["license_alert_sns_topic_arn"]
        ),
        "license_report_kms_key_id": validation.kms_key_id(values["license_report_kms_key_id"]),
    }
