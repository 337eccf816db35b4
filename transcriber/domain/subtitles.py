"""Subtitle cues that follow the usual conventions, built from timed words.

At most 42 characters a line and 2 lines a cue, at most 7 seconds a cue; a cue also ends at a
sentence end and at a pause, so that text appears with the speech it belongs to. Segments
without word times are split into pseudo-words whose times are spread over the segment by
length, which keeps the same rules for every engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

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
    #: The segment's channel, with channel identification.
    channel: int | None = None

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

    A single word longer than a line gets a line of its own rather than being cut (as the last
    line only). Balanced: the longest line is as short as it can be; among equally good
    wrappings the one whose first lines break earliest wins. Dynamic programming over (first word
    of a line, lines left), so the work grows with words x lines x width, not exponentially.
    """
    words = text.split()
    if not words:
        return ()
    if len(text) <= width or len(words) == 1:
        return (text,)
    if max_lines < 2:
        return None
    found = _Breaks(words, width).best(0, max_lines, whole=False)
    if found is None:
        return None
    return tuple(" ".join(words[a:b]) for a, b in pairwise((0, *found[1], len(words))))


class _Breaks:
    """The best line breaks of each tail of ``words`` in so many lines, each worked out once.

    ``best(i, lines)`` is the longest line's length and the indexes of the words that start the
    second, third... line of the best wrapping of ``words[i:]``, or None when it cannot fit.
    """

    def __init__(self, words: Sequence[str], width: int) -> None:
        self.width = width
        self.count = len(words)
        #: ``ends[j] - ends[i] - 1`` is the length of ``" ".join(words[i:j])``.
        self.ends = [0]
        for word in words:
            self.ends.append(self.ends[-1] + len(word) + 1)
        self.memo: dict[tuple[int, int], tuple[int, tuple[int, ...]] | None] = {}

    def best(self, i: int, lines: int, whole: bool = True) -> tuple[int, tuple[int, ...]] | None:
        """``whole``: ``words[i:]`` on one line when it fits (the top call has checked that itself)."""
        ends, width, count = self.ends, self.width, self.count
        length = ends[count] - ends[i] - 1
        if whole and (length <= width or count - i == 1):
            return length, ()
        # Every line full, a space between lines; or the last word alone on an overlong line.
        full = lines * (width + 1) - 1
        if lines < 2 or (length > full and ends[count - 1] - ends[i] - 1 > full - width - 1):
            return None  # cannot fit: no need to try
        key = (i, lines)
        if key in self.memo:
            return self.memo[key]
        found: tuple[int, tuple[int, ...]] | None = None
        for cut in range(i + 1, count):
            first = ends[cut] - ends[i] - 1
            if first > width or (found is not None and first >= found[0]):
                break  # first lines only get longer from here: none can beat what was found
            tail = self.best(cut, lines - 1)
            if tail is not None and (found is None or max(first, tail[0]) < found[0]):
                found = (max(first, tail[0]), (cut, *tail[1]))
        self.memo[key] = found
        return found


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
        """None, at once, when the text is longer than the cue's lines hold: the cue is full."""
        return wrap(text, style.max_line_chars, style.max_lines)

    def close() -> None:
        if current:
            lines = fits(join_words(current)) or (join_words(current),)
            end = max(current[-1].end, current[0].start)
            cues.append(Cue(current[0].start, end, lines, segment.speaker, segment.channel))
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
        cues[0] = replace(first, start=min(first.start, segment.start))
        cues[-1] = replace(cues[-1], end=max(last.end, segment.end))
    return cues


def subtitle_cues(
    segments: Iterable[Segment],
    speaker_prefix: Callable[[str], str] | None = None,
    style: CaptionStyle | None = None,
) -> list[Cue]:
    """Cues for a whole transcript in start-time order; a cue never overlaps its channel's next cue.

    With ``speaker_prefix``, the first cue of each speaker turn starts with its result (for
    example ``"Alice:"``); the prefix counts towards the line limits like any word.

    One recording's cues follow each other: where a segment's bounds reach into the next cue's
    time, the earlier cue ends as the next one starts. With channel identification each channel
    is a party of its own, transcribed on its own: its cues are cut only by its own next cue, and
    may overlap another channel's (a "mm-hm" during a sentence), shown together as SRT and WebVTT
    allow. Sorted by start (stably: at equal starts the lower channel first), as WebVTT requires.
    """
    cues: list[Cue] = []
    previous: str | None = None
    for segment in segments:
        turn = speaker_prefix is not None and segment.speaker is not None and segment.speaker != previous
        prefix = speaker_prefix(segment.speaker) if turn and speaker_prefix and segment.speaker else None
        previous = segment.speaker if segment.speaker is not None else previous
        cues.extend(_segment_cues(segment, prefix, style))
    following: dict[int | None, int] = {}  # channel -> index of its next cue, walking backwards
    for i in range(len(cues) - 1, -1, -1):
        cue, after = cues[i], following.get(cues[i].channel)
        if after is not None and cue.end > cues[after].start:
            cues[i] = replace(cue, end=max(cue.start, cues[after].start))
        following[cue.channel] = i
    return sorted(cues, key=lambda cue: cue.start)
