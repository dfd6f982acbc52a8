"""The package's AWS hooks: License Manager in one Region, and S3 for the report bucket.

Both are the provider's hooks, with what a short task process needs: sessions from
``license_manager.sessions`` (botocore data and handlers shared in the process), one
connection lookup between them inside ``connection_lookups_shared()``, and the caller lookup
of ``license_manager.provider_compat``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import boto3
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import determine_content_length

from license_manager.compat import AirflowNotFoundException, get_hook_lineage_collector
from license_manager.provider_compat import CallerFromFrames
from license_manager.retries import Backoff, error_code
from license_manager.sessions import session_factory

#: Merged over the connection's botocore config of every client here: the package's back-off
#: (``license_manager.retries``) is the only retry layer, and each call is counted once.
NO_BOTOCORE_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})

_S3_RETRY_HANDLER = "license_manager.s3_backoff"
_S3_GUARDS_HANDLER = "license_manager.s3_request_guards"
_S3_SMALL_BODY_HANDLER = "license_manager.s3_small_body_at_once"
#: A request body (PutObject, UploadPart) under this size is sent with its headers.
SEND_AT_ONCE_BYTES = 1024 * 1024

#: Keys a DeleteObjects request takes at most.
DELETE_BATCH = 1000
#: Parts copied at a time by ``ReportBucketHook.copy_objects_in_parts``.
COPY_CONCURRENCY = 10
#: Connections an S3 client keeps: at least as many as the threads that share it (the writer
#: keeps ``report_writer.S3_CONCURRENCY`` requests in flight); botocore's default is 10.
S3_POOL_CONNECTIONS = 20

_SHARED_LOOKUPS: ContextVar[dict[str, Any] | None] = ContextVar(
    "license_manager_connection_lookups", default=None
)


#: Loggers whose lines each hook repeats (botocore's "Found credentials in ..." per session).
ONCE_PER_TASK_LOGGERS = ("botocore.credentials",)


class _EachMessageOnce(logging.Filter):
    """Lets each distinct message through once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


@contextmanager
def connection_lookups_shared() -> Generator[None]:
    """Within this block, hooks of this package look each connection up once between them,
    and the lines every hook's session logs (``ONCE_PER_TASK_LOGGERS``) are logged once.

    In a task process every lookup is a round trip through the supervisor to the API server;
    an operator with two hooks on one connection would make it twice. A connection that is
    not found is remembered as not found.
    """
    token = _SHARED_LOOKUPS.set({})
    once = _EachMessageOnce()
    loggers = [logging.getLogger(name) for name in ONCE_PER_TASK_LOGGERS]
    for logger in loggers:
        logger.addFilter(once)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(once)
        _SHARED_LOOKUPS.reset(token)


class TaskFriendlyAwsHookMixin(CallerFromFrames):
    """What this package's hooks change of ``AwsBaseHook``, through its public methods."""

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        """The provider's session, from ``[aws] session_factory``'s factory or else ours."""
        factory = session_factory()(
            conn=self.conn_config,  # type: ignore[attr-defined]
            region_name=region_name,
            config=self.config,  # type: ignore[attr-defined]
        )
        return factory.create_session(deferrable=deferrable)

    def get_client_type(
        self,
        region_name: str | None = None,
        config: Config | None = None,
        deferrable: bool = False,
    ) -> boto3.client:
        """The provider's client, configured as the connection says, without botocore retries:
        the package's back-off (``license_manager.retries``) is the only retry layer."""
        config = (config or self.config).merge(NO_BOTOCORE_RETRIES)  # type: ignore[attr-defined]
        return super().get_client_type(region_name, config, deferrable)  # type: ignore[misc]

    @classmethod
    def get_connection(cls, conn_id: str) -> Any:
        lookups = _SHARED_LOOKUPS.get()
        if lookups is None:
            return super().get_connection(conn_id)  # type: ignore[misc]
        if conn_id not in lookups:
            try:
                lookups[conn_id] = super().get_connection(conn_id)  # type: ignore[misc]
            except AirflowNotFoundException as error:
                lookups[conn_id] = error
        found = lookups[conn_id]
        if isinstance(found, AirflowNotFoundException):
            raise found
        return found


class S3DeleteRefused(RuntimeError):
    """S3 answered a DeleteObjects with errors for some of its keys."""


def send_small_body_at_once(params: dict[str, Any], **kwargs: Any) -> None:
    """botocore ``before-call`` handler: no ``Expect: 100-continue`` for a small body.

    botocore asks S3 for a ``100 Continue`` before sending any request body (PutObject,
    UploadPart), a round trip before each file is sent: that spares sending a large body S3
    would refuse, and costs a small one more than sending it.
    """
    headers = params.get("headers", {})
    if headers.get("Expect") == "100-continue":
        size = determine_content_length(params.get("body"))
        if size is not None and size < SEND_AT_ONCE_BYTES:
            del headers["Expect"]


#: Two 8 MiB parts in flight keep a fetch task's memory flat however large its usage file.
TRANSFER_CONFIG_ARGS = {"multipart_chunksize": 8 * 1024 * 1024, "max_concurrency": 2}


def _s3_asset(bucket_name: str, key: str) -> dict[str, str]:
    """An S3 object as the lineage collector takes it (as S3Hook's own methods pass it)."""
    return {"bucket": bucket_name, "key": key}


class ReportBucketHook(TaskFriendlyAwsHookMixin, S3Hook):
    """The provider's S3Hook with the report's transfer settings and three calls S3Hook lacks.

    Each of them records lineage as S3Hook's own methods do. The arguments are S3Hook's;
    ``transfer_config_args`` defaults to ``TRANSFER_CONFIG_ARGS``.

    Every request of the client, whichever method or transfer manager makes it (each part of
    a multipart upload or copy included), is retried with ``backoff`` (botocore's own retries
    are off), carries ``ExpectedBucketOwner`` (and ``ExpectedSourceBucketOwner`` for copies)
    when ``bucket_owner`` is given, and every object written uses SSE-KMS with ``kms_key_id``
    when it is given.

    :param kms_key_id: KMS key ID, key ARN, alias or alias ARN for SSE-KMS.
    :param bucket_owner: 12-digit account ID that must own the bucket.
    :param backoff: retry policy of each S3 request; License Manager's by default.
    :param client_config: botocore config merged over the connection's own (its
        ``config_kwargs`` extra), so that proxies or addressing set there still apply.
    """

    def __init__(
        self,
        *args: Any,
        kms_key_id: str | None = None,
        bucket_owner: str | None = None,
        backoff: Backoff | None = None,
        client_config: Config | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("transfer_config_args") is None:
            kwargs["transfer_config_args"] = dict(TRANSFER_CONFIG_ARGS)
        super().__init__(*args, **kwargs)
        self.kms_key_id = kms_key_id
        self.bucket_owner = bucket_owner
        self.backoff = backoff or Backoff()
        self.client_config = client_config

    def get_client_type(
        self,
        region_name: str | None = None,
        config: Config | None = None,
        deferrable: bool = False,
    ) -> boto3.client:
        """The package's client, with ``backoff`` as its retry policy and the bucket guards."""
        config = config or self.config
        if self.client_config is not None:
            config = config.merge(self.client_config)
        pool = max(config.max_pool_connections or 0, S3_POOL_CONNECTIONS)
        config = config.merge(Config(max_pool_connections=pool))
        client = super().get_client_type(region_name, config, deferrable)
        events = client.meta.events
        events.register("needs-retry.s3", self.backoff.needs_retry, unique_id=_S3_RETRY_HANDLER)
        events.register(
            "provide-client-params.s3", self.add_request_guards, unique_id=_S3_GUARDS_HANDLER
        )
        # the event botocore's own handler that sets the header is registered for, after it
        events.register("before-call.s3", send_small_body_at_once, unique_id=_S3_SMALL_BODY_HANDLER)
        return client

    def add_request_guards(self, params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        """botocore ``provide-client-params`` handler: owner and encryption on each request.

        The operation's input shape decides: any request that takes ``ExpectedBucketOwner``
        gets it, any that writes an object (PutObject, CopyObject, CreateMultipartUpload)
        gets SSE-KMS. Parts of a multipart upload are encrypted as the upload was created.
        """
        members = model.input_shape.members if model.input_shape else {}
        if self.bucket_owner:
            for member in ("ExpectedBucketOwner", "ExpectedSourceBucketOwner"):
                if member in members:
                    params.setdefault(member, self.bucket_owner)
        if self.kms_key_id and "SSEKMSKeyId" in members:
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = self.kms_key_id

    def put_bytes(
        self, data: bytes, key: str, bucket_name: str, content_type: str | None = None
    ) -> None:
        """One PutObject; S3Hook.load_bytes cannot set a Content-Type."""
        content = {"ContentType": content_type} if content_type else {}
        self.get_conn().put_object(
            Bucket=bucket_name, Key=key, Body=data, **{**self.extra_args, **content}
        )
        get_hook_lineage_collector().add_output_asset(
            context=self, scheme="s3", asset_kwargs=_s3_asset(bucket_name, key)
        )

    def delete_objects(self, bucket: str, keys: str | list) -> None:
        """S3Hook.delete_objects (1,000 keys a request), logging how many keys went instead of
        every one of them (the writer deletes a run's staging, thousands of keys, at once)."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        for start in range(0, len(keys), DELETE_BATCH):
            chunk = keys[start : start + DELETE_BATCH]
            response = self.get_conn().delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )
            if errors := response.get("Errors"):
                refused = ", ".join(f"{error['Key']} ({error.get('Code')})" for error in errors)
                raise S3DeleteRefused(f"S3 refused deleting from s3://{bucket}: {refused}")
        self.log.info("Deleted %d object(s) from s3://%s", len(keys), bucket)

    def read_bytes(self, key: str, bucket_name: str) -> bytes | None:
        """One GetObject, or None without such a key; S3Hook.read_key sends a HeadObject first."""
        try:
            response = self.get_conn().get_object(Bucket=bucket_name, Key=key)
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                return None
            raise
        get_hook_lineage_collector().add_input_asset(
            context=self, scheme="s3", asset_kwargs=_s3_asset(bucket_name, key)
        )
        return response["Body"].read()

    def read_chunks(self, key: str, bucket_name: str, chunk_size: int) -> Iterator[bytes]:
        """One GetObject whose body is read ``chunk_size`` bytes at a time, as it arrives."""
        response = self.get_conn().get_object(Bucket=bucket_name, Key=key)
        get_hook_lineage_collector().add_input_asset(
            context=self, scheme="s3", asset_kwargs=_s3_asset(bucket_name, key)
        )
        yield from response["Body"].iter_chunks(chunk_size)

    def copy_objects_in_parts(self, bucket_name: str, copies: Sequence[tuple[str, str]]) -> None:
        """Copy (source key, destination key) pairs in parts (UploadPartCopy), server-side.

        S3Hook.copy_object is one CopyObject, which S3 limits to 5 GB. One transfer manager
        copies every pair, ``COPY_CONCURRENCY`` parts at a time: no part passes through here.
        """
        from boto3.s3.transfer import create_transfer_manager

        config = copy.copy(self.transfer_config)
        config.max_concurrency = COPY_CONCURRENCY
        with create_transfer_manager(self.get_conn(), config) as manager:
            futures = [
                manager.copy({"Bucket": bucket_name, "Key": source}, bucket_name, destination)
                for source, destination in copies
            ]
            for future in futures:
                future.result()
        lineage = get_hook_lineage_collector()
        for source, destination in copies:
            lineage.add_input_asset(
                context=self, scheme="s3", asset_kwargs=_s3_asset(bucket_name, source)
            )
            lineage.add_output_asset(
                context=self, scheme="s3", asset_kwargs=_s3_asset(bucket_name, destination)
            )


def report_bucket_hook(
    aws_conn_id: str | None,
    *,
    kms_key_id: str | None = None,
    bucket_owner: str | None = None,
    backoff: Backoff | None = None,
    client_config: Config | None = None,
) -> ReportBucketHook:
    """The S3 hook on the report bucket, for every reader and writer of it: the tasks (with
    the run's KMS key and bucket owner), the compliance alert and the License consumption page
    (with its read-only connection, short timeouts and few retries)."""
    return ReportBucketHook(
        aws_conn_id=aws_conn_id,
        kms_key_id=kms_key_id,
        bucket_owner=bucket_owner,
        backoff=backoff,
        client_config=client_config,
    )


class LicenseManagerHook(TaskFriendlyAwsHookMixin, AwsBaseHook):
    """Interact with AWS License Manager in one Region.

    The client takes the connection's botocore config (``config_kwargs``: proxies, timeouts,
    ``user_agent_extra``, ...) with botocore's retries switched off: ``RateLimitExceededException``
    is no throttling to botocore, so the caller retries with ``license_manager.retries``.

    Additional arguments (such as ``aws_conn_id`` and ``region_name``) are passed down to
    :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    USAGE_PAGE_SIZE = 100
    CONFIGURATION_PAGE_SIZE = 100

    def __init__(
        self, *args: Any, credentials: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """``credentials``: an assumed role's (STS ``Credentials``) instead of the connection's.

        The connection still gives everything else: endpoint, botocore config, proxies.
        """
        kwargs["client_type"] = "license-manager"
        super().__init__(*args, **kwargs)
        self._credentials = credentials

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        if self._credentials is None:
            return super().get_session(region_name, deferrable)
        from license_manager.sessions import new_botocore_session

        return boto3.session.Session(
            botocore_session=new_botocore_session(),
            aws_access_key_id=self._credentials["AccessKeyId"],
            aws_secret_access_key=self._credentials["SecretAccessKey"],
            aws_session_token=self._credentials["SessionToken"],
            region_name=region_name or self.region_name,
        )

    def get_license_configuration(self, arn: str) -> dict[str, Any]:
        """The configuration's details as GetLicenseConfiguration returns them."""
        response = self.conn.get_license_configuration(LicenseConfigurationArn=arn)
        response.pop("ResponseMetadata", None)
        return response

    def get_usage_page(
        self, arn: str, page_size: int | None = None, next_token: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of usage records (ListUsageForLicenseConfiguration) and the next page's token.

        The token is None after the last page.
        """
        token = {"NextToken": next_token} if next_token else {}
        response = self.conn.list_usage_for_license_configuration(
            LicenseConfigurationArn=arn, MaxResults=page_size or self.USAGE_PAGE_SIZE, **token
        )
        return response.get("LicenseConfigurationUsageList", []), response.get("NextToken")

    def get_configuration_arn_page(
        self, page_size: int | None = None, next_token: str | None = None
    ) -> tuple[list[str], str | None]:
        """One page of this Region's configuration ARNs (ListLicenseConfigurations, through
        botocore's paginator) and the paginator's token of the next page, None after the last."""
        from botocore.paginate import TokenEncoder

        pages = self.conn.get_paginator("list_license_configurations").paginate(
            PaginationConfig={
                "PageSize": page_size or self.CONFIGURATION_PAGE_SIZE,
                "StartingToken": next_token,
            }
        )
        page = next(iter(pages))
        arns = [c["LicenseConfigurationArn"] for c in page.get("LicenseConfigurations", [])]
        following = page.get("NextToken")
        return arns, TokenEncoder().encode({"NextToken": following}) if following else None
