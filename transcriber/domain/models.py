"""Value objects shared by every stage of the pipeline.

They are plain dataclasses so that the domain code and its tests need no AWS, and each has a
``to_dict``/``from_dict`` pair because they cross process and state-machine boundaries as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def _shallow_fields(obj: Any) -> dict[str, Any]:
    """A dataclass's fields by name, values as they are (``asdict`` would copy nested ones too)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _without_none(data: dict[str, Any], name: str) -> dict[str, Any]:
    """``data`` without the optional field ``name`` when it is unset (absent from the JSON)."""
    if data.get(name) is None:
        data.pop(name, None)
    return data


def _optional(data: dict[str, Any], name: str, cast: Callable[[Any], T]) -> T | None:
    """An optional field read back from JSON: ``None`` when absent or null."""
    value = data.get(name)
    return None if value is None else cast(value)


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds."""

    start: float
    end: float
    text: str
    probability: float | None = None
    #: Speaker label (``spk_0``...) once speakers are labelled; absent from the JSON until then.
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_none(asdict(self), "speaker")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            probability=_optional(data, "probability", float),
            speaker=_optional(data, "speaker", str),
        )


@dataclass(frozen=True)
class Segment:
    """A span of recognised speech; times in seconds, relative to whatever audio produced it."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    #: Speaker label once speakers are labelled (a segment never spans two speakers).
    speaker: str | None = None
    #: Source channel (0-based) with channel identification.
    channel: int | None = None

    def shifted(self, offset: float) -> Segment:
        """The same segment with every time moved by ``offset`` seconds."""
        return Segment(
            start=round(self.start + offset, 3),
            end=round(self.end + offset, 3),
            text=self.text,
            words=tuple(
                Word(round(w.start + offset, 3), round(w.end + offset, 3), w.text, w.probability, w.speaker)
                for w in self.words
            ),
            speaker=self.speaker,
            channel=self.channel,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.words:
            data["words"] = [w.to_dict() for w in self.words]
        if self.speaker is not None:
            data["speaker"] = self.speaker
        if self.channel is not None:
            data["channel"] = self.channel
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            words=tuple(Word.from_dict(w) for w in data.get("words", [])),
            speaker=_optional(data, "speaker", str),
            channel=_optional(data, "channel", int),
        )


@dataclass(frozen=True)
class ChunkSpec:
    """Where one chunk sits in the converted audio: ``offset`` and ``duration`` in seconds.

    ``overlap`` is how many of its first seconds repeat the end of the previous chunk: set where
    a cut had to fall inside speech, so that a word cut there is heard whole by one of the two.
    """

    index: int
    offset: float
    duration: float
    overlap: float = 0.0
    #: Source channel (0-based) with channel identification; offsets are on that channel's timeline.
    channel: int | None = None

    @property
    def end(self) -> float:
        return self.offset + self.duration

    def to_dict(self) -> dict[str, Any]:
        return _without_none(asdict(self), "channel")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkSpec:
        return cls(
            index=int(data["index"]),
            offset=float(data["offset"]),
            duration=float(data["duration"]),
            overlap=float(data.get("overlap", 0.0)),
            channel=_optional(data, "channel", int),
        )


@dataclass(frozen=True)
class LanguageGuess:
    """An engine's language probabilities for one file, and how much speech they rest on."""

    probabilities: dict[str, float]
    speech_seconds: float


@dataclass(frozen=True)
class ChunkTranscript:
    """What the engine heard in one chunk; segment times are relative to the chunk start."""

    index: int
    offset: float
    duration: float
    language: str | None
    segments: tuple[Segment, ...] = ()
    engine: str = ""
    overlap: float = 0.0
    #: the engine's detection, when the chunk was decoded in the language it detected (the job's
    #: language is voted on from these after the fan-out: transcriber/domain/language.py)
    detection: LanguageGuess | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {**_shallow_fields(self), "segments": [s.to_dict() for s in self.segments]}
        data["detection"] = asdict(self.detection) if self.detection else None
        return _without_none(data, "detection")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkTranscript:
        detection = data.get("detection")
        return cls(
            index=int(data["index"]),
            offset=float(data["offset"]),
            duration=float(data["duration"]),
            language=data.get("language"),
            engine=str(data.get("engine", "")),
            segments=tuple(Segment.from_dict(s) for s in data.get("segments", [])),
            overlap=float(data.get("overlap", 0.0)),
            detection=LanguageGuess(
                probabilities={str(k): float(v) for k, v in detection["probabilities"].items()},
                speech_seconds=float(detection["speech_seconds"]),
            )
            if detection
            else None,
        )


@dataclass(frozen=True)
class Transcript:
    """The merged document for a whole job; segment times are absolute seconds."""

    job_id: str
    language: str | None
    duration: float
    chunks: int
    segments: tuple[Segment, ...] = ()
    engine: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())
