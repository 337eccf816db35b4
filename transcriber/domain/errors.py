"""Error classes shared by every stage.

Every failure the pipeline raises on purpose is a :class:`PipelineError` carrying a reason code.
``retryable`` tells the state machine whether trying again can help (throttling, network,
timeouts) or whether the job must end at once with a reason the user can act on.
The class *name* is what Step Functions matches in Retry and Catch, so names are part of the
contract with the state machine definition in ``infra/``.
"""

from __future__ import annotations

from enum import StrEnum


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

#: Errors whose message is written for the user and is shown as it is: the input errors, and the
#: engine's and diarization's own. Any other error (the generic base classes, whose messages name
#: AWS calls and S3 paths, an SDK's ClientError, a bug's ValueError, a Lambda timeout) gets the
#: generic message of its reason (:func:`service_failure_message`) and its text is only logged.
USER_FACING_ERRORS: tuple[type[PipelineError], ...] = (
    *INPUT_ERRORS,
    SizeMismatchError,
    EngineError,
    TransientEngineError,
    DiarizationError,
)
USER_FACING_ERROR_NAMES = frozenset(cls.__name__ for cls in USER_FACING_ERRORS)

#: Lambda stopped the function at its timeout (Step Functions' error name for it).
LAMBDA_TIMEOUT_ERROR_NAME = "Sandbox.Timedout"


class Fault(StrEnum):
    """Whose fault a job's failure is: what an on-call alarm counts (``service``) and what it
    leaves to the user (``input``)."""

    INPUT = "input"
    SERVICE = "service"


#: Reasons a job fails through no fault of the service: the upload or its options, or someone's
#: own action (the job deleted or its run stopped, the upload never sent), or malware in it. The
#: names of the last ones are those of ``stages/deleted.py``, ``domain/recovery.py`` and
#: ``domain/malware.py``; a unit test keeps them equal.
INPUT_FAULT_REASON_CODES = frozenset(
    {
        *(cls.reason_code for cls in INPUT_ERRORS),
        SizeMismatchError.reason_code,
        "JOB_DELETED",
        "UPLOAD_NOT_RECEIVED",
        "ABORTED",
        "MALWARE_DETECTED",
    }
)


def fault_of(reason_code: str) -> Fault:
    """The input's fault for :data:`INPUT_FAULT_REASON_CODES`; any other reason (timeouts,
    transient and internal errors, the engine's, a stalled job) is the service's."""
    return Fault.INPUT if reason_code in INPUT_FAULT_REASON_CODES else Fault.SERVICE


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
    if error_name in {"States.Timeout", LAMBDA_TIMEOUT_ERROR_NAME} or error_name.endswith("TimeoutError"):
        return "TIMEOUT"
    if error_name == "States.Aborted":  # someone stopped the execution
        return "ABORTED"
    if error_name == "States.ExceedToleratedFailureThreshold":  # a chunk failed, its own error unknown
        return "CHUNK_FAILED"
    return "INTERNAL_ERROR"


_RETRY_HINT = "Retry the job (`transcriber retry {id}`, or POST /v1/transcriptions/{id}/retry)"
#: What the user reads when the service, not the upload, is at fault; by reason code.
_SERVICE_FAILURE_MESSAGES = {
    "TIMEOUT": (
        "A processing step ran out of time before it finished. {retry}: it reuses the parts "
        "already transcribed. If it times out again, split the audio into shorter files."
    ),
    "TRANSIENT_ERROR": (
        "A temporary problem in the service outlasted the automatic retries. {retry}; it usually "
        "succeeds a few minutes later."
    ),
    "ABORTED": "The job's processing was stopped before it finished. {retry} to run it again.",
    "CHUNK_FAILED": (
        "A part of the audio failed after its retries without reporting why. {retry}; if it fails "
        "again, contact support."
    ),
}
_INTERNAL_FAILURE_MESSAGE = (
    "The job failed on an unexpected error in the service, not in your file. {retry}; if it fails "
    "again, contact support."
)


def service_failure_message(reason_code: str, *, job_id: str, reference: str | None = None) -> str:
    """The user's message for a failure that is not one of :data:`USER_FACING_ERRORS`.

    The raw error text names AWS calls, buckets and keys, and means nothing to the user (nor
    should a webhook receiver see it): this says what happened in their terms, that a retry may
    help, and gives a reference (the failed Lambda request's id) support can find the logs by.
    """
    template = _SERVICE_FAILURE_MESSAGES.get(reason_code, _INTERNAL_FAILURE_MESSAGE)
    message = template.format(retry=_RETRY_HINT.format(id=job_id))
    return f"{message} (Reference: {reference}.)" if reference else message
