"""Error classes shared by every stage.

Every failure the pipeline raises on purpose is a :class:`PipelineError` carrying a reason code.
``retryable`` tells the state machine whether trying again can help (throttling, network,
timeouts) or whether the job must end at once with a reason the user can act on.
The class *name* is what Step Functions matches in Retry and Catch, so names are part of the
contract with the state machine definition in ``infra/``.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every deliberate pipeline failure."""

    reason_code = "INTERNAL_ERROR"
    retryable = False

    def __init__(self, message: str, *, reason_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason_code:
            self.reason_code = reason_code


class PermanentError(PipelineError):
    """Trying again cannot help: the input or the request is at fault."""


class RetryableError(PipelineError):
    """A transient condition (throttling, network, timeout): the same call may succeed later."""

    reason_code = "TRANSIENT_ERROR"
    retryable = True


class UnsupportedFormatError(PermanentError):
    reason_code = "UNSUPPORTED_FORMAT"


class CorruptAudioError(PermanentError):
    reason_code = "CORRUPT_AUDIO"


class NoAudioStreamError(PermanentError):
    reason_code = "NO_AUDIO_STREAM"


class EmptyFileError(PermanentError):
    reason_code = "EMPTY_FILE"


class TooLargeError(PermanentError):
    reason_code = "TOO_LARGE"


class SizeMismatchError(PermanentError):
    """The upload's size is not the size its job declared (the upload URL is signed for it)."""

    reason_code = "SIZE_MISMATCH"


class TooLongError(PermanentError):
    reason_code = "TOO_LONG"


class InvalidOptionsError(PermanentError):
    """A per-job option (language, beam size, ...) that cannot be honoured as given."""

    reason_code = "INVALID_OPTIONS"


class EngineError(PermanentError):
    reason_code = "ENGINE_ERROR"


class TransientEngineError(RetryableError):
    reason_code = "ENGINE_TRANSIENT"


class DiarizationError(PermanentError):
    """Speaker labels were asked for and cannot be produced: the job fails rather than drop them."""

    reason_code = "DIARIZATION_FAILED"


#: Names of the error types Step Functions retries as transient (a few attempts, seconds apart).
RETRYABLE_ERROR_NAMES: tuple[str, ...] = (
    "RetryableError",
    "TransientEngineError",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "States.Timeout",
)
#: Lambda's answer when a function or the account is at its concurrency limit: retried too, on a
#: longer budget of its own (a burst keeps a function at its limit for minutes). Anything that is
#: neither fails the job.
THROTTLED_ERROR_NAME = "Lambda.TooManyRequestsException"

#: Failures caused by the uploaded object or its options: the same upload fails the same way again.
INPUT_ERRORS: tuple[type[PermanentError], ...] = (
    UnsupportedFormatError,
    CorruptAudioError,
    NoAudioStreamError,
    EmptyFileError,
    TooLargeError,
    TooLongError,
    InvalidOptionsError,
)

_KNOWN_ERRORS: tuple[type[PipelineError], ...] = (
    PipelineError,
    PermanentError,
    RetryableError,
    *INPUT_ERRORS,
    EngineError,
    TransientEngineError,
    DiarizationError,
)
_BY_NAME: dict[str, type[PipelineError]] = {cls.__name__: cls for cls in _KNOWN_ERRORS}


def reason_for_error_name(error_name: str) -> str:
    """Map an error type name (as Step Functions reports it) to a reason code."""
    cls = _BY_NAME.get(error_name)
    if cls is not None:
        return cls.reason_code
    if error_name == "States.Timeout" or error_name.endswith("TimeoutError"):
        return "TIMEOUT"
    if error_name == "States.Aborted":  # someone stopped the execution
        return "ABORTED"
    if error_name == "States.ExceedToleratedFailureThreshold":  # a chunk failed, its own error unknown
        return "CHUNK_FAILED"
    return "INTERNAL_ERROR"
