"""How the HTTP API shows jobs: the job view (also what live status pushes), download answers,
cursors of the job list and the segment filter. Plain functions over job records."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from transcriber.api import problems


@dataclass(frozen=True)
class Download:
    """A transcript file: its text, or (too large for one Lambda response) where to fetch it."""

    filename: str
    content_type: str
    body: str = ""
    redirect_url: str | None = None


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def filename_of(job: dict[str, Any]) -> str:
    """The name the client gave the file; for a job dropped into the bucket, its key's last part."""
    return str(job.get("filename") or str(job.get("key", "")).rsplit("/", 1)[-1])


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, tenant_id: str) -> dict[str, Any]:
    """The position a cursor stands for; BadRequest for anything this API did not hand out."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise problems.BadRequest("The cursor is not valid; pass next_cursor exactly as received.") from None
    if (
        not isinstance(position, dict)
        or set(position) != {"job_id", "tenant_id", "created_at"}
        or not all(isinstance(v, str) for v in position.values())
        or position["tenant_id"] != tenant_id
    ):
        raise problems.BadRequest("The cursor is not valid; pass next_cursor exactly as received.")
    return position


def matching_segments(segments: list[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
    """Segments holding every word of ``query`` (case-insensitive, whole words); all without one."""
    words = re.findall(r"\w+", (query or "").lower())
    if not words:
        return segments
    return [s for s in segments if set(words) <= set(re.findall(r"\w+", str(s.get("text", "")).lower()))]


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    """A job as GET shows it, without the transcript (also what live status pushes)."""
    fields = (
        "job_id", "status", "filename", "size", "chunks_done", "chunks_total", "language",
        "duration", "callback_url", "created_at", "updated_at", "started_at", "completed_at",
        "failed_at", "reason_code", "error_message", "duplicate_of", "warnings",
    )  # fmt: skip
    view: dict[str, Any] = {name: job.get(name) for name in fields}
    view["filename"] = filename_of(job)
    view["progress"] = int(job.get("progress") or 0)
    view["options"] = job.get("options") or {}
    view["attempts"] = int(job.get("attempts") or 0)
    if job.get("channels") is not None:  # channel identification
        view["channels"], view["channel_note"] = int(job["channels"]), job.get("channel_note")
    view["warnings"] = list(job.get("warnings") or [])
    view["links"] = {"self": f"/v1/transcriptions/{job['job_id']}"}
    if job.get("speakers"):
        view["speakers"] = job["speakers"]
    return view
