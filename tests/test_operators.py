"""LicenseManagerOperator's mapped arguments, built beside the operator."""

from __future__ import annotations

from license_manager.operators import LicenseManagerOperator

ARNS = [
    "arn:aws:license-manager:us-east-1:111111111111:license-configuration:lic-" + "0" * 32,
    "arn:aws:license-manager:eu-west-1:222222222222:license-configuration:lic-" + "1" * 32,
]


def test_mapped_kwargs_are_one_operator_per_arn_in_order():
    kwargs = LicenseManagerOperator.mapped_kwargs(
        ARNS, report_bucket="reports", staging_folder="_staging/TS/", aws_conn_id="reporting"
    )
    operators = [
        LicenseManagerOperator(task_id=f"fetch_{index}", **entry)
        for index, entry in enumerate(kwargs)
    ]
    assert [operator.license_configuration_arn for operator in operators] == ARNS
    assert {
        (operator.report_bucket, operator.staging_folder, operator.aws_conn_id)
        for operator in operators
    } == {("reports", "_staging/TS/", "reporting")}
    assert LicenseManagerOperator.template_fields == ()  # run data is never rendered
