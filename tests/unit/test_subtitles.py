from __future__ import annotations

from itertools import pairwise

import pytest

from transcriber.domain.models import Segment, Word
from transcriber.domain.subtitles import (
    MAX_CUE_S,
    MAX_LINE_CHARS,
    MAX_LINES,
    join_words,
    subtitle_cues,
    wrap,
)

TEXT = (
    "The committee met on Tuesday to discuss the budget for the coming year and agreed on most points "
    "after a long debate about the new building. Everyone went home late. Then nothing happened for weeks"
)


def _timed(
    text: str, start: float = 0.0, per_word: float = 0.35, pause_after: dict[int, float] | None = None
) -> Segment:
    words, t = [], start
    for i, token in enumerate(text.split()):
        words.append(Word(start=round(t, 3), end=round(t + per_word - 0.05, 3), text=" " + token))
        t += per_word + (pause_after or {}).get(i, 0.0)
    return Segment(start=words[0].start, end=words[-1].end, text=text, words=tuple(words))


def test_cues_follow_line_length_line_count_and_duration_limits() -> None:
    cues = subtitle_cues([_timed(TEXT)])
    assert len(cues) > 3
    for cue in cues:
        assert 1 <= len(cue.lines) <= MAX_LINES
        assert all(len(line) <= MAX_LINE_CHARS for line in cue.lines)
        assert cue.end - cue.start <= MAX_CUE_S + 1e-9
    assert " ".join(c.text for c in cues) == TEXT


def test_cues_end_at_sentence_ends() -> None:
    cues = subtitle_cues([_timed(TEXT)])
    assert any(c.text.endswith("new building.") for c in cues)
    assert any(c.text == "Everyone went home late." for c in cues)


def test_a_pause_starts_a_new_cue() -> None:
    segment = _timed("one two three four five", pause_after={1: 0.8})
    assert [c.text for c in subtitle_cues([segment])] == ["one two", "three four five"]


def test_cues_are_ordered_and_never_overlap() -> None:
    cues = subtitle_cues([_timed(TEXT), _timed("A second segment starts here.", start=40.0)])
    for before, after in pairwise(cues):
        assert before.start <= before.end <= after.start


def test_segments_without_word_times_are_split_by_length() -> None:
    segment = Segment(start=10.0, end=40.0, text=TEXT)
    cues = subtitle_cues([segment])
    assert cues[0].start == 10.0 and cues[-1].end == 40.0
    assert all(c.end - c.start <= MAX_CUE_S + 1e-9 for c in cues)
    assert " ".join(c.text for c in cues) == TEXT


def test_wrap_balances_two_lines() -> None:
    lines = wrap("the quick brown fox jumps over the lazy dog and runs away")
    assert lines == ("the quick brown fox jumps over", "the lazy dog and runs away")
    assert wrap("short") == ("short",)
    assert wrap("x " * 60) is None  # does not fit in two lines of 42
    assert wrap("a" * 60) == ("a" * 60,)  # one overlong word keeps a line of its own


@pytest.mark.parametrize(
    ("words", "text"),
    [((" Hello", " world."), "Hello world."), (("bare", "tokens"), "bare tokens")],
)
def test_join_words(words: tuple[str, ...], text: str) -> None:
    assert join_words([Word(0, 1, w) for w in words]) == text
