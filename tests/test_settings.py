"""Settings: run settings from the trigger form, then Variable, then default; deployment
settings from Variables only; errors name the setting."""

import dataclasses

import pytest
from license_manager.settings import (
    DEPLOYMENT_SETTINGS,
    LIST_SETTINGS,
    REPORT_LOCATION_SETTINGS,
    RUN_SETTINGS,
    SETTINGS,
    Settings,
    SettingsError,
    resolve_settings,
    settings_doc_md,
)

ARN = (
    "arn:aws:license-manager:us-east-1:111111111111:"
    "license-configuration:lic-0123456789abcdef0123456789abcdef"
)


def variables(**values):
    return lambda name: values.get(name)


def test_trigger_params_win_over_variables_for_run_settings():
    settings = resolve_settings(
        {"license_config_arns": ARN, "license_report_prefix": "from-param/"},
        variables(license_report_bucket="bucket", license_report_prefix="from-variable/"),
    )
    assert settings.license_report_prefix == "from-param/"
    assert settings.license_report_bucket == "bucket"
    assert settings.license_config_arns == [ARN]


def test_variables_then_defaults():
    settings = resolve_settings(
        {"license_config_arns": None, "license_report_prefix": ""},
        variables(license_config_arns=f'["{ARN}"]', license_report_bucket="bucket"),
    )
    assert settings.license_config_arns == [ARN]
    assert settings.aws_conn_id == "aws_default"
    assert settings.license_report_prefix == ""
    assert settings.license_alert_sns_topic_arn is None


def test_prefix_gets_one_trailing_slash():
    settings = resolve_settings(
        {"license_config_arns": ARN, "license_report_prefix": "/reports"},
        variables(license_report_bucket="bucket"),
    )
    assert settings.license_report_prefix == "reports/"


@pytest.mark.parametrize("empty", [None, "", " \n ", "[]", []])
def test_no_arns_is_an_error_naming_the_setting(empty):
    with pytest.raises(SettingsError, match="license_config_arns"):
        resolve_settings({"license_config_arns": empty}, variables(license_report_bucket="b-1"))


def test_no_bucket_is_an_error_naming_the_setting():
    with pytest.raises(SettingsError, match="license_report_bucket .*Airflow Variable"):
        resolve_settings({"license_config_arns": ARN}, variables())


def test_every_setting_is_a_run_or_a_deployment_setting_as_the_contract_says():
    assert set(RUN_SETTINGS) == {
        "license_config_arns",
        "license_discovery_regions",
        "license_discovery_accounts",
        "license_report_prefix",
        "license_alert_utilization_percent",
    }
    assert set(DEPLOYMENT_SETTINGS) == {
        "aws_conn_id",
        "license_report_bucket",
        "license_report_bucket_owner",
        "license_account_role_arn_template",
        "license_account_role_external_id",
        "license_alert_sns_topic_arn",
        "license_report_kms_key_id",
        "license_page_aws_conn_id",
    }


@pytest.mark.parametrize("name", DEPLOYMENT_SETTINGS)
@pytest.mark.parametrize("where", ["conf", "params"])
def test_a_deployment_setting_given_at_trigger_time_fails_the_run_naming_it(name, where):
    given = {name: "anything"}
    with pytest.raises(SettingsError) as failure:
        resolve_settings(
            {"license_config_arns": ARN, **(given if where == "params" else {})},
            variables(license_report_bucket="bucket"),
            conf={"license_config_arns": ARN, **(given if where == "conf" else {})},
        )
    message = str(failure.value)
    assert message.startswith(f"{name} cannot be given when a run is triggered")
    assert f"AIRFLOW_VAR_{name.upper()}" in message


def test_a_deployment_setting_named_with_an_empty_value_fails_too():
    with pytest.raises(SettingsError, match="aws_conn_id cannot be given"):
        resolve_settings(
            {"license_config_arns": ARN},
            variables(license_report_bucket="bucket"),
            conf={"aws_conn_id": None},
        )


def test_deployment_settings_come_from_variables():
    settings = resolve_settings(
        {"license_config_arns": ARN},
        variables(
            license_report_bucket="bucket",
            aws_conn_id="reporting",
            license_account_role_external_id="ext-1234",
        ),
    )
    assert (settings.license_report_bucket, settings.aws_conn_id) == ("bucket", "reporting")
    assert settings.license_account_role_external_id == "ext-1234"


def test_the_configuration_page_documents_every_setting_with_its_kind():
    from tests.airflow_home import ROOT

    page = (ROOT / "docs" / "configuration.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` | {setting.kind} |" in page


def test_every_setting_a_run_reads_is_a_field_of_settings_and_the_reverse():
    fields = {field.name: field.type for field in dataclasses.fields(Settings)}
    read_by_run = {setting.name: setting for setting in SETTINGS if setting.read_by_run}
    assert set(read_by_run) == set(fields)
    for name, setting in read_by_run.items():
        assert fields[name].startswith("list[") == setting.is_list, name
    assert [s.name for s in SETTINGS if not s.read_by_run] == ["license_page_aws_conn_id"]


def test_what_the_page_reads_and_which_settings_take_lists_come_from_the_table():
    assert REPORT_LOCATION_SETTINGS == (
        "license_report_prefix",
        "license_report_bucket",
        "aws_conn_id",
        "license_report_bucket_owner",
    )
    assert LIST_SETTINGS == {
        "license_config_arns",
        "license_discovery_regions",
        "license_discovery_accounts",
    }


@pytest.mark.parametrize(
    "setting",
    [s for s in SETTINGS if s.name != "license_config_arns"],  # an invalid ARN gets its row
    ids=lambda setting: setting.name,
)
def test_every_setting_s_parser_refuses_template_syntax_naming_the_setting(setting):
    with pytest.raises(ValueError, match=setting.name):
        setting.parsed("tpl{{ 7 * 7 }}x")


def test_the_dag_docs_give_each_setting_one_line_with_its_default_under_its_kind():
    run, deployment = settings_doc_md().split("**Deployment settings**")
    for setting in SETTINGS:
        (line,) = [
            line
            for line in (run if setting.kind == "run" else deployment).splitlines()
            if line.startswith(f"- `{setting.name}`: ")
        ]
        if setting.default:
            assert line.endswith(f"(default `{setting.default}`)")


def test_the_trigger_form_shows_run_settings_only_with_text_or_lists_as_each_takes():
    from airflow.sdk.exceptions import ParamValidationError
    from license_manager.settings import trigger_form_params

    params = trigger_form_params()
    assert list(params) == list(RUN_SETTINGS)
    assert params["license_config_arns"].resolve([ARN]) == [ARN]
    assert params["license_config_arns"].resolve(ARN) == ARN
    assert params["license_report_prefix"].resolve("reports/") == "reports/"
    assert params["license_report_prefix"].resolve(None) is None
    with pytest.raises(ParamValidationError):
        params["license_report_prefix"].resolve(["reports"])
    with pytest.raises(ParamValidationError):
        params["license_config_arns"].resolve(12)
    titles = {param.schema["title"] for param in params.values()}
    assert not titles & set(RUN_SETTINGS)  # titles people read, not the setting names


@pytest.mark.parametrize("none", ["none", " None "])
def test_none_in_the_form_switches_discovery_off_for_one_run_whatever_the_variable(none):
    from_variables = variables(
        license_report_bucket="bucket", license_discovery_regions="us-east-1,eu-west-1"
    )
    assert resolve_settings({"license_config_arns": ARN}, from_variables).license_discovery_regions
    settings = resolve_settings(
        {"license_config_arns": ARN, "license_discovery_regions": none}, from_variables
    )
    assert settings.license_discovery_regions == []


def test_the_trigger_form_groups_the_run_settings_in_sections():
    from license_manager.settings import trigger_form_params

    sections = {name: param.schema["section"] for name, param in trigger_form_params().items()}
    assert sections == {
        "license_config_arns": "What to collect",
        "license_discovery_regions": "What to collect",
        "license_discovery_accounts": "What to collect",
        "license_report_prefix": "Report",
        "license_alert_utilization_percent": "Report",
    }
