"""Reuse a recent transcript of the same audio instead of transcribing it again.

The same recording is often uploaded twice (a retry from a client, a copy under another name).
Within a window (``DEDUP_WINDOW_HOURS``), a new upload whose content hash and transcript-affecting
options match a COMPLETED job becomes a job of its own that points to that job's outputs: it is
complete at once, and nothing is converted or transcribed. Jobs still running are not waited
for; two identical uploads at the same moment are both transcribed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from transcriber.domain.jobs import JobStatus
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


def window_start(now: datetime, window_hours: float) -> datetime:
    return now - timedelta(hours=window_hours)


def reusable_job(
    candidates: Iterable[dict[str, Any]], options: JobOptions, *, tenant_id: str = DEFAULT_TENANT
) -> dict[str, Any] | None:
    """The newest COMPLETED candidate of the same tenant, transcribed with the same
    transcript-affecting options.

    ``candidates`` are jobs with the same content hash inside the window; a job that itself
    reused another result is followed back to the original. Only the tenant's own jobs count:
    one tenant deleting a job must never take away another tenant's transcript.
    """
    wanted = options.affecting_the_transcript()
    matching = [
        job
        for job in candidates
        if job.get("status") == JobStatus.COMPLETED.value
        and job.get("tenant_id", DEFAULT_TENANT) == tenant_id
        and JobOptions.parse(job.get("options")).affecting_the_transcript() == wanted
        and job.get("outputs")
    ]
    if not matching:
        return None
    return max(matching, key=lambda job: str(job.get("created_at", "")))


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
