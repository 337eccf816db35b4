"""Mark failed: the state machine's Catch lands here; the job ends FAILED with a reason code."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.domain.errors import reason_for_error_name
from transcriber.domain.jobs import EVENT_JOB_FAILED, JobStatus, failed_event_detail
from transcriber.observability import count_failure
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("events",), resources=("dynamodb",))


def describe_failure(error: dict[str, Any]) -> tuple[str, str]:
    """Reason code and user-facing message from a Step Functions ``{Error, Cause}`` pair."""
    name = str(error.get("Error") or "States.TaskFailed")
    cause = error.get("Cause") or ""
    message = cause
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            message = str(parsed.get("errorMessage") or cause)
    except (TypeError, ValueError):
        pass
    return reason_for_error_name(name), message or f"The job failed with {name}."


EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# What an execution that ended without reaching the Catch reports: no error name for an abort,
# and a timeout's error is States.Timeout (reason TIMEOUT).
_STATUS_ERRORS = {"TIMED_OUT": "States.Timeout", "ABORTED": "States.Aborted", "FAILED": "States.Runtime"}


def from_execution_event(event: dict[str, Any]) -> dict[str, Any]:
    """The Catch-shaped input from an EventBridge "Execution Status Change" event (default bus).

    The job id and the source object come from the execution's input (a retried job's execution
    is named ``<job_id>-r<n>``, so the name alone is not the job id; it is the fallback). An abort
    carries no error, so its status stands in for one.
    """
    detail = event["detail"]
    status = str(detail.get("status") or "FAILED")
    try:
        started_with = json.loads(detail.get("input") or "{}")
    except ValueError:
        started_with = {}
    if not isinstance(started_with, dict):
        started_with = {}
    cause = detail.get("cause") or f"The execution ended {status}."
    return {
        "job_id": started_with.get("job_id") or detail["name"],
        "bucket": started_with.get("bucket"),
        "key": started_with.get("key"),
        "error": {
            "Error": detail.get("error") or _STATUS_ERRORS.get(status, "States.Runtime"),
            "Cause": cause,
        },
    }


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Called by the state machine's Catch, or by the rule for executions that ended abnormally."""
    if event.get("detail-type") == EXECUTION_STATUS_CHANGE:
        event = from_execution_event(event)
    settings = Settings.from_env()
    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    reason_code, message = describe_failure(event.get("error") or {})
    changed = JobRepository(settings.jobs_table).mark_failed(job_id, reason_code=reason_code, message=message)
    if changed:
        EventPublisher(settings.event_bus_name).publish(
            EVENT_JOB_FAILED,
            failed_event_detail(job_id, event.get("bucket"), event.get("key"), reason_code, message),
        )
        count_failure(metrics, reason_code)
    logger.warning("Job failed", extra={"reason_code": reason_code, "error": message})
    return {"job_id": job_id, "status": JobStatus.FAILED.value, "reason_code": reason_code}
