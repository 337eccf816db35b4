"""Subtitle cues that follow the usual conventions, built from timed words.

At most 42 characters a line and 2 lines a cue, at most 7 seconds a cue; a cue also ends at a
sentence end and at a pause, so that text appears with the speech it belongs to. Segments
without word times are split into pseudo-words whose times are spread over the segment by
length, which keeps the same rules for every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from transcriber.domain.models import Segment, Word
from transcriber.domain.textopts import CaptionStyle

MAX_LINE_CHARS = 42
MAX_LINES = 2
MAX_CUE_S = 7.0
#: A pause between words at least this long starts a new cue.
CUE_PAUSE_S = 0.5
SENTENCE_END = (".", "?", "!", "\u2026", "\u3002", "\uff1f", "\uff01")  # and ellipsis, CJK full stops
#: Titles and abbreviations whose full stop does not end a sentence ("Mr." / "John Dashwood").
ABBREVIATIONS = frozenset((
    "mr", "mrs", "ms", "mx", "dr", "prof", "st", "jr", "sr", "mt", "messrs", "rev", "gen", "col",
    "capt", "lt", "sgt", "hon", "vs", "nr", "bzw", "dipl", "hr", "fr", "frau",
))  # fmt: skip


def ends_sentence(word: str) -> bool:
    bare = word.strip()
    return bare.endswith(SENTENCE_END) and bare.rstrip(".").lower() not in ABBREVIATIONS


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    #: The segment's speaker label, if speakers were labelled.
    speaker: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def join_words(words: Sequence[Word]) -> str:
    """Whisper's words carry their own leading spaces; bare tokens get one space between them."""
    if any(w.text[:1].isspace() for w in words):
        return " ".join("".join(w.text for w in words).split())
    return " ".join(w.text.strip() for w in words if w.text.strip())


def wrap(text: str, width: int = MAX_LINE_CHARS, max_lines: int = MAX_LINES) -> tuple[str, ...] | None:
    """Balanced line breaks within ``width``; None when the text does not fit in ``max_lines``.

    A single word longer than a line gets a line of its own rather than being cut.
    """
    words = text.split()
    if not words:
        return ()
    if len(text) <= width or len(words) == 1:
        return (text,)
    if max_lines < 2:
        return None
    best: tuple[str, ...] | None = None
    for cut in range(1, len(words)):
        first, rest = " ".join(words[:cut]), " ".join(words[cut:])
        if len(first) > width:
            break
        tail = wrap(rest, width, max_lines - 1)
        if tail is None:
            continue
        candidate = (first, *tail)
        if best is None or max(map(len, candidate)) < max(map(len, best)):
            best = candidate
    return best


def _pseudo_words(segment: Segment) -> list[Word]:
    """Spread a segment's words over its span by character count (no word times given)."""
    tokens = segment.text.split()
    total = sum(len(t) + 1 for t in tokens) or 1
    span = max(segment.end - segment.start, 0.0)
    words, position = [], 0
    for token in tokens:
        start = segment.start + span * position / total
        position += len(token) + 1
        words.append(
            Word(start=round(start, 3), end=round(segment.start + span * position / total, 3), text=token)
        )
    return words


def _segment_cues(
    segment: Segment, prefix: str | None = None, style: CaptionStyle | None = None
) -> list[Cue]:
    """Cues of one segment; ``prefix`` (``"spk_0:"``) goes before its first word, inside the line limits."""
    words = list(segment.words) if segment.words else _pseudo_words(segment)
    words = [w for w in words if w.text.strip()]
    if prefix and words:
        spaced = any(w.text[:1].isspace() for w in words)
        words.insert(0, Word(words[0].start, words[0].start, (" " if spaced else "") + prefix))
    style = style or CaptionStyle()
    cues: list[Cue] = []
    current: list[Word] = []

    def fits(text: str) -> tuple[str, ...] | None:
        return wrap(text, style.max_line_chars, style.max_lines)

    def close() -> None:
        if current:
            lines = fits(join_words(current)) or (join_words(current),)
            end = max(current[-1].end, current[0].start)
            cues.append(Cue(start=current[0].start, end=end, lines=lines, speaker=segment.speaker))
            current.clear()

    for word in words:
        if current:
            paused = word.start - current[-1].end >= CUE_PAUSE_S
            too_long = word.end - current[0].start > style.max_duration_s
            if paused or too_long or fits(join_words([*current, word])) is None:
                close()
        current.append(word)
        if ends_sentence(word.text):
            close()
    close()
    if cues:  # the segment's own bounds frame its first and last cue
        first, last = cues[0], cues[-1]
        cues[0] = Cue(min(first.start, segment.start), first.end, first.lines, segment.speaker)
        cues[-1] = Cue(cues[-1].start, max(last.end, segment.end), cues[-1].lines, segment.speaker)
    return cues


def subtitle_cues(
    segments: Iterable[Segment],
    speaker_prefix: Callable[[str], str] | None = None,
    style: CaptionStyle | None = None,
) -> list[Cue]:
    """Cues for a whole transcript, in order, never overlapping the next cue.

    With ``speaker_prefix``, the first cue of each speaker turn starts with its result (for
    example ``"Alice:"``); the prefix counts towards the line limits like any word.
    """
    cues: list[Cue] = []
    previous: str | None = None
    for segment in segments:
        turn = speaker_prefix is not None and segment.speaker is not None and segment.speaker != previous
        prefix = speaker_prefix(segment.speaker) if turn and speaker_prefix and segment.speaker else None
        previous = segment.speaker if segment.speaker is not None else previous
        cues.extend(_segment_cues(segment, prefix, style))
    for i in range(len(cues) - 1):
        if cues[i].end > cues[i + 1].start:
            cue = cues[i]
            cues[i] = Cue(cue.start, max(cue.start, cues[i + 1].start), cue.lines, cue.speaker)
    return cues
