"""Subtitle line wrapping: the same balanced lines as the first (exhaustive) algorithm, in bounded work."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest

from transcriber.domain import subtitles
from transcriber.domain.models import Segment, Word
from transcriber.domain.subtitles import subtitle_cues, wrap
from transcriber.domain.textopts import CaptionStyle


def reference_wrap(text: str, width: int, max_lines: int) -> tuple[str, ...] | None:
    """The first ``wrap``, kept as the definition of the result: it tries every break (exponential)."""
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
        tail = reference_wrap(rest, width, max_lines - 1)
        if tail is None:
            continue
        candidate = (first, *tail)
        if best is None or max(map(len, candidate)) < max(map(len, best)):
            best = candidate
    return best


def _random_text(rng: random.Random) -> str:
    words = ["x" * rng.choice((1, 1, 2, 3, 4, 5, 7, 9, 12, 16)) for _ in range(rng.randint(0, 12))]
    separators = [rng.choice((" ", " ", " ", "  ", "\t")) for _ in words]
    text = "".join(s + w for s, w in zip(separators, words, strict=True))
    return text if rng.random() < 0.5 else text.strip()


def test_wrap_gives_the_reference_lines_on_random_inputs() -> None:
    rng = random.Random(20261204)
    results = set()
    for _ in range(4000):
        text, width, max_lines = _random_text(rng), rng.randint(3, 20), rng.randint(0, 5)
        expected = reference_wrap(text, width, max_lines)
        assert wrap(text, width, max_lines) == expected, (text, width, max_lines)
        results.add(None if expected is None else len(expected))
    assert results >= {None, 0, 1, 2, 3, 4}  # the inputs reach every kind of answer


@pytest.mark.parametrize(
    ("text", "width", "max_lines", "lines"),
    [
        ("aa bb cc dd", 5, 2, ("aa bb", "cc dd")),
        ("aa bb cc dd ee", 8, 3, ("aa", "bb cc", "dd ee")),  # of equally balanced, the earliest breaks
        ("one two three four five six", 9, 3, None),  # needs four lines of nine
        ("a bbbbbbbbbbbb", 5, 2, ("a", "bbbbbbbbbbbb")),  # an overlong last word on a line of its own
        ("bbbbbbbbbbbb a", 5, 4, None),  # ... but only as the last line
    ],
)
def test_wrap_examples(text: str, width: int, max_lines: int, lines: tuple[str, ...] | None) -> None:
    assert reference_wrap(text, width, max_lines) == lines
    assert wrap(text, width, max_lines) == lines


class TooManySteps(Exception):
    pass


@contextmanager
def counted_calls(limit: int) -> Iterator[Callable[[], int]]:
    """Counts the calls of functions of the subtitles module; past ``limit``, stops the work."""
    calls = 0
    module_file = subtitles.__file__

    def tracer(frame: FrameType, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code.co_filename == module_file:
            calls += 1
            if calls > limit:
                raise TooManySteps(f"over {limit} calls")

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield lambda: calls
    finally:
        sys.settrace(previous)


def _single_character_words(count: int, seconds: float) -> Segment:
    """An unpunctuated segment of Chinese-like word timestamps: one character a word."""
    step = seconds / count
    words = tuple(Word(round(i * step, 3), round((i + 1) * step, 3), "字") for i in range(count))
    return Segment(0.0, seconds, "字" * count, words)


def test_long_unpunctuated_segments_of_short_words_wrap_in_bounded_work() -> None:
    """Four lines of 80 and 30 s a cue: 150 one-character words are one cue of four lines.

    Trying every break took millions of calls (15 s) for this; the dynamic programme about 170,000.
    """
    style = CaptionStyle(max_line_chars=80, max_lines=4, max_duration_s=30.0)
    with counted_calls(limit=400_000) as calls:
        cues = subtitle_cues([_single_character_words(150, 30.0)], style=style)
    assert calls() > 1000  # the counter saw the work
    assert [len(cue.lines) for cue in cues] == [4]
    assert all(len(line) <= 80 for line in cues[0].lines)
    assert cues[0].text.split() == ["字"] * 150
    # As balanced as whole words allow, no line over 38 words (75 characters); of the equally
    # balanced wrappings the one that breaks earliest.
    assert [len(line) for line in cues[0].lines] == [71, 75, 75, 75]


def test_a_cue_stops_growing_once_its_text_cannot_fit() -> None:
    """Past four lines of 80 (160 one-character words) the cue closes and the next one starts."""
    style = CaptionStyle(max_line_chars=80, max_lines=4, max_duration_s=30.0)
    with counted_calls(limit=600_000):
        cues = subtitle_cues([_single_character_words(400, 30.0)], style=style)
    assert [len(cue.text.split()) for cue in cues] == [160, 160, 80]
    assert [len(cue.lines) for cue in cues] == [4, 4, 4]  # balanced: the last cue too
    assert all(len(line) <= 80 for cue in cues for line in cue.lines)
