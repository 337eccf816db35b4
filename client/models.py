"""What the API returns, as frozen dataclasses: jobs, transcripts, pages of jobs, submissions.

Parsing is lenient on purpose: a field the API leaves out (or a newer API adds) must not break an
older client, so unknown fields stay in ``raw`` and malformed values read as None.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

#: Job states, as the API spells them.
AWAITING_UPLOAD = "AWAITING_UPLOAD"
PENDING = "PENDING"
PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
TERMINAL_STATES = frozenset({COMPLETED, FAILED})
#: Every state, in the order a job goes through them.
STATUSES = (AWAITING_UPLOAD, PENDING, PROCESSING, COMPLETED, FAILED)


def opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def opt_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def opt_int(value: Any) -> int | None:
    number = opt_float(value)
    return None if number is None else int(number)


def mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


#: How a field declared with one of these types is read from the API's JSON.
_READERS: dict[str, Callable[[Any], Any]] = {
    "str | None": opt_str,
    "int | None": opt_int,
    "float | None": opt_float,
}


def _optional_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``str | None``, ``int | None`` and ``float | None`` field of a dataclass, read from the
    JSON key of the same name (the annotations are strings: ``from __future__ import annotations``)."""
    return {f.name: _READERS[str(f.type)](data.get(f.name)) for f in fields(cls) if str(f.type) in _READERS}


@dataclass(frozen=True)
class Word:
    """One word with its times in seconds (when the job ran with word timestamps)."""

    text: str
    start: float | None = None
    end: float | None = None
    probability: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            text=str(data.get("text", data.get("word", ""))),
            start=opt_float(data.get("start")),
            end=opt_float(data.get("end")),
            probability=opt_float(data.get("probability")),
        )


@dataclass(frozen=True)
class Segment:
    """A span of the transcript; times in seconds from the start of the audio."""

    start: float
    end: float
    text: str
    id: int | None = None
    words: tuple[Word, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: ``spk_0``, ``spk_1``, ... when the job ran with speaker labels
    speaker: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        words = data.get("words")
        return cls(
            start=opt_float(data.get("start")) or 0.0,
            end=opt_float(data.get("end")) or 0.0,
            text=str(data.get("text") or ""),
            id=opt_int(data.get("id")),
            words=tuple(Word.from_dict(w) for w in words if isinstance(w, Mapping))
            if isinstance(words, list)
            else (),
            raw=dict(data),
            speaker=None if data.get("speaker") is None else str(data["speaker"]),
        )


def segments_of(value: Any) -> tuple[Segment, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Segment.from_dict(s) for s in value if isinstance(s, Mapping))


@dataclass(frozen=True)
class Transcript:
    """The finished transcript of a COMPLETED job."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        segments = segments_of(data.get("segments"))
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("transcript")  # the JSON download's spelling
        if not isinstance(text, str):
            text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return cls(
            text=text,
            language=opt_str(data.get("language")),
            duration=opt_float(data.get("duration")),
            segments=segments,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Transcription:
    """A transcription job as the API reports it. Fields the API leaves out are None.

    ``raw`` is the JSON object as received, unknown fields included.
    """

    job_id: str
    status: str
    filename: str | None = None
    size: int | None = None
    progress: float = 0.0
    chunks_done: int | None = None
    chunks_total: int | None = None
    language: str | None = None
    duration: float | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    reason_code: str | None = None
    error_message: str | None = None
    duplicate_of: str | None = None
    #: with the channel_identification option: the recording's channels, and a note for a mono one
    channels: int | None = None
    channel_note: str | None = None
    transcript: Transcript | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcription:
        status = str(data.get("status") or "UNKNOWN").upper()
        transcript_data = data.get("transcript")
        transcript = None
        if isinstance(transcript_data, Mapping):
            merged = dict(transcript_data)
            if "segments" not in merged and isinstance(data.get("segments"), list):
                merged["segments"] = data["segments"]
            transcript = Transcript.from_dict(merged)
        progress = opt_float(data.get("progress"))
        if progress is None:
            progress = 100.0 if status == COMPLETED else 0.0
        return cls(
            **_optional_fields(cls, data),
            job_id=str(data.get("job_id") or data.get("id") or ""),
            status=status,
            progress=max(0.0, min(100.0, progress)),
            options=mapping(data.get("options")),
            transcript=transcript,
            raw=dict(data),
        )

    @property
    def warnings(self) -> list[str]:
        """What the service noted about the result, such as "no speech detected"."""
        found = self.raw.get("warnings")
        return [str(w) for w in found] if isinstance(found, list) else []

    @property
    def done(self) -> bool:
        """True once the job is COMPLETED or FAILED."""
        return self.status in TERMINAL_STATES

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def text(self) -> str | None:
        """The transcript text, when the job is COMPLETED (``Client.get`` and ``wait`` fetch a
        transcript too large for the job view, so it is here for those too)."""
        return self.transcript.text if self.transcript else None

    @property
    def transcript_link(self) -> str | None:
        """Where the API says to download the transcript instead (``links.transcript``): set when
        it was too large to include in the job view (over 5 MB), which then has no transcript."""
        link = mapping(self.raw.get("links")).get("transcript")
        return str(link) if link else None

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.transcript.segments if self.transcript else ()


@dataclass(frozen=True)
class Page:
    """One page of ``list``: jobs newest first, and the cursor of the next page (None at the end)."""

    items: tuple[Transcription, ...]
    next_cursor: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Page:
        items = data.get("items")
        return cls(
            items=tuple(Transcription.from_dict(i) for i in items if isinstance(i, Mapping))
            if isinstance(items, list)
            else (),
            next_cursor=opt_str(data.get("next_cursor")) or None,
            raw=dict(data),
        )

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Iterator[Transcription]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Submission:
    """What ``create`` returns: the new job and where to PUT its audio (None when sent inline)."""

    job_id: str
    status: str
    upload_url: str | None = None
    upload_method: str = "PUT"
    upload_expires_at: str | None = None
    upload_headers: dict[str, str] = field(default_factory=dict, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Submission:
        headers = mapping(data.get("upload_headers"))
        return cls(
            job_id=str(data.get("job_id") or data.get("id") or ""),
            status=str(data.get("status") or AWAITING_UPLOAD).upper(),
            upload_url=opt_str(data.get("upload_url")) or None,
            upload_method=str(data.get("upload_method") or "PUT").upper(),
            upload_expires_at=opt_str(data.get("upload_expires_at")),
            upload_headers={str(k): str(v) for k, v in headers.items()},
            raw=dict(data),
        )
