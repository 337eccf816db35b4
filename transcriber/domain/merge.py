"""Join per-chunk transcripts into one document on the timeline of the whole file."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from transcriber.domain.models import ChunkTranscript, Segment, Transcript, Word


def _clamp(value: float, low: float, high: float) -> float:
    return round(min(max(value, low), high), 3)


def _place(segment: Segment, chunk: ChunkTranscript, duration: float) -> Segment:
    """Shift a chunk-relative segment to absolute time and keep it inside its chunk and the file.

    Engines sometimes report times a little past the end of the audio they were given; clamping
    to the chunk keeps segments of consecutive chunks in order.
    """
    low = max(0.0, min(chunk.offset, duration))
    high = min(duration, chunk.offset + chunk.duration) if chunk.duration > 0 else duration
    high = max(high, low)
    moved = segment.shifted(chunk.offset)
    start = _clamp(moved.start, low, high)
    end = max(start, _clamp(moved.end, low, high))
    words = []
    for word in moved.words:
        w_start = _clamp(word.start, start, end)
        words.append(Word(w_start, max(w_start, _clamp(word.end, start, end)), word.text, word.probability))
    return Segment(start=start, end=end, text=segment.text.strip(), words=tuple(words))


def _language(chunks: list[ChunkTranscript]) -> str | None:
    """The language heard for the longest total time; chunks with no text do not vote.

    Language detection on silence or noise is a guess, so only chunks that produced text count
    (unless none did). Ties go to the language heard first.
    """
    voting = [c for c in chunks if c.language and any(s.text.strip() for s in c.segments)]
    voting = voting or [c for c in chunks if c.language]
    weights: dict[str, float] = defaultdict(float)
    for chunk in voting:
        if chunk.language:
            weights[chunk.language] += max(chunk.duration, 0.0)
    if not weights:
        return None
    return max(weights, key=weights.__getitem__)  # dicts keep first-seen order: ties go to it


def merge_chunks(
    job_id: str, chunks: Iterable[ChunkTranscript], duration: float, engine: str = ""
) -> Transcript:
    """Merge chunk transcripts (any order) into absolute, increasing, non-empty segments."""
    ordered = sorted(chunks, key=lambda c: c.index)
    duration = round(max(duration, 0.0), 3)
    placed = [
        _place(segment, chunk, duration)
        for chunk in ordered
        for segment in chunk.segments
        if segment.text.strip()
    ]
    placed.sort(key=lambda s: s.start)  # stable: keeps engine order for equal starts
    if not engine:
        engine = ",".join(sorted({c.engine for c in ordered if c.engine}))
    return Transcript(
        job_id=job_id,
        language=_language(ordered),
        duration=duration,
        chunks=len(ordered),
        segments=tuple(placed),
        engine=engine,
    )
