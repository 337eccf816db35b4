"""Mark failed: a job ends FAILED with a reason code, from the state machine's Catch or from an
execution that ended without reaching it (the status-change rule)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from transcriber.domain.errors import USER_FACING_ERROR_NAMES, reason_for_error_name, service_failure_message
from transcriber.domain.jobs import unannounced_failure
from transcriber.domain.messages import FailRequest, FailResponse, JobFailed, StepError
from transcriber.observability import count_failure
from transcriber.stages.chunk_failures import MAP_FAILURE_THRESHOLD, chunk_failure
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)
metrics = Metrics()

#: A chunk that failed without reporting its error (its function timed out or ran out of memory).
UNRECORDED_CHUNK_FAILURE = (
    "A chunk of the audio failed after its retries without reporting why (its function may have "
    "timed out or run out of memory); retry the job, and contact support if it fails again."
)
# What an execution that ended without reaching the Catch reports: no error name for an abort,
# and a timeout's error is States.Timeout (reason TIMEOUT, as Lambda's own Sandbox.Timedout).
_STATUS_ERRORS = {"TIMED_OUT": "States.Timeout", "ABORTED": "States.Aborted", "FAILED": "States.Runtime"}


def announce_failure(event: JobFailed, *, ports: StagePorts) -> None:
    """Send JobFailed, then mark the job ``failure_announced``: a retry of this step, or a later
    sweep, that finds the mark does not send it again, and one that does not find it does."""
    ports.events.emit(event)
    ports.jobs.note_failure_announced(event.job_id)


def describe_failure(error: StepError, *, job_id: str) -> tuple[str, str]:
    """Reason code and user-facing message from a Step Functions ``{Error, Cause}`` pair.

    Only the errors written for users (:data:`USER_FACING_ERROR_NAMES`) keep their own message;
    any other error's text (an SDK error naming a bucket, a bug's ValueError, a Lambda timeout)
    is logged here and replaced by its reason's generic message, which the job record, the
    JobFailed event and the webhook carry."""
    reason_code = reason_for_error_name(error.error)
    raw_message, request_id = _lambda_error(error.cause)
    if error.error in USER_FACING_ERROR_NAMES and raw_message:
        return reason_code, raw_message
    logger.warning(
        "Job failed on an error not written for users",
        extra={
            "reason_code": reason_code,
            "error": error.error,
            "cause": error.cause,
            "request_id": request_id,
        },
    )
    return reason_code, service_failure_message(reason_code, job_id=job_id, reference=request_id)


def _lambda_error(cause: str) -> tuple[str, str | None]:
    """The error message and the failed request's id of a Lambda task's Cause (its error payload
    as JSON), or the Cause as it is with no id."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return cause, None
    if not isinstance(parsed, dict):
        return cause, None
    request_id = parsed.get("requestId")
    return str(parsed.get("errorMessage") or cause), str(request_id) if request_id else None


def from_execution_status(detail: dict[str, Any]) -> FailRequest:
    """The Catch-shaped request from an "Execution Status Change" event's detail.

    The job id and the source object come from the execution's input (a retried job's execution
    is named ``<job_id>-r<n>``, so the name alone is not the job id; it is the fallback). An abort
    carries no error, so its status stands in for one.
    """
    status = str(detail.get("status") or "FAILED")
    try:
        started_with = json.loads(detail.get("input") or "{}")
    except ValueError:
        started_with = {}
    if not isinstance(started_with, dict):
        started_with = {}
    return FailRequest(
        job_id=started_with.get("job_id") or detail["name"],
        bucket=started_with.get("bucket"),
        key=started_with.get("key"),
        error=StepError(
            Error=detail.get("error") or _STATUS_ERRORS.get(status, "States.Runtime"),
            Cause=detail.get("cause") or f"The execution ended {status}.",
        ),
    )


def mark_failed(request: FailRequest, *, ports: StagePorts) -> FailResponse:
    """Record the job FAILED (unless it already ended) and announce it once.

    A failed Distributed Map names no chunk error: the failed chunk's own (kept by the transcribe
    step) stands in, so its reason code and message reach the user."""
    error = request.error
    if error.error == MAP_FAILURE_THRESHOLD:
        error = chunk_failure(ports.jobs.get(request.job_id)) or StepError(
            Error=MAP_FAILURE_THRESHOLD, Cause=UNRECORDED_CHUNK_FAILURE
        )
    reason_code, message = describe_failure(error, job_id=request.job_id)
    recorded = ports.jobs.mark_failed(request.job_id, reason_code=reason_code, message=message)
    # A retry of this step finds the job FAILED for this reason but unannounced (the first try
    # stopped between the two). Another end, or another reason (the execution's own status-change
    # event after MarkFailed ran), is not announced again.
    if recorded or unannounced_failure(ports.jobs.get(request.job_id), {reason_code}):
        announce_failure(
            JobFailed(
                job_id=request.job_id,
                bucket=request.bucket,
                key=request.key,
                reason_code=reason_code,
                message=message,
            ),
            ports=ports,
        )
        if recorded:
            count_failure(metrics, reason_code)
    logger.warning("Job failed", extra={"reason_code": reason_code, "error": message})
    return FailResponse(job_id=request.job_id, reason_code=reason_code)
