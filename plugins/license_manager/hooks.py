"""LicenseManagerHook: License Manager calls in one Region, with back-off on throttling."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.paginate import TokenEncoder

log = logging.getLogger(__name__)

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


class LicenseManagerHook(AwsBaseHook):
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
