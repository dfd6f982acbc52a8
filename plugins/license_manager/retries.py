"""AWS errors and the back-off policy of the package's AWS calls: an error's code and how it
is reported, what is worth another try, and when.

botocore's own retries are off for License Manager (``LicenseManagerHook``): botocore does
not recognise ``RateLimitExceededException`` as throttling, and one policy for every retry
keeps each API call counted once. The operator applies the policy around the hook's calls;
``ReportBucketHook`` applies it to each S3 request through botocore's ``needs-retry`` event.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

log = logging.getLogger(__name__)

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {"RateLimitExceededException", "ThrottlingException", "Throttling", "TooManyRequestsException"}
)


def error_code(error: ClientError) -> str:
    """The error code of an AWS answer ("" when it carries none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_error(error: BaseException) -> str:
    """``Code: message`` of an AWS answer, ``Type: text`` of any other error."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', str(error))}"
    return f"{type(error).__name__}: {error}"


def is_retryable_answer(code: str, status: int) -> bool:
    """An AWS error answer worth another try: throttling or a 5xx (S3's 503 SlowDown included)."""
    return code in THROTTLING_CODES or status >= 500


def is_retryable(error: BaseException) -> bool:
    """Throttling, 5xx answers and connection errors are worth another try.

    boto3's S3UploadFailedError wraps the ClientError of the upload; that error decides.
    """
    from boto3.exceptions import S3UploadFailedError

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return is_retryable_answer(error_code(error), status)
    if isinstance(error, S3UploadFailedError) and error.__context__ is not None:
        return is_retryable(error.__context__)
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
        """``operation()``, tried again after a retryable error until ``max_attempts``."""
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

    def needs_retry(
        self,
        response: tuple[Any, dict[str, Any]] | None = None,
        attempts: int = 1,
        caught_exception: BaseException | None = None,
        operation: Any = None,
        **kwargs: Any,
    ) -> float | None:
        """This policy as a botocore ``needs-retry`` handler: the delay before the next attempt.

        Registered on a client, it retries each request (a part of a multipart upload, a copy,
        a completion) on its own; None means no retry.
        """
        if caught_exception is not None:
            retryable, reason = is_retryable(caught_exception), str(caught_exception)
        elif response is not None:
            status = response[0].status_code
            code = response[1].get("Error", {}).get("Code", "")
            retryable, reason = is_retryable_answer(code, status), f"{status} {code}".strip()
        else:
            return None
        if not retryable or attempts >= self.max_attempts:
            return None
        wait = self.delay(attempts)
        name = getattr(operation, "name", "request")
        log.warning(
            "%s failed (attempt %d of %d): %s; retrying in %.2fs",
            name,
            attempts,
            self.max_attempts,
            reason,
            wait,
        )
        return wait

    def pages(
        self, fetch_page: Callable[[str | None], tuple[T, str | None]], description: str
    ) -> Iterator[T]:
        """Every page of a token-paginated call, each page under this policy.

        ``fetch_page(token)`` returns one page and the token of the next (None after the
        last). A page that fails is asked for again with its own token, so no page is skipped
        or read twice.
        """
        token: str | None = None
        while True:
            page, token = self.call(partial(fetch_page, token), description)
            yield page
            if not token:
                return
