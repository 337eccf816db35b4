"""Ingest: one upload becomes a validated job and exactly one execution.

S3 delivers events at least once, sometimes several times at once. Two guards make a repeat
harmless: the handler's Powertools Idempotency (a repeat gets the first delivery's answer) and
the job id as execution name (Step Functions refuses a second execution of the same name).

The job's first events (created; failed at intake; or created and completed, reusing a result) are
announced after the job is recorded. A try that stops in between (EventBridge refused them, the
function timed out) leaves the record marked ``announcement_pending``; its retry, which finds the
job already recorded, announces them from the record and clears the mark, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain import dedup, intake
from transcriber.domain.errors import PermanentError, SizeMismatchError, TooLargeError
from transcriber.domain.jobs import ANNOUNCEMENT_PENDING, JobStatus, iso_timestamp, job_id_for
from transcriber.domain.messages import Job, JobCompleted, JobCreated, JobEvent, JobFailed, Upload
from transcriber.domain.options import JobOptions
from transcriber.domain.recovery import Executions
from transcriber.domain.retention import Retention
from transcriber.domain.tenants import reserved_job_of_key, tenant_of_key
from transcriber.observability import count_failure
from transcriber.stages.erasure import release_transcribed_audio
from transcriber.stages.ports import Events, Jobs, Store, Tenants

logger = Logger(child=True)
metrics = Metrics()
#: Records a job once: a conditional create, or the claim of a job the API created
SaveJob = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class IngestPolicy:
    max_upload_bytes: int
    #: how long a transcript is reused for the same audio and options (0 turns reuse off)
    dedup_window_hours: float


@dataclass(frozen=True)
class IngestPorts:
    store: Store
    jobs: Jobs
    events: Events
    workflow: Executions
    #: whose retention a file dropped into the bucket gets (an API job carries its own)
    tenants: Tenants


def ingest_object(
    upload: Upload, *, policy: IngestPolicy, ports: IngestPorts, refused: PermanentError | None = None
) -> dict[str, Any]:
    """Validate one upload, record its job and start its execution (each at most once).

    An object uploaded for a job the HTTP API created (``tenants/<tenant>/jobs/<job id>/...``)
    completes that job; any other object is a new job of the tenant its key names. ``refused``
    (a malware verdict: transcriber/stages/scan_verdict.py) fails the job before anything is read.
    """
    jobs, events = ports.jobs, ports.events
    reserved = _reserved_job(upload.key, jobs)
    if reserved is not None and reserved.status == JobStatus.DELETED:
        return _upload_for_deleted_job(reserved, upload, store=ports.store)
    if reserved is not None and reserved.status != JobStatus.AWAITING_UPLOAD:
        return _repeated_upload(reserved, ports=ports)
    job_id = (
        reserved.job_id if reserved else job_id_for(upload.bucket, upload.key, upload.etag, upload.version_id)
    )
    logger.append_keys(job_id=job_id)

    def save(fields: dict[str, Any]) -> bool:
        """Record the job, marked as still to announce: complete the API's reservation, or create
        it (once per upload). False: already recorded, by an earlier try or delivery, whose
        announcement (if it never went out) is made here."""
        marked = {**fields, ANNOUNCEMENT_PENDING: True}
        if jobs.claim_upload(job_id, upload.key, marked) if reserved else jobs.create(marked):
            return True
        if not reserved:  # the same upload: its job id says so
            _finish_pending(jobs.get(job_id), ports=ports)
        return False

    if reserved is None:
        recorded = jobs.get(job_id)
        if recorded is not None and recorded.get("status") == JobStatus.COMPLETED.value:
            # A repeat for a dropped file already complete: its audio may be gone (the tenant keeps
            # none once transcribed), so nothing is read; only what its first try left is finished.
            return _repeated_completion(recorded, ports=ports)

    record: dict[str, Any] = {
        "job_id": job_id,
        "bucket": upload.bucket,
        "key": upload.key,
        "size": upload.size,
        "tenant_id": reserved.tenant_id if reserved else tenant_of_key(upload.key),
    }
    if reserved is None:  # a file dropped into the bucket: its tenant's retention, as the API's jobs
        record.update(_dropped_file_retention(record["tenant_id"], tenants=ports.tenants))
    try:
        if refused is not None:
            raise refused
        record["format"] = intake.check_name_and_size(upload.key, upload.size, policy.max_upload_bytes)
        intake.check_declared_size(upload.size, reserved.size if reserved else None)
        head = ports.store.read_head(upload.bucket, upload.key, intake.SNIFF_BYTES)
        record["format"] = intake.check_content(head.data)
        # The API validated a reservation's options when it created the job.
        options = reserved.options if reserved else JobOptions.from_metadata(head.metadata)
        record["options"] = options.to_dict()
        record["sha256"] = ports.store.sha256(upload.bucket, upload.key)
    except PermanentError as err:
        if isinstance(err, TooLargeError | SizeMismatchError):  # kept, it would only cost storage
            ports.store.delete_every_version(upload.bucket, upload.key)
        return _reject(record, err, save=save, jobs=jobs, events=events)

    original = _reusable_result(record, options, policy=policy, jobs=jobs)
    if original is not None:
        return _complete_as_duplicate(record, original, reserved, save=save, ports=ports)

    # When its first run is queued: JobDuration counts from here, not from created_at (an API
    # job's is when its upload URL was issued).
    pending = {**record, "status": JobStatus.PENDING.value, "queued_at": iso_timestamp(datetime.now(UTC))}
    created = save(pending)
    if created:
        metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
        _announce(pending, jobs=jobs, events=events)
    elif reserved:
        # The reservation changed under us (a concurrent delivery claimed it and starts it, or
        # the sweeper gave up on the upload): not ours to start.
        logger.info("Reserved job already claimed or ended")
        return {"job_id": job_id, "status": reserved.status.value, "started": False}
    else:
        logger.info("Repeated event for an existing job")
    # Always try: the execution name is the job id, so a repeat cannot start a second run, and a
    # crash between recording the job and starting it is healed by the redelivered event.
    job = Job.model_validate({**record, "status": JobStatus.PENDING})
    started = ports.workflow.start(job_id, job.execution_input().to_wire())
    logger.info("Execution start", extra={"started": started, "new_job": created})
    return {"job_id": job_id, "status": JobStatus.PENDING.value, "started": started}


def _dropped_file_retention(tenant_id: str, *, tenants: Tenants) -> dict[str, Any]:
    """The retention fields the API gives its jobs (transcriber/domain/retention.py), for a file
    dropped into the bucket under ``tenants/<id>/`` (or the default tenant's); none for a tenant
    the table does not know (its files are kept, as the bucket's lifecycle rules say)."""
    tenant = tenants.tenant(tenant_id)
    return tenant.retention.upload_fields(datetime.now(UTC)) if tenant is not None else {}


def _source(record: dict[str, Any]) -> dict[str, Any]:
    return {"job_id": record["job_id"], "bucket": record["bucket"], "key": record["key"]}


def _announcements(job: dict[str, Any]) -> list[JobEvent]:
    """The events that tell of a job ingest recorded: failed at intake, complete at once (reusing
    an earlier result), or created and about to start."""
    status = job["status"]
    if status == JobStatus.FAILED.value:
        return [JobFailed(**_source(job), reason_code=job["reason_code"], message=job["error_message"])]
    facts = {**_source(job), "size": job["size"], "sha256": job["sha256"]}
    if status != JobStatus.COMPLETED.value:
        return [JobCreated(**facts)]
    return [
        JobCreated(**facts, status="COMPLETED"),
        JobCompleted(
            **_source(job),
            language=job.get("language"),
            duration=job.get("duration", 0),
            segments=job.get("segments", 0),
            outputs=job["outputs"],
        ),
    ]


def _announce(job: dict[str, Any], *, jobs: Jobs, events: Events) -> None:
    """Send the job's ingest events, then clear its mark (a retry finds none to repeat)."""
    for event in _announcements(job):
        events.emit(event)
    jobs.note_announced(job["job_id"])


def _finish_pending(job: dict[str, Any] | None, *, ports: IngestPorts) -> None:
    """Finish a recorded job that an earlier try did not announce (a no-op for any other): a job
    complete at once loses its audio first where its tenant keeps none (a repeated delete is
    harmless), then its events are sent."""
    if job is None or not job.get(ANNOUNCEMENT_PENDING):
        return
    logger.info("Finishing a job an earlier try recorded but did not announce")
    if job.get("status") == JobStatus.COMPLETED.value:
        release_transcribed_audio(Retention.from_record(job), job["bucket"], job["key"], store=ports.store)
    _announce(job, jobs=ports.jobs, events=ports.events)


def _repeated_completion(job: dict[str, Any], *, ports: IngestPorts) -> dict[str, Any]:
    """The answer to a repeated event for a dropped file whose job is already COMPLETED."""
    logger.append_keys(job_id=job["job_id"])
    logger.info("Repeated event for a completed job")
    _finish_pending(job, ports=ports)
    answer = {"job_id": job["job_id"], "status": JobStatus.COMPLETED.value}
    return {**answer, "duplicate_of": job["duplicate_of"]} if job.get("duplicate_of") else answer


def _reserved_job(key: str, jobs: Jobs) -> Job | None:
    """The API-created job this object was uploaded for, if its key names one that exists."""
    reservation = reserved_job_of_key(key)
    if reservation is None:
        return None
    tenant_id, job_id = reservation
    found = jobs.get(job_id)
    job = Job.model_validate(found) if found is not None else None
    if job is None or job.tenant_id != tenant_id:
        return None
    if job.key != key and job.status != JobStatus.DELETED:  # a tombstone keeps no key
        return None
    return job


def _upload_for_deleted_job(job: Job, upload: Upload, *, store: Store) -> dict[str, Any]:
    """A PUT to the upload URL of a job deleted since: no job, and the object goes at once."""
    logger.append_keys(job_id=job.job_id)
    store.delete_every_version(upload.bucket, upload.key)
    logger.warning("Upload for a deleted job: object deleted")
    return {"job_id": job.job_id, "status": JobStatus.DELETED.value, "started": False}


def _repeated_upload(job: Job, *, ports: IngestPorts) -> dict[str, Any]:
    """A reserved job that already has its audio: a repeated event, or a second PUT to its URL.

    The job keeps the upload it was claimed with. Its events are sent if the try that claimed it
    did not send them, and a PENDING job's execution is started again (a no-op when it exists),
    which heals a crash between the claim and the start.
    """
    logger.append_keys(job_id=job.job_id)
    logger.info("Upload for a job that already has its audio", extra={"status": job.status.value})
    _finish_pending(job.model_dump(mode="json"), ports=ports)
    workflow = ports.workflow
    started = False
    if job.status == JobStatus.PENDING and not job.attempts:
        started = workflow.start(job.job_id, job.execution_input().to_wire())
    return {"job_id": job.job_id, "status": job.status.value, "started": started}


def _reject(
    record: dict[str, Any], err: PermanentError, *, save: SaveJob, jobs: Jobs, events: Events
) -> dict[str, Any]:
    """Record the job FAILED with the reason the user can act on; no execution is started."""
    failed = {
        **record,
        "status": JobStatus.FAILED.value,
        "reason_code": err.reason_code,
        "error_message": err.message,
    }
    if save(failed):
        logger.warning("Upload rejected", extra={"reason_code": err.reason_code, "error": err.message})
        metrics.add_metric(name="JobsRejected", unit=MetricUnit.Count, value=1)
        count_failure(metrics, err.reason_code)
        _announce(failed, jobs=jobs, events=events)
    return {"job_id": record["job_id"], "status": JobStatus.FAILED.value, "reason_code": err.reason_code}


def _reusable_result(
    record: dict[str, Any], options: JobOptions, *, policy: IngestPolicy, jobs: Jobs
) -> dict[str, Any] | None:
    if not options.dedupe or policy.dedup_window_hours <= 0:
        return None
    since = iso_timestamp(dedup.window_start(datetime.now(UTC), policy.dedup_window_hours))
    candidates = jobs.recent_with_content(record["sha256"], since)
    return dedup.reusable_job(candidates, options, tenant_id=record["tenant_id"])


def _complete_as_duplicate(
    record: dict[str, Any],
    original: dict[str, Any],
    reserved: Job | None,
    *,
    save: SaveJob,
    ports: IngestPorts,
) -> dict[str, Any]:
    """A new job, complete at once, pointing to the outputs of the same audio's earlier job.

    It completes under its tenant's retention as a transcribed job does (transcriber/stages/
    aggregate.py): its own transcript expiry for the sweeper, and no audio once it has a transcript
    where the tenant keeps none. The retention is the job's as recorded so far: the one the API
    created it with, or (a file dropped into the bucket) the one ``record`` got from the tenant.
    """
    jobs, events = ports.jobs, ports.events
    fields = dedup.duplicate_fields(original)
    so_far = {**(reserved.model_dump(mode="json") if reserved else {}), **record}
    retention = Retention.from_record(so_far)
    now = datetime.now(UTC)
    completed = {
        **record,
        **fields,
        "completed_at": iso_timestamp(now),
        **retention.completion_fields(now, so_far),
    }
    # The job first, then its audio goes: a save that fails leaves the upload for the retry to
    # read again, and a try that stops after the save leaves the job marked announcement_pending,
    # which the retry finishes (the audio released, the events sent) without reading the upload.
    if save(completed):
        logger.info(
            "Same audio transcribed recently: reusing its result",
            extra={"duplicate_of": fields["duplicate_of"]},
        )
        metrics.add_metric(name="JobsDeduplicated", unit=MetricUnit.Count, value=1)
        release_transcribed_audio(retention, record["bucket"], record["key"], store=ports.store)
        _announce(completed, jobs=jobs, events=events)
    return {
        "job_id": record["job_id"],
        "status": JobStatus.COMPLETED.value,
        "duplicate_of": fields["duplicate_of"],
    }
