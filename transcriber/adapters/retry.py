"""Classify AWS SDK failures into the pipeline's retryable and permanent errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

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


def is_retryable_client_error(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _RETRYABLE_CODES or status >= 500


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
            if isinstance(cause, ClientError) and is_retryable_client_error(cause):
                raise RetryableError(f"{func.__name__}: {err}") from err
            raise
        except (EndpointConnectionError, ConnectionError, ReadTimeoutError) as err:
            raise RetryableError(f"{func.__name__}: {err}") from err

    return wrapper
