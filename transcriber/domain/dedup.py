"""Reuse a recent transcript of the same audio instead of transcribing it again.

The same recording is often uploaded twice (a retry from a client, a copy under another name).
Within a window (``DEDUP_WINDOW_HOURS``), a new upload whose content hash and transcript-affecting
options match a COMPLETED job becomes a job of its own that points to that job's outputs: it is
complete at once, and nothing is converted or transcribed. Jobs still running are not waited
for; two identical uploads at the same moment are both transcribed.

A transcript that the tenant's retention is about to delete is not reused (:data:`REUSE_MARGIN`):
the sweeper hands an expiring job's outputs over to the duplicates it finds, then deletes them,
so a duplicate recorded after that would point to nothing (transcriber/stages/expire.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.jobs import JobStatus, iso_timestamp
from transcriber.domain.options import JobOptions
from transcriber.domain.tenants import DEFAULT_TENANT

#: What a duplicate takes over from the job whose result it reuses.
COPIED_FIELDS = (
    "duration",
    "language",
    "language_source",
    "language_confidence",
    "segments",
    "outputs",
    "engine",
    "channels",
    "channel_note",
)
#: A job whose transcript expires within this is no longer reused. Longer than an ingest invocation
#: can run (Lambda's 15 minutes), so every duplicate of it is recorded before its expiry, and the
#: sweeper, which hands its outputs over only once it has expired, finds them all.
REUSE_MARGIN = timedelta(minutes=20)


def window_start(now: datetime, window_hours: float) -> datetime:
    return now - timedelta(hours=window_hours)


def reusable_job(
    candidates: Iterable[dict[str, Any]],
    options: JobOptions,
    *,
    tenant_id: str = DEFAULT_TENANT,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """The newest COMPLETED candidate of the same tenant, transcribed with the same
    transcript-affecting options, whose transcript is not about to expire.

    ``candidates`` are jobs with the same content hash inside the window; a job that itself
    reused another result is followed back to the original (so an original among the candidates
    that is about to expire rules out its duplicates too). Only the tenant's own jobs count:
    one tenant deleting a job must never take away another tenant's transcript.
    """
    jobs = list(candidates)
    by_id = {job.get("job_id"): job for job in jobs}
    cutoff = iso_timestamp((now or datetime.now(UTC)) + REUSE_MARGIN)
    wanted = options.affecting_the_transcript()
    matching = [
        job
        for job in jobs
        if job.get("status") == JobStatus.COMPLETED.value
        and job.get("tenant_id", DEFAULT_TENANT) == tenant_id
        and _stored_options_affecting_the_transcript(job) == wanted
        and job.get("outputs")
        and not _expiring(job, cutoff)
        and not _expiring(by_id.get(job.get("duplicate_of")), cutoff)
    ]
    if not matching:
        return None
    return max(matching, key=lambda job: str(job.get("created_at", "")))


def _stored_options_affecting_the_transcript(job: dict[str, Any]) -> dict[str, Any] | None:
    """The transcript-changing options an earlier job was recorded with; None when they no longer
    pass today's rules (a deploy tightened one): that job is not reused, and the upload goes on."""
    try:
        return JobOptions.parse(job.get("options")).affecting_the_transcript()
    except InvalidOptionsError:
        return None


def _expiring(job: dict[str, Any] | None, cutoff: str) -> bool:
    """Whether ``job``'s transcript expires by ``cutoff`` (an ISO timestamp)."""
    expiry = (job or {}).get("transcript_expires_at")
    return bool(expiry) and str(expiry) <= cutoff


def duplicate_fields(original: dict[str, Any]) -> dict[str, Any]:
    """The record fields of a new job that reuses ``original``'s result."""
    fields = {name: original[name] for name in COPIED_FIELDS if original.get(name) is not None}
    return {
        **fields,
        "status": JobStatus.COMPLETED.value,
        "duplicate_of": original.get("duplicate_of") or original["job_id"],
        "progress": 100,
        "chunks_total": 0,
        "chunks_done": 0,
    }
