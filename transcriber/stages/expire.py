"""Expire: delete what a tenant's retention no longer allows (transcriber/domain/retention.py).

Run by the sweeper. A job's audio past ``audio_expires_at`` is deleted and the job keeps a note
of it; a job past ``transcript_expires_at`` loses its transcripts, its intermediate files, its
audio and then its record (a duplicate that reused its transcript gets its own copy first, as on
a DELETE), and ``JobDeleted`` is published so that what consumers keep of it goes
too (the search index its segments). The jobs table's TTL (``expires_at``, a day later) removes a
record the sweeper could not reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from transcriber.domain.jobs import TRANSCRIPTS_PREFIX, WORK_PREFIX, iso_timestamp, job_audio_prefix
from transcriber.domain.messages import JobDeleted
from transcriber.domain.retention import next_deadline
from transcriber.domain.tenants import DEFAULT_TENANT
from transcriber.stages.erasure import HeirJobs, hand_over_outputs
from transcriber.stages.ports import Events, Store

logger = Logger(child=True)


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
    moment = iso_timestamp(now)
    audio_deleted, jobs_deleted = 0, 0
    for job_id in queue.due_by(moment):
        job = queue.get(job_id)
        if job is None:
            continue
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
            jobs_deleted += 1
            logger.info("Retention ended: job and its data deleted", extra={"job_id": job_id})
            continue
        changes = {"audio_deleted_at": moment} if audio_due else {}
        audio_deleted += bool(audio_due)
        queue.reschedule(job_id, changes, next_deadline({**job, **changes}))
    return {"audio_deleted": audio_deleted, "jobs_deleted": jobs_deleted}
