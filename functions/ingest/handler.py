"""Ingest: an S3 ObjectCreated event becomes a validated job and exactly one execution."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.workflow import Workflow
from transcriber.domain import intake
from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import EVENT_JOB_CREATED, EVENT_JOB_FAILED, JobStatus, job_id_for
from transcriber.domain.options import JobOptions
from transcriber.observability import count_failure
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def ingest_object(
    bucket: str,
    key: str,
    size: int,
    etag: str | None,
    version_id: str | None,
    *,
    settings: Settings,
    store: ObjectStore,
    jobs: JobRepository,
    events: EventPublisher,
    workflow: Workflow,
) -> dict[str, Any]:
    """Validate one upload, record its job and start its execution (each at most once)."""
    job_id = job_id_for(bucket, key, etag, version_id)
    logger.append_keys(job_id=job_id)
    job: dict[str, Any] = {"job_id": job_id, "bucket": bucket, "key": key, "size": size}
    try:
        job["format"] = intake.check_name_and_size(key, size, settings.max_upload_bytes)
        head = store.read_head(bucket, key, intake.SNIFF_BYTES)
        job["format"] = intake.check_content(head.data)
        options = JobOptions.from_metadata(head.metadata)
        job["options"] = options.to_dict()
        job["sha256"] = store.sha256(bucket, key)
    except PermanentError as err:
        failed = {
            **job,
            "status": JobStatus.FAILED.value,
            "reason_code": err.reason_code,
            "error_message": err.message,
        }
        if jobs.create(failed):
            logger.warning("Upload rejected", extra={"reason_code": err.reason_code, "error": err.message})
            metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)
            count_failure(metrics, err.reason_code)
            events.publish(
                EVENT_JOB_FAILED,
                {
                    "job_id": job_id,
                    "status": JobStatus.FAILED.value,
                    "bucket": bucket,
                    "key": key,
                    "reason_code": err.reason_code,
                    "message": err.message,
                },
            )
        return {"job_id": job_id, "status": JobStatus.FAILED.value, "reason_code": err.reason_code}

    created = jobs.create({**job, "status": JobStatus.PENDING.value})
    if created:
        metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        events.publish(
            EVENT_JOB_CREATED,
            {
                "job_id": job_id,
                "status": JobStatus.PENDING.value,
                "bucket": bucket,
                "key": key,
                "size": size,
                "sha256": job["sha256"],
            },
        )
    else:
        logger.info("Repeated event for an existing job")
    # Always try: the execution name is the job id, so a repeat cannot start a second run, and a
    # crash between recording the job and starting it is healed by the redelivered event.
    started = workflow.start(
        job_id, {"job_id": job_id, "bucket": bucket, "key": key, "options": options.to_dict()}
    )
    logger.info("Execution start", extra={"started": started, "new_job": created})
    return {"job_id": job_id, "status": JobStatus.PENDING.value, "started": started}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    store, jobs = ObjectStore(), JobRepository(settings.jobs_table)
    events, workflow = EventPublisher(settings.event_bus_name), Workflow(settings.state_machine_arn)
    results = []
    for record in event.records:
        obj = record.s3.get_object
        key = unquote_plus(obj.key)  # S3 event keys arrive URL-encoded
        results.append(
            ingest_object(
                record.s3.bucket.name,
                key,
                obj.size,
                obj.etag,
                obj.version_id,
                settings=settings,
                store=store,
                jobs=jobs,
                events=events,
                workflow=workflow,
            )
        )
    return {"jobs": results}
