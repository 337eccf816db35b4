"""Join per-chunk transcripts into one document on the timeline of the whole file."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from transcriber.domain.models import ChunkTranscript, Segment, Transcript, Word
from transcriber.domain.subtitles import join_words


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


def _windows(ordered: list[ChunkTranscript]) -> list[tuple[float, float]]:
    """The stretch of time each chunk is trusted with.

    Where a chunk overlaps its predecessor (a cut inside speech), the seam is the middle of the
    overlap: the earlier chunk keeps what it heard before it, the later chunk what it heard after.
    """
    seams = [
        chunk.offset + chunk.overlap / 2
        if chunk.overlap > 0 and i > 0 and ordered[i - 1].index == chunk.index - 1
        else None
        for i, chunk in enumerate(ordered)
    ]
    following = [*seams[1:], None] if seams else []
    return [
        (low if low is not None else -math.inf, high if high is not None else math.inf)
        for low, high in zip(seams, following, strict=True)
    ]


def _within(segment: Segment, low: float, high: float) -> list[Segment]:
    """The part of a segment whose words fall (by their midpoint) inside ``[low, high)``.

    Each word is kept by exactly one of two overlapping chunks, so a word cut at a seam is
    neither lost nor doubled. Without word times the segment's own midpoint decides.
    """

    def inside(start: float, end: float) -> bool:
        return low <= (start + end) / 2 < high

    if not segment.words:
        return [segment] if inside(segment.start, segment.end) else []
    words = [w for w in segment.words if inside(w.start, w.end)]
    if len(words) == len(segment.words):
        return [segment]
    if not words:
        return []
    return [Segment(start=words[0].start, end=words[-1].end, text=join_words(words), words=tuple(words))]


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
    job_id: str,
    chunks: Iterable[ChunkTranscript],
    duration: float,
    engine: str = "",
    language: str | None = None,
) -> Transcript:
    """Merge chunk transcripts (any order) into absolute, increasing, non-empty segments.

    ``language`` is the job's pinned language; without one, the chunks' own guesses vote.
    """
    ordered = sorted(chunks, key=lambda c: c.index)
    duration = round(max(duration, 0.0), 3)
    placed = [
        kept
        for chunk, (low, high) in zip(ordered, _windows(ordered), strict=True)
        for segment in chunk.segments
        if segment.text.strip()
        for kept in _within(_place(segment, chunk, duration), low, high)
    ]
    placed.sort(key=lambda s: s.start)  # stable: keeps engine order for equal starts
    if not engine:
        engine = ",".join(sorted({c.engine for c in ordered if c.engine}))
    return Transcript(
        job_id=job_id,
        language=language or _language(ordered),
        duration=duration,
        chunks=len(ordered),
        segments=tuple(placed),
        engine=engine,
    )
