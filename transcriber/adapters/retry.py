"""Classify AWS SDK failures into the pipeline's retryable and permanent errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, IncompleteReadError

from transcriber.domain.errors import RetryableError

P = ParamSpec("P")
R = TypeVar("R")

_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
        "InternalFailure",
    }
)


#: Faults of the connection rather than of the request: connecting (``ConnectionError``: endpoint,
#: connect timeout, proxy), reading (``HTTPClientError``: read timeout, a connection closed or a
#: stream broken while a body is read), a body shorter than its Content-Length, and boto3's managed
#: download giving up after its own retries of those.
_NETWORK_FAULTS = (ConnectionError, HTTPClientError, IncompleteReadError, RetriesExceededError)


def is_retryable_code(code: str) -> bool:
    """An AWS error code that says "not now" (throttled, timed out, service busy or failing)."""
    return code in _RETRYABLE_CODES


def is_retryable_client_error(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return is_retryable_code(code) or status >= 500


def translate_client_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Re-raise transient SDK failures as :class:`RetryableError`; leave the rest alone."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ClientError as err:
            if is_retryable_client_error(err):
                raise RetryableError(f"{func.__name__}: {err}") from err
            raise
        except S3UploadFailedError as err:
            # boto3's managed upload wraps the SDK's error: classify the error it wraps.
            cause = err.__cause__ or err.__context__
            if isinstance(cause, _NETWORK_FAULTS) or (
                isinstance(cause, ClientError) and is_retryable_client_error(cause)
            ):
                raise RetryableError(f"{func.__name__}: {err}") from err
            raise
        except _NETWORK_FAULTS as err:
            raise RetryableError(f"{func.__name__}: {err}") from err

    return wrapper
