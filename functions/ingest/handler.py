"""Ingest: an S3 ObjectCreated event becomes a validated job and exactly one execution.

S3 delivers events at least once, sometimes several times at once. Two guards make a repeat
harmless: Powertools Idempotency (a DynamoDB record per bucket, key, version and ETag: a repeat
gets the first delivery's answer, and a concurrent one is refused while the first is in
progress, so Lambda retries it) and the job id as execution name (Step Functions refuses a
second execution of the same name).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.workflow import Workflow
from transcriber.domain import dedup, intake
from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import (
    EVENT_JOB_COMPLETED,
    EVENT_JOB_CREATED,
    EVENT_JOB_FAILED,
    JobStatus,
    failed_event_detail,
    iso_timestamp,
    job_id_for,
    utc_now,
)
from transcriber.domain.options import JobOptions
from transcriber.domain.tenants import reserved_job_of_key, tenant_of_key
from transcriber.observability import count_failure
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("s3", "events", "stepfunctions", "dynamodb"), resources=("dynamodb",))
#: Longer than S3's redelivery horizon and Lambda's async retries (up to 6 hours).
IDEMPOTENCY_TTL_S = 24 * 3600
idempotency_config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_S)
#: Records a job once: a conditional create, or the claim of a job the API created
SaveJob = Callable[[dict[str, Any]], bool]


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
    """Validate one upload, record its job and start its execution (each at most once).

    An object uploaded for a job the HTTP API created (``tenants/<tenant>/jobs/<job id>/...``)
    completes that job; any other object is a new job of the tenant its key names.
    """
    reserved = _reserved_job(key, jobs)
    if reserved is not None and reserved["status"] != JobStatus.AWAITING_UPLOAD.value:
        return _repeated_upload(reserved, workflow=workflow)
    job_id = reserved["job_id"] if reserved else job_id_for(bucket, key, etag, version_id)
    logger.append_keys(job_id=job_id)

    def save(fields: dict[str, Any]) -> bool:
        """Record the job: complete the API's reservation, or create it (once per upload)."""
        return jobs.claim_upload(job_id, key, fields) if reserved else jobs.create(fields)

    job: dict[str, Any] = {
        "job_id": job_id,
        "bucket": bucket,
        "key": key,
        "size": size,
        "tenant_id": reserved["tenant_id"] if reserved else tenant_of_key(key),
    }
    try:
        job["format"] = intake.check_name_and_size(key, size, settings.max_upload_bytes)
        head = store.read_head(bucket, key, intake.SNIFF_BYTES)
        job["format"] = intake.check_content(head.data)
        # The API validated a reservation's options when it created the job.
        options = (
            JobOptions.parse(reserved.get("options")) if reserved else JobOptions.from_metadata(head.metadata)
        )
        job["options"] = options.to_dict()
        job["sha256"] = store.sha256(bucket, key)
    except PermanentError as err:
        return _reject(job, err, save=save, events=events)

    original = _reusable_result(job["sha256"], options, job["tenant_id"], settings=settings, jobs=jobs)
    if original is not None:
        return _complete_as_duplicate(job, original, save=save, events=events)

    created = save({**job, "status": JobStatus.PENDING.value})
    if created:
        metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        events.publish(EVENT_JOB_CREATED, _created_detail(job, JobStatus.PENDING))
    elif reserved:
        # The reservation changed under us (a concurrent delivery claimed it and starts it, or
        # the sweeper gave up on the upload): not ours to start.
        logger.info("Reserved job already claimed or ended")
        return {"job_id": job_id, "status": reserved["status"], "started": False}
    else:
        logger.info("Repeated event for an existing job")
    # Always try: the execution name is the job id, so a repeat cannot start a second run, and a
    # crash between recording the job and starting it is healed by the redelivered event.
    started = workflow.start(
        job_id, {"job_id": job_id, "bucket": bucket, "key": key, "options": options.to_dict()}
    )
    logger.info("Execution start", extra={"started": started, "new_job": created})
    return {"job_id": job_id, "status": JobStatus.PENDING.value, "started": started}


def _reserved_job(key: str, jobs: JobRepository) -> dict[str, Any] | None:
    """The API-created job this object was uploaded for, if its key names one that exists."""
    reservation = reserved_job_of_key(key)
    if reservation is None:
        return None
    tenant_id, job_id = reservation
    job = jobs.get(job_id)
    if job is None or job.get("key") != key or job.get("tenant_id") != tenant_id:
        return None
    return job


def _repeated_upload(job: dict[str, Any], *, workflow: Workflow) -> dict[str, Any]:
    """A reserved job that already has its audio: a repeated event, or a second PUT to its URL.

    The job keeps the upload it was claimed with. A PENDING job's execution is started again
    (a no-op when it exists), which heals a crash between the claim and the start.
    """
    logger.append_keys(job_id=job["job_id"])
    logger.info("Upload for a job that already has its audio", extra={"status": job["status"]})
    started = False
    if job["status"] == JobStatus.PENDING.value and not job.get("attempts"):
        started = workflow.start(
            job["job_id"],
            {
                "job_id": job["job_id"],
                "bucket": job["bucket"],
                "key": job["key"],
                "options": job.get("options") or {},
            },
        )
    return {"job_id": job["job_id"], "status": job["status"], "started": started}


def _created_detail(job: dict[str, Any], status: JobStatus) -> dict[str, Any]:
    return {
        "job_id": job["job_id"],
        "status": status.value,
        "bucket": job["bucket"],
        "key": job["key"],
        "size": job["size"],
        "sha256": job["sha256"],
    }


def _reject(
    job: dict[str, Any], err: PermanentError, *, save: SaveJob, events: EventPublisher
) -> dict[str, Any]:
    """Record the job FAILED with the reason the user can act on; no execution is started."""
    failed = {
        **job,
        "status": JobStatus.FAILED.value,
        "reason_code": err.reason_code,
        "error_message": err.message,
    }
    if save(failed):
        logger.warning("Upload rejected", extra={"reason_code": err.reason_code, "error": err.message})
        metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)
        count_failure(metrics, err.reason_code)
        events.publish(
            EVENT_JOB_FAILED,
            failed_event_detail(job["job_id"], job["bucket"], job["key"], err.reason_code, err.message),
        )
    return {"job_id": job["job_id"], "status": JobStatus.FAILED.value, "reason_code": err.reason_code}


def _reusable_result(
    sha256: str, options: JobOptions, tenant_id: str, *, settings: Settings, jobs: JobRepository
) -> dict[str, Any] | None:
    if not options.dedupe or settings.dedup_window_hours <= 0:
        return None
    since = iso_timestamp(dedup.window_start(datetime.now(UTC), settings.dedup_window_hours))
    return dedup.reusable_job(jobs.recent_with_content(sha256, since), options, tenant_id=tenant_id)


def _complete_as_duplicate(
    job: dict[str, Any],
    original: dict[str, Any],
    *,
    save: SaveJob,
    events: EventPublisher,
) -> dict[str, Any]:
    """A new job, complete at once, pointing to the outputs of the same audio's earlier job."""
    fields = dedup.duplicate_fields(original)
    if save({**job, **fields, "completed_at": utc_now()}):
        logger.info(
            "Same audio transcribed recently: reusing its result",
            extra={"duplicate_of": fields["duplicate_of"]},
        )
        metrics.add_metric(name="JobsDeduplicated", unit=MetricUnit.Count, value=1)
        events.publish(EVENT_JOB_CREATED, _created_detail(job, JobStatus.COMPLETED))
        events.publish(
            EVENT_JOB_COMPLETED,
            {
                "job_id": job["job_id"],
                "status": JobStatus.COMPLETED.value,
                "bucket": job["bucket"],
                "key": job["key"],
                "language": fields.get("language"),
                "duration": fields.get("duration", 0),
                "segments": fields.get("segments", 0),
                "outputs": fields["outputs"],
            },
        )
    return {
        "job_id": job["job_id"],
        "status": JobStatus.COMPLETED.value,
        "duplicate_of": fields["duplicate_of"],
    }


@cache
def _idempotent_ingest(table_name: str) -> Any:
    """``ingest_object`` guarded by Powertools Idempotency, keyed on the upload's identity."""
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws_clients.client("dynamodb"))

    @idempotent_function(
        data_keyword_argument="upload", persistence_store=persistence, config=idempotency_config
    )
    def ingest_once(*, upload: dict[str, Any], settings: Settings) -> dict[str, Any]:
        return ingest_object(
            upload["bucket"],
            upload["key"],
            upload["size"],
            upload["etag"],
            upload["version_id"],
            settings=settings,
            store=ObjectStore(),
            jobs=JobRepository(settings.jobs_table),
            events=EventPublisher(settings.event_bus_name),
            workflow=Workflow(settings.state_machine_arn),
        )

    return ingest_once


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    idempotency_config.register_lambda_context(context)
    ingest_once = _idempotent_ingest(settings.idempotency_table)
    results = []
    for record in event.records:
        obj = record.s3.get_object
        upload = {
            "bucket": record.s3.bucket.name,
            "key": unquote_plus(obj.key),  # S3 event keys arrive URL-encoded
            "size": obj.size,
            "etag": obj.etag,
            "version_id": obj.version_id,
        }
        results.append(ingest_once(upload=upload, settings=settings))
    return {"jobs": results}
