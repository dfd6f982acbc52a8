"""LicenseManagerOperator: one license configuration and all its usage."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Generator, Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from concurrent.futures import Future

    from airflow.sdk import Context

    from license_manager.hooks import LicenseManagerHook, ReportBucketHook
    from license_manager.retries import Backoff

LABEL_CONTEXT_KEY = "license_configuration_label"
T = TypeVar("T")


def configuration_label(name: str, account_id: str, region: str) -> str:
    """A mapped instance's label: two configurations of the same name in other accounts or
    Regions are told apart."""
    return f"{name} ({account_id} / {region})"


#: ``map_index_template`` for mapped instances: the configuration's label once its name is
#: known, else its ARN.
MAP_INDEX_TEMPLATE = "{{ " + LABEL_CONTEXT_KEY + " | default(task.license_configuration_arn) }}"


@contextmanager
def _in_background(function: Callable[..., T], *args: Any) -> Generator[Future[T]]:
    """``function(*args)`` in a thread of its own while the block runs; waited for on leaving.

    The configuration's details and its usage are independent calls: made side by side, a
    fetch task waits for one round trip to License Manager where it waited for two. The
    thread runs in a copy of the caller's context (``connection_lookups_shared`` state).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="license-configuration") as pool:
        yield pool.submit(contextvars.copy_context().run, function, *args)


class LicenseManagerOperator(BaseOperator):
    """Fetch one license configuration and every usage record of it, in the ARN's Region.

    The usage records are streamed page by page into a CSV staged in S3; the task returns
    (and stages) only a small outcome record, so no usage travels through XCom. A permanent
    error (access denied, not found) fails the task at once; throttling, 5xx answers and
    connection errors are retried with back-off inside the task, then by Airflow's retries.
    Either way the error is staged for the report writer before the task fails.

    :param license_configuration_arn: the configuration's ARN.
    :param report_bucket: bucket that holds the run's staging folder.
    :param staging_folder: key prefix of the run's staging folder.
    :param aws_conn_id: Airflow connection for License Manager and S3.
    :param report_kms_key_id: KMS key for SSE-KMS on the staged files.
    :param report_bucket_owner: account ID that must own ``report_bucket``.
    :param retry_max_attempts: attempts per API call before the task gives up.
    :param retry_base_delay: first back-off delay in seconds, doubled per attempt.
    :param retry_max_delay: cap of one back-off delay in seconds.
    :param usage_page_size: MaxResults asked of ListUsageForLicenseConfiguration.
    :param role_arn_template: role to assume for an account other than ``home_account_id``,
        with ``{account_id}`` and ``{partition}`` placeholders; None: the
        connection's credentials for every account. Assumed inside the task, never stored.
    :param role_external_id: ExternalId of the AssumeRole call.
    :param role_session_name: RoleSessionName of the AssumeRole call.
    :param home_account_id: the connection's own account.
    """

    # No field is templated. In the DAG every argument is run data (a setting, a Variable, an
    # upstream task's XCom), and the Task SDK renders as Jinja the plain strings that
    # expand_kwargs() takes from an XCom (it exempts only XComArg objects): a templated field
    # here would evaluate whatever a triggerer typed, with `conn` and `var` in its context.
    # A DAG author who wants a Jinja value renders it in an upstream task and passes the result.
    template_fields: Sequence[str] = ()
    ui_color = "#ffe8cc"

    def __init__(
        self,
        *,
        license_configuration_arn: str,
        report_bucket: str,
        staging_folder: str,
        aws_conn_id: str | None = "aws_default",
        report_kms_key_id: str | None = None,
        report_bucket_owner: str | None = None,
        retry_max_attempts: int = 6,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 20.0,
        usage_page_size: int | None = None,
        role_arn_template: str | None = None,
        role_external_id: str | None = None,
        role_session_name: str | None = None,
        home_account_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.license_configuration_arn = license_configuration_arn
        self.report_bucket = report_bucket
        self.staging_folder = staging_folder
        self.aws_conn_id = aws_conn_id
        self.report_kms_key_id = report_kms_key_id
        self.report_bucket_owner = report_bucket_owner
        self.retry_max_attempts = retry_max_attempts
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.usage_page_size = usage_page_size
        self.role_arn_template = role_arn_template
        self.role_external_id = role_external_id
        self.role_session_name = role_session_name
        self.home_account_id = home_account_id

    @cached_property
    def backoff(self) -> Backoff:
        """Retries of the License Manager calls (botocore's own are off for them)."""
        from license_manager.retries import Backoff

        return Backoff(self.retry_max_attempts, self.retry_base_delay, self.retry_max_delay)

    def license_manager_hook(
        self, region: str, account_id: str | None = None, partition: str | None = None
    ) -> LicenseManagerHook:
        """A hook on ``region``; with a role template, as ``account_id``'s role (one AssumeRole)."""
        from license_manager.discovery import AccountAccess

        access = AccountAccess(
            self.aws_conn_id,
            self.home_account_id,
            self.role_arn_template,
            self.role_external_id,
            self.role_session_name or "license-tracking",
        )
        return access.license_manager_hook(account_id or "", region, partition)

    @cached_property
    def s3_hook(self) -> ReportBucketHook:
        from license_manager.hooks import report_bucket_hook

        return report_bucket_hook(
            self.aws_conn_id,
            kms_key_id=self.report_kms_key_id,
            bucket_owner=self.report_bucket_owner,
            backoff=self.backoff,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        from license_manager.hooks import connection_lookups_shared

        with connection_lookups_shared():  # the License Manager and S3 hooks: one lookup
            return self._collect(context)

    def _collect(self, context: Context) -> dict[str, Any]:
        from license_manager.arns import parse_license_configuration_arn
        from license_manager.compat import AirflowFailException
        from license_manager.csv_schema import iso_utc
        from license_manager.outcomes import ConfigurationOutcome
        from license_manager.report_writer import stage_outcome, stage_usage_file
        from license_manager.retries import describe_error, is_retryable

        arn = parse_license_configuration_arn(self.license_configuration_arn)
        outcome = ConfigurationOutcome(
            arn=arn.arn,
            region=arn.region,
            account_id=arn.account_id,
            configuration_id=arn.configuration_id,
        )
        try:
            hook = self.license_manager_hook(arn.region, arn.account_id, arn.partition)
            hook.get_conn()  # one client, made before the two calls share it
            with _in_background(
                self.backoff.call,
                partial(hook.get_license_configuration, arn.arn),
                f"GetLicenseConfiguration {arn.arn}",
            ) as details:
                try:
                    outcome.usage = stage_usage_file(
                        self.s3_hook,
                        self.report_bucket,
                        self.staging_folder,
                        outcome,
                        self.backoff.pages(
                            partial(hook.get_usage_page, arn.arn, self.usage_page_size),
                            f"ListUsageForLicenseConfiguration {arn.arn}",
                        ),
                    )
                except Exception:
                    # The configuration's own error (not found, access denied) says more.
                    details.result()
                    raise
                outcome.configuration = details.result()
            if name := outcome.configuration.get("Name"):
                label = configuration_label(name, arn.account_id, arn.region)
                context[LABEL_CONTEXT_KEY] = label  # type: ignore[literal-required]
            outcome.status = "ok"
        except Exception as error:
            outcome.error = describe_error(error)
            outcome.collected_at = iso_utc(datetime.now(UTC))
            stage_outcome(self.s3_hook, self.report_bucket, self.staging_folder, outcome)
            if is_retryable(error):
                raise
            raise AirflowFailException(f"{arn.arn}: {outcome.error}") from error
        outcome.collected_at = iso_utc(datetime.now(UTC))
        stage_outcome(self.s3_hook, self.report_bucket, self.staging_folder, outcome)
        self.log.info(
            "%s (%s): %d usage records staged",
            arn.arn,
            outcome.configuration.get("Name"),
            outcome.usage.rows,
        )
        return {
            "arn": arn.arn,
            "name": outcome.configuration.get("Name"),
            "status": outcome.status,
            "usage_records": outcome.usage.rows,
        }

    @classmethod
    def mapped_kwargs(
        cls,
        license_configuration_arns: Iterable[str],
        *,
        report_bucket: str,
        staging_folder: str,
        aws_conn_id: str | None,
        report_kms_key_id: str | None = None,
        report_bucket_owner: str | None = None,
        **account_access: Any,
    ) -> list[dict[str, Any]]:
        """One kwargs dict per ARN, for ``partial(...).expand_kwargs()`` over a task's result.

        Built in the operator's class so that the mapped instances' arguments follow ``__init__``.
        ``account_access``: the role arguments (``AccountAccess.kwargs()``), when a role
        template is set.
        """
        return [
            {
                "license_configuration_arn": arn,
                "report_bucket": report_bucket,
                "staging_folder": staging_folder,
                "aws_conn_id": aws_conn_id,
                **account_access,
                "report_kms_key_id": report_kms_key_id,
                "report_bucket_owner": report_bucket_owner,
            }
            for arn in license_configuration_arns
        ]
