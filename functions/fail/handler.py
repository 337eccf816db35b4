"""Mark failed: the state machine's Catch lands here; the job ends FAILED with a reason code."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.domain.errors import reason_for_error_name
from transcriber.domain.jobs import EVENT_JOB_FAILED, JobStatus
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


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


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    reason_code, message = describe_failure(event.get("error") or {})
    changed = JobRepository(settings.jobs_table).mark_failed(job_id, reason_code=reason_code, message=message)
    if changed:
        EventPublisher(settings.event_bus_name).publish(
            EVENT_JOB_FAILED,
            {
                "job_id": job_id,
                "status": JobStatus.FAILED.value,
                "bucket": event.get("bucket"),
                "key": event.get("key"),
                "reason_code": reason_code,
                "message": message,
            },
        )
        metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("Job failed", extra={"reason_code": reason_code, "error": message})
    return {"job_id": job_id, "status": JobStatus.FAILED.value, "reason_code": reason_code}
