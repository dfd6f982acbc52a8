"""Run settings: trigger form, then Variable, then default; errors name the setting."""

import pytest
from license_manager.settings import SettingsError, resolve_settings

ARN = (
    "arn:aws:license-manager:us-east-1:111111111111:"
    "license-configuration:lic-0123456789abcdef0123456789abcdef"
)


def variables(**values):
    return lambda name: values.get(name)


def test_trigger_params_win_over_variables():
    settings = resolve_settings(
        {"license_config_arns": ARN, "license_report_bucket": "from-param"},
        variables(license_report_bucket="from-variable", license_report_prefix="reports/"),
    )
    assert settings.license_report_bucket == "from-param"
    assert settings.license_report_prefix == "reports/"
    assert settings.license_config_arns == [ARN]


def test_variables_then_defaults():
    settings = resolve_settings(
        {"license_config_arns": None, "license_report_bucket": ""},
        variables(license_config_arns=f'["{ARN}"]', license_report_bucket="bucket"),
    )
    assert settings.license_config_arns == [ARN]
    assert settings.aws_conn_id == "aws_default"
    assert settings.license_report_prefix == ""
    assert settings.license_alert_sns_topic_arn is None


def test_prefix_gets_one_trailing_slash():
    settings = resolve_settings(
        {
            "license_config_arns": ARN,
            "license_report_bucket": "bucket",
            "license_report_prefix": "/reports",
        },
        variables(),
    )
    assert settings.license_report_prefix == "reports/"


@pytest.mark.parametrize("empty", [None, "", " \n ", "[]", []])
def test_no_arns_is_an_error_naming_the_setting(empty):
    with pytest.raises(SettingsError, match="license_config_arns"):
        resolve_settings(
            {"license_config_arns": empty, "license_report_bucket": "bucket"}, variables()
        )


def test_no_bucket_is_an_error_naming_the_setting():
    with pytest.raises(SettingsError, match="license_report_bucket"):
        resolve_settings({"license_config_arns": ARN}, variables())


def test_readme_documents_every_setting():
    from license_manager.settings import SETTINGS

    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    for setting in SETTINGS:
        assert f"| `{setting.name}` |" in readme


def test_the_trigger_forms_params_take_text_or_lists_as_each_setting_does():
    from airflow.sdk.exceptions import ParamValidationError
    from license_manager.settings import trigger_form_params

    params = trigger_form_params()
    assert params["license_config_arns"].resolve([ARN]) == [ARN]
    assert params["license_config_arns"].resolve(ARN) == ARN
    assert params["license_report_bucket"].resolve("reports") == "reports"
    assert params["license_report_bucket"].resolve(None) is None
    with pytest.raises(ParamValidationError):
        params["license_report_bucket"].resolve(["reports"])
    with pytest.raises(ParamValidationError):
        params["license_config_arns"].resolve(12)
