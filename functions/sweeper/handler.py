"""Sweeper: every five minutes, requeue or fail the jobs that stopped moving.

A job can be left PENDING or PROCESSING with no run behind it: an execution that ended without
reaching the state machine's Catch and whose status-change event the fail function never got,
or a crash between recording a job and starting its run. The sweeper finds such jobs through the
jobs table's (status, updated_at) index, checks that their latest execution is not running, and
requeues them (the new run transcribes only the chunks without a stored result) or, once the
retry budget is spent, fails them with ``STALLED`` (see transcriber/domain/recovery.py). Jobs the
HTTP API created whose upload never arrived are failed with ``UPLOAD_NOT_RECEIVED``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.workflow import Workflow
from transcriber.domain import recovery
from transcriber.domain.jobs import EVENT_JOB_FAILED, failed_event_detail
from transcriber.observability import count_failure
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("events", "stepfunctions"), resources=("dynamodb",))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Called by the schedule rule (the event's content is not used), or invoked by hand."""
    settings = Settings.from_env()
    report = recovery.sweep(
        jobs=JobRepository(settings.jobs_table),
        executions=Workflow(settings.state_machine_arn),
        now=datetime.now(UTC),
    )
    for requeued in report.requeued:
        logger.warning(
            "Stalled job requeued",
            extra={"job_id": requeued.job_id, "attempt": requeued.attempt, "execution": requeued.execution},
        )
    publisher = EventPublisher(settings.event_bus_name)
    for job, reason_code, message in report.failed:
        logger.warning("Job failed by the sweep", extra={"job_id": job["job_id"], "reason_code": reason_code})
        publisher.publish(
            EVENT_JOB_FAILED,
            failed_event_detail(job["job_id"], job.get("bucket"), job.get("key"), reason_code, message),
        )
        count_failure(metrics, reason_code)
    metrics.add_metric(name="JobsRequeued", unit=MetricUnit.Count, value=len(report.requeued))
    logger.info("Sweep done", extra=report.to_dict())
    return report.to_dict()
