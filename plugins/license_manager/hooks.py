"""The package's AWS hooks: License Manager in one Region with back-off on throttling, and S3.

Both hooks share the botocore data they load (see ``SHARED_BOTOCORE_DATA``), and
``license_manager.preload`` can load it before task processes are forked.
"""

from __future__ import annotations

import copy
import logging
import random
import sys
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.session
from airflow.providers.amazon.aws.hooks import base_aws
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook, BaseSessionFactory
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk.exceptions import AirflowNotFoundException
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.hooks import HierarchicalEmitter
from botocore.loaders import Loader
from botocore.paginate import TokenEncoder

log = logging.getLogger(__name__)

#: botocore data (endpoints, service models, rule sets) shared by every session of this
#: package's hooks in a process. A new botocore session parses it all again: endpoints.json
#: alone is 1.2 MB and costs about 0.2 CPU-seconds, per session, per task. The amazon
#: provider shares a loader the same way for its async sessions.
SHARED_BOTOCORE_DATA = Loader(
    extra_search_paths=[str(Path(boto3.__file__).parent / "data")]  # boto3's resource models
)
PRELOADED_SERVICES = ("license-manager", "s3")


def _emitter_with_builtin_handlers() -> HierarchicalEmitter:
    emitter = HierarchicalEmitter()
    botocore.session.Session(event_hooks=emitter)  # registers botocore's built-in handlers
    return emitter


#: botocore's built-in event handlers, registered once per process. A new botocore session
#: registers them all again (about 8 ms of CPU); a session made by ``new_botocore_session``
#: starts from a copy instead, as botocore's own clients do with their session's handlers.
BOTOCORE_BUILTIN_HANDLERS = _emitter_with_builtin_handlers()

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {"RateLimitExceededException", "ThrottlingException", "Throttling", "TooManyRequestsException"}
)


def is_retryable(error: BaseException) -> bool:
    """Throttling, 5xx answers and connection errors are worth another try."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in THROTTLING_CODES or status >= 500
    return isinstance(error, BotocoreConnectionError | HTTPClientError)


@dataclass(frozen=True)
class Backoff:
    """Bounded exponential back-off with full jitter.

    Attempt n (from 1) that fails with a retryable error waits a random time in
    [0, min(max_delay, base_delay * 2 ** (n - 1))] before attempt n + 1.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def call(self, operation: Callable[[], T], description: str) -> T:
        attempt = 1
        while True:
            try:
                return operation()
            except Exception as error:
                if not is_retryable(error) or attempt >= self.max_attempts:
                    raise
                wait = self.delay(attempt)
                log.warning(
                    "%s failed (attempt %d of %d): %s; retrying in %.2fs",
                    description,
                    attempt,
                    self.max_attempts,
                    error,
                    wait,
                )
                time.sleep(wait)
                attempt += 1


def new_botocore_session() -> botocore.session.Session:
    """A botocore session equal to a new default one, from this process's shared parts."""
    session = botocore.session.Session(
        event_hooks=copy.copy(BOTOCORE_BUILTIN_HANDLERS), include_builtin_handlers=False
    )
    session.register_component("data_loader", SHARED_BOTOCORE_DATA)
    return session


class TaskFriendlySessionFactory(BaseSessionFactory):
    """The provider's session factory, building its plain sessions on ``new_botocore_session``.

    Sessions that assume a role are left to the provider.
    """

    def create_session(self, deferrable: bool = False) -> Any:
        if not self.conn and not deferrable:
            self.log.info(
                "No AWS connection: boto3's own credential chain is used (region_name=%r).",
                self.region_name,
            )
            return self._create_basic_session({"region_name": self.region_name})
        return super().create_session(deferrable=deferrable)

    def _create_basic_session(self, session_kwargs: dict[str, Any]) -> boto3.session.Session:
        return boto3.session.Session(botocore_session=new_botocore_session(), **session_kwargs)


def load_botocore_data(services: tuple[str, ...] = PRELOADED_SERVICES) -> None:
    """Parse botocore's endpoint data and the models of ``services`` into the shared loader.

    Creating a client loads what a real one needs, the paginators aside; the dummy credentials
    keep botocore from looking for real ones, and nothing is sent.
    """
    session = new_botocore_session()
    for service in services:
        session.create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id="preload",
            aws_secret_access_key="preload",  # noqa: S106 - not a secret, no call is made
        )
        SHARED_BOTOCORE_DATA.load_service_model(service, "paginators-1")


_SHARED_LOOKUPS: ContextVar[dict[str, Any] | None] = ContextVar(
    "license_manager_connection_lookups", default=None
)


@contextmanager
def connection_lookups_shared() -> Generator[None]:
    """Within this block, hooks of this package look each connection up once between them.

    In a task process every lookup is a round trip through the supervisor to the API server;
    an operator with two hooks on one connection would make it twice. A connection that is
    not found is remembered as not found.
    """
    token = _SHARED_LOOKUPS.set({})
    try:
        yield
    finally:
        _SHARED_LOOKUPS.reset(token)


class TaskFriendlyAwsHookMixin:
    """Per-client costs of ``AwsBaseHook`` that outweigh a short task's own work.

    - Sessions get the process-wide ``SHARED_BOTOCORE_DATA`` loader instead of parsing
      botocore's data again, and (unless ``[aws] session_factory`` names another factory)
      start from a copy of ``BOTOCORE_BUILTIN_HANDLERS`` instead of registering them again.
    - Inside ``connection_lookups_shared()``, hooks look each connection up once between them.
    - The caller named in the user agent (``Caller/<operator class>``) is found by walking
      the frames. The provider's ``inspect.stack()`` reads the source of every frame and scans
      ``sys.modules`` for each; profiled in task processes, it was two thirds of a fetch
      task's CPU time.
    """

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        if base_aws.SessionFactory is BaseSessionFactory and not deferrable:
            session = TaskFriendlySessionFactory(
                conn=self.conn_config,  # type: ignore[attr-defined]
                region_name=region_name,
                config=self.config,  # type: ignore[attr-defined]
            ).create_session()
        else:  # a factory of the user's own, or an aiobotocore session
            session = super().get_session(region_name=region_name, deferrable=deferrable)  # type: ignore[misc]
        if isinstance(session, boto3.session.Session):
            # boto3 has no public accessor for its botocore session.
            session._session.register_component("data_loader", SHARED_BOTOCORE_DATA)
        return session

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

    def _get_caller(self, target_function_name: str = "execute") -> str:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == target_function_name and "self" in frame.f_locals:
                return type(frame.f_locals["self"]).__name__
            frame = frame.f_back
        return "Unknown"


class ReportBucketHook(TaskFriendlyAwsHookMixin, S3Hook):
    """The provider's S3Hook, sharing botocore data with ``LicenseManagerHook``."""


class LicenseManagerHook(TaskFriendlyAwsHookMixin, AwsBaseHook):
    """Interact with AWS License Manager in one Region.

    botocore's own retries are switched off so that every retry, including the
    ``RateLimitExceededException`` that botocore does not recognise as throttling,
    goes through one back-off policy and each API call is counted once.

    :param region_name: the Region of the configurations this hook reads.
    :param backoff: retry policy for throttling, 5xx answers and connection errors.
    """

    USAGE_PAGE_SIZE = 100

    def __init__(self, *args: Any, backoff: Backoff | None = None, **kwargs: Any) -> None:
        kwargs["client_type"] = "license-manager"
        kwargs.setdefault("config", Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        super().__init__(*args, **kwargs)
        self.backoff = backoff or Backoff()

    def get_license_configuration(self, arn: str) -> dict[str, Any]:
        """The configuration's details as GetLicenseConfiguration returns them."""
        response = self.backoff.call(
            lambda: self.conn.get_license_configuration(LicenseConfigurationArn=arn),
            f"GetLicenseConfiguration {arn}",
        )
        response.pop("ResponseMetadata", None)
        return response

    def iter_usage_pages(self, arn: str, page_size: int | None = None) -> Iterator[list[dict]]:
        """Yield every page of usage records through botocore's paginator.

        Each page is fetched by its own paginator iteration starting from the previous
        page's token, so a page that fails with a retryable error is asked for again from
        the same token: no record is skipped or repeated.
        """
        paginator = self.conn.get_paginator("list_usage_for_license_configuration")
        config: dict[str, Any] = {"PageSize": page_size or self.USAGE_PAGE_SIZE}

        def next_page() -> dict[str, Any] | None:
            pages = paginator.paginate(LicenseConfigurationArn=arn, PaginationConfig=config)
            return next(iter(pages), None)

        while page := self.backoff.call(next_page, f"ListUsageForLicenseConfiguration {arn}"):
            yield page.get("LicenseConfigurationUsageList", [])
            if not (token := page.get("NextToken")):
                return
            config["StartingToken"] = TokenEncoder().encode({"NextToken": token})
