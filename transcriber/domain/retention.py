"""Per-tenant data retention: how long a tenant's audio and transcripts are kept.

Set by an operator (``transcriber keys create --audio-retention ... --transcript-retention-days N``),
stored on the tenant, shown in its settings (``GET /v1/tenant``) and copied onto each job the API
creates, so the stages that enforce it need no tenants table:

- ``audio: after-transcript`` (the design's "no persistent storage of audio"): the aggregate stage
  deletes the upload as soon as the transcript is written (ingest, for a job that reuses an earlier
  transcript of the same audio).
- ``audio: N`` days and ``transcripts: N`` days: the job carries when each expires
  (``audio_expires_at``, ``transcript_expires_at``) for the sweeper, and ``expires_at`` (DynamoDB TTL
  on the jobs table) removes the record a day after the transcript's expiry, or
  :data:`UNCONFIRMED_GRACE` after the sweeper last failed to expire it.
- ``keep`` (the default): the bucket's own lifecycle rules apply.

A job with a pending deletion carries its next deadline (``retention_due_at``) in a sparse index
that the sweeper reads every few minutes (transcriber/stages/expire.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from transcriber.domain.jobs import iso_timestamp

#: A sparse index of the jobs table: only jobs with a pending deletion carry its keys.
RETENTION_INDEX = "by_retention_due"
DUE = "due"
KEEP = "keep"
AFTER_TRANSCRIPT = "after-transcript"
#: The job record outlives its transcript by this much, so the sweeper can delete its objects first.
RECORD_GRACE = timedelta(days=1)
#: A job whose expiry failed keeps its record at least this long after each failure: DynamoDB's
#: TTL must not take the record (the only pointer to the job's objects) while the sweeper retries.
UNCONFIRMED_GRACE = timedelta(days=14)
MAX_DAYS = 3653


def _days(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        raise ValueError(f"{what} must be a whole number of days from 1 to {MAX_DAYS}, not {value!r}")
    return value


@dataclass(frozen=True)
class Retention:
    #: None keeps the audio; 0 deletes it as soon as the transcript exists; N days after the upload
    audio_days: int | None = None
    #: None keeps transcripts; N days after the job completed
    transcript_days: int | None = None

    def __post_init__(self) -> None:
        _days(self.audio_days, "audio retention")
        if _days(self.transcript_days, "transcript retention") == 0:
            raise ValueError("transcript retention must be at least 1 day (0 would delete it unread)")

    @classmethod
    def parse(cls, audio: str | None, transcript_days: int | None) -> Retention:
        """From the CLI: ``audio`` is ``keep``, ``after-transcript`` or a number of days."""
        text = (audio or KEEP).strip().lower()
        if text == KEEP:
            audio_days = None
        elif text == AFTER_TRANSCRIPT:
            audio_days = 0
        elif text.isdigit() and int(text) >= 1:
            audio_days = int(text)
        else:
            raise ValueError(
                f"audio retention is {KEEP!r}, {AFTER_TRANSCRIPT!r} or a number of days, not {audio!r}"
            )
        return cls(audio_days=audio_days, transcript_days=transcript_days)

    @classmethod
    def from_record(cls, record: dict[str, Any] | None) -> Retention:
        """From a tenant or job record (``retention`` map); absent means keep."""
        stored = (record or {}).get("retention") or {}
        as_int = {k: int(v) for k, v in stored.items() if v is not None}
        return cls(audio_days=as_int.get("audio_days"), transcript_days=as_int.get("transcript_days"))

    def to_record(self) -> dict[str, int | None]:
        return {"audio_days": self.audio_days, "transcript_days": self.transcript_days}

    @property
    def audio_after_transcript(self) -> bool:
        return self.audio_days == 0

    def describe(self) -> dict[str, str]:
        """As the tenant's settings show it."""
        audio = (
            KEEP
            if self.audio_days is None
            else AFTER_TRANSCRIPT
            if self.audio_days == 0
            else f"{self.audio_days} days"
        )
        transcripts = KEEP if self.transcript_days is None else f"{self.transcript_days} days"
        return {"audio": audio, "transcripts": transcripts}

    def completion_fields(self, completed_at: datetime, job: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a job completes with, transcribed (the aggregate stage) or reusing a result (ingest):
        when its transcript expires, and that its audio is gone where the tenant keeps none once
        transcribed (the caller deletes it first)."""
        fields: dict[str, Any] = {}
        if self.audio_after_transcript:
            fields["audio_deleted_at"] = iso_timestamp(completed_at)
        if self.transcript_days is None:
            return fields
        expiry = completed_at + timedelta(days=self.transcript_days)
        fields["transcript_expires_at"] = iso_timestamp(expiry)
        fields["expires_at"] = int((expiry + RECORD_GRACE).timestamp())
        return {**fields, **due_fields(next_deadline({**(job or {}), **fields}))}

    def upload_fields(self, uploaded_at: datetime) -> dict[str, Any]:
        """What the API adds to a new job: its retention, and when its audio expires."""
        fields: dict[str, Any] = {"retention": self.to_record()}
        if self.audio_days:
            expiry = uploaded_at + timedelta(days=self.audio_days)
            fields["audio_expires_at"] = iso_timestamp(expiry)
            fields.update(due_fields(fields["audio_expires_at"]))
        return fields


def next_deadline(job: dict[str, Any]) -> str | None:
    """The job's next pending deletion (an ISO timestamp), or None when nothing is left to delete."""
    pending = [str(job["transcript_expires_at"])] if job.get("transcript_expires_at") else []
    if job.get("audio_expires_at") and not job.get("audio_deleted_at"):
        pending.append(str(job["audio_expires_at"]))
    return min(pending) if pending else None


def held_record_ttl(job: dict[str, Any], failed_at: datetime) -> int:
    """The TTL (``expires_at``) of a job whose expiry just failed: pushed back to
    :data:`UNCONFIRMED_GRACE` after the failure, never brought forward."""
    return max(int(job.get("expires_at") or 0), int((failed_at + UNCONFIRMED_GRACE).timestamp()))


def due_fields(deadline: str | None) -> dict[str, str]:
    """The sparse index's keys for a deadline (none: the job leaves the index)."""
    return {"retention_due": DUE, "retention_due_at": deadline} if deadline else {}
