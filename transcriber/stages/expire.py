"""Expire: delete what a tenant's retention no longer allows (transcriber/domain/retention.py).

Run by the sweeper. A job's audio past ``audio_expires_at`` is deleted and the job keeps a note
of it; a job past ``transcript_expires_at`` loses its transcripts, its intermediate files, its
audio and then its record (a duplicate that reused its transcript gets its own copy first, as on
a DELETE), and ``JobDeleted`` is published so that what consumers keep of it goes too (the
search index its segments: at once from queries, from the index's files within its maintenance's
bound, transcriber/stages/search.py ``maintain``). The jobs table's TTL (``expires_at``, a day
later) removes a record the sweeper could not reach.

No new duplicate of a job can appear once its expiry is near (transcriber/domain/dedup.py
``REUSE_MARGIN``), so the duplicates found when the sweeper hands its outputs over are all there
will be. One job that cannot be expired does not hold up the others: it is logged and counted
(``RetentionExpiryFailed``), its record's TTL is pushed back so that DynamoDB does not remove the
only pointer to its objects while the sweeper retries, and the run fails once every other job was
seen to (so the invocation is marked failed and alarms).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import TRANSCRIPTS_PREFIX, WORK_PREFIX, iso_timestamp, job_audio_prefix
from transcriber.domain.messages import JobDeleted
from transcriber.domain.retention import held_record_ttl, next_deadline
from transcriber.domain.tenants import DEFAULT_TENANT
from transcriber.stages.erasure import HeirJobs, hand_over_outputs
from transcriber.stages.ports import Events, Store

logger = Logger(child=True)
metrics = Metrics()
#: What the run tells of each job it examined.
AUDIO_DELETED, JOB_DELETED = "audio_deleted", "jobs_deleted"


class RetentionDue(Protocol):
    """The jobs with a retention deadline (``transcriber.adapters.retention_queue.RetentionQueue``)."""

    def due_by(self, moment: str) -> Iterable[str]: ...

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def reschedule(self, job_id: str, fields: dict[str, Any], deadline: str | None) -> None: ...

    def forget(self, job_id: str) -> None: ...


def expire_retained(
    *,
    queue: RetentionDue,
    store: Store,
    heirs: HeirJobs,
    events: Events,
    results_bucket: str,
    now: datetime,
) -> dict[str, Any]:
    """Apply every deadline due by ``now``; raises (RetryableError) after the rest if any job failed."""
    moment = iso_timestamp(now)
    report = {AUDIO_DELETED: 0, JOB_DELETED: 0}
    failed: list[str] = []
    for job_id in queue.due_by(moment):
        job: dict[str, Any] | None = None
        try:
            job = queue.get(job_id)
            if job is None:
                continue
            done = _expire(
                job,
                queue=queue,
                store=store,
                heirs=heirs,
                events=events,
                results_bucket=results_bucket,
                moment=moment,
            )
        except Exception:  # one job's failure must not keep the others past their deadline
            failed.append(job_id)
            logger.exception(
                "Retention deadline not applied; the next sweep tries again", extra={"job_id": job_id}
            )
            metrics.add_metric(name="RetentionExpiryFailed", unit=MetricUnit.Count, value=1)
            _hold_record(job, queue=queue, now=now)
            continue
        if done:
            report[done] += 1
    if failed:
        logger.error("Some retention deadlines not applied", extra={**report, "failed": failed})
        raise RetryableError(
            f"{len(failed)} job(s) past a retention deadline could not be expired (see the log); "
            "the next sweep tries again",
            reason_code="RETENTION_EXPIRY_FAILED",
        )
    return report


def _expire(
    job: dict[str, Any],
    *,
    queue: RetentionDue,
    store: Store,
    heirs: HeirJobs,
    events: Events,
    results_bucket: str,
    moment: str,
) -> str | None:
    """Apply one job's due deadlines; which of the report's counts it adds to (None: none)."""
    job_id = str(job["job_id"])
    transcript_due = job.get("transcript_expires_at") and str(job["transcript_expires_at"]) <= moment
    audio_due = (
        job.get("audio_expires_at")
        and not job.get("audio_deleted_at")
        and str(job["audio_expires_at"]) <= moment
    )
    if audio_due or transcript_due:
        if job.get("bucket") and job.get("key"):  # every version: prod versions the input bucket
            store.delete_every_version(str(job["bucket"]), str(job["key"]))
        store.delete_prefix(results_bucket, job_audio_prefix(job_id))  # its converted WAV, if any is left
    if transcript_due:
        # Duplicates that reuse its transcript get their own copy first, as on a DELETE.
        hand_over_outputs(job, jobs=heirs, objects=store, results_bucket=results_bucket)
        for prefix in (TRANSCRIPTS_PREFIX, WORK_PREFIX):
            store.delete_prefix(results_bucket, f"{prefix}/{job_id}/")
        # Before the record goes: a failed announcement leaves the job due for the next sweep.
        events.emit(
            JobDeleted(
                job_id=job_id,
                bucket=str(job.get("bucket") or results_bucket),
                key=str(job.get("key") or job_id),
                tenant_id=str(job.get("tenant_id") or DEFAULT_TENANT),
            )
        )
        queue.forget(job_id)
        logger.info("Retention ended: job and its data deleted", extra={"job_id": job_id})
        return JOB_DELETED
    changes = {"audio_deleted_at": moment} if audio_due else {}
    queue.reschedule(job_id, changes, next_deadline({**job, **changes}))
    return AUDIO_DELETED if audio_due else None


def _hold_record(job: dict[str, Any] | None, *, queue: RetentionDue, now: datetime) -> None:
    """Push back the TTL of a job whose expiry failed (it stays due: the next sweep tries again)."""
    deadline = next_deadline(job or {})
    if job is None or deadline is None:
        return  # unread, or nothing due: nothing to hold
    try:
        queue.reschedule(str(job["job_id"]), {"expires_at": held_record_ttl(job, now)}, deadline)
    except Exception:
        logger.exception("Could not push back the record's TTL", extra={"job_id": job["job_id"]})
