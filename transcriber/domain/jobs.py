"""Job identity, state and object layout: the rules every stage agrees on.

A job id is derived from the uploaded object's identity, so that S3's at-least-once delivery of
the same ObjectCreated event maps to the same job and the same (deterministic) execution name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Container, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

WORK_PREFIX = "work"
TRANSCRIPTS_PREFIX = "transcripts"
OUTPUT_FORMATS: tuple[str, ...] = ("json", "srt", "vtt", "txt")
#: The JSON as heard, beside the redacted outputs, when a job asks for redaction and ``keep_unredacted``.
UNREDACTED_OUTPUT = "unredacted.json"
#: The Content-Type each output format is stored (and served) with.
OUTPUT_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "txt": "text/plain; charset=utf-8",
}

EVENT_SOURCE = "audio.transcriber"
EVENT_JOB_CREATED = "Transcription Job Created"
EVENT_JOB_STARTED = "Transcription Job Started"
EVENT_JOB_PROGRESS = "Transcription Job Progress"
EVENT_JOB_COMPLETED = "Transcription Job Completed"
EVENT_JOB_FAILED = "Transcription Job Failed"
# The events contract (schemas under docs/events/): one detail-type per job transition.
JOB_EVENT_TYPES: tuple[str, ...] = (
    EVENT_JOB_CREATED,
    EVENT_JOB_STARTED,
    EVENT_JOB_PROGRESS,
    EVENT_JOB_COMPLETED,
    EVENT_JOB_FAILED,
)
PROGRESS_STEP_PERCENT = 10
#: Jobs table index on (sha256, created_at): finds recent jobs of the same audio.
CONTENT_INDEX = "by_content"
#: Jobs table index on (tenant_id, created_at): a tenant's jobs, newest first (the HTTP API's list).
TENANT_INDEX = "by_tenant"
#: On a job record whose first events (transcriber/stages/ingest.py) have not gone out yet: the
#: retry of the try that stopped before they did sends them.
ANNOUNCEMENT_PENDING = "announcement_pending"


def iso_timestamp(moment: datetime) -> str:
    """The one timestamp format of job records and events: UTC, milliseconds, sortable as text
    (so time ranges can be queried on a table index)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return iso_timestamp(datetime.now(UTC))


def parse_timestamp(text: str) -> datetime:
    """The moment an :func:`iso_timestamp` string stands for."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class JobStatus(StrEnum):
    #: created through the HTTP API; its audio has not arrived in the input bucket yet
    AWAITING_UPLOAD = "AWAITING_UPLOAD"
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    #: deleted by its tenant: audio, chunks and outputs are gone; the record stays as a tombstone
    #: so that a late step of a stopped run cannot bring the job back
    DELETED = "DELETED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.DELETED})
#: Set on a FAILED job once its JobFailed went out; a run's failure step and the sweeper read it.
FAILURE_ANNOUNCED = "failure_announced"


def unannounced_failure(job: Mapping[str, Any] | None, reason_codes: Container[str]) -> bool:
    """FAILED for one of ``reason_codes``, and its JobFailed has not gone out: whoever failed it
    stopped between the two (a retry, or a later sweep, sends it then)."""
    return bool(
        job
        and job.get("status") == JobStatus.FAILED.value
        and job.get("reason_code") in reason_codes
        and not job.get(FAILURE_ANNOUNCED)
    )


def failed_event_detail(
    job_id: str, bucket: str | None, key: str | None, reason_code: str, message: str
) -> dict[str, Any]:
    """The detail of a "Transcription Job Failed" event (docs/events/job-failed.schema.json)."""
    return {
        "job_id": job_id,
        "status": JobStatus.FAILED.value,
        "bucket": bucket,
        "key": key,
        "reason_code": reason_code,
        "message": message,
    }


def crosses_progress_step(chunks_done: int, chunks_total: int, step: int = PROGRESS_STEP_PERCENT) -> bool:
    """Whether finishing chunk number ``chunks_done`` moves the job into a new ``step``% band.

    Chunk workers run in parallel, but the jobs table's atomic counter hands each of them a
    distinct ``chunks_done``, so exactly one worker sees each band crossed: a job emits at most
    100 / ``step`` progress events however many chunks it has, and never the same band twice
    (for one ``chunks_total``: chunks the language vote sends back raise it, and count anew).
    """
    if chunks_total < 1 or not 1 <= chunks_done <= chunks_total:
        return False
    before = (100 * (chunks_done - 1) // chunks_total) // step
    after = (100 * chunks_done // chunks_total) // step
    return after > before


def job_id_for(bucket: str, key: str, etag: str | None, version_id: str | None = None) -> str:
    """A stable id for one upload: the same object version always gives the same id.

    The result is a valid Step Functions execution name (hex only, 32 characters).
    """
    identity = "\x1f".join((bucket, key, (etag or "").strip('"'), version_id or ""))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def job_audio_prefix(job_id: str) -> str:
    """What every :func:`audio_key` of the job starts with (and nothing else of the job does)."""
    return f"{WORK_PREFIX}/{job_id}/audio"


def audio_key(job_id: str, channel: int | None = None) -> str:
    """The job's audio as transcribed (16 kHz mono WAV; one per channel with channel identification):
    its chunks are byte ranges of it."""
    return job_audio_prefix(job_id) + (".wav" if channel is None else f"-channel-{channel}.wav")


#: The job's chunk list for the Distributed Map, in its work folder (transcriber/stages/manifest.py).
CHUNK_MANIFEST = "chunk-manifest.json"


def partial_key(job_id: str, index: int) -> str:
    """Where a chunk's transcript is checkpointed."""
    return f"{WORK_PREFIX}/{job_id}/partials/chunk-{index:04d}.json"


def output_key(job_id: str, fmt: str) -> str:
    return f"{TRANSCRIPTS_PREFIX}/{job_id}/transcript.{fmt}"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def extension_of(key: str) -> str:
    """The lower-case extension of an object key, without the dot ('' when there is none)."""
    name = key.rsplit("/", 1)[-1]
    if "." not in name.strip("."):
        return ""
    return name.rsplit(".", 1)[-1].lower()


def safe_stem(key: str, max_length: int = 80) -> str:
    """A file-system-safe stand-in for an untrusted object key's file name, for display and names.

    Never used to build a path from the key itself: path separators, '..' and control
    characters cannot survive it.
    """
    name = key.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    cleaned = _UNSAFE.sub("_", stem).strip("._")
    return cleaned[:max_length] or "audio"
