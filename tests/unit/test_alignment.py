from __future__ import annotations

from transcriber.domain.alignment import (
    pauses,
    refine_segments,
    sentence_segments,
    snap_words,
    split_at_pauses,
    split_sentences,
)
from transcriber.domain.models import Segment, Word


def _w(start: float, end: float, text: str) -> Word:
    return Word(start=start, end=end, text=text)


def test_pauses_include_the_lead_in_and_skip_short_gaps() -> None:
    speech = [(1.0, 2.0), (2.1, 3.0), (4.0, 5.0)]
    assert pauses(speech) == [(0.0, 1.0), (3.0, 4.0)]


def test_a_word_that_swallowed_a_pause_starts_just_before_the_speech() -> None:
    speech = [(0.0, 2.0), (4.0, 5.0)]  # a 2 s pause from 2.0 to 4.0
    words = [_w(1.5, 2.0, " about."), _w(2.0, 4.3, " If"), _w(4.3, 4.6, " the")]
    snapped = snap_words(words, speech)
    assert [w.start for w in snapped] == [1.5, 3.8, 4.3]  # 0.2 s lead before the onset at 4.0


def test_a_word_lying_in_a_pause_moves_to_the_speech_after_it() -> None:
    speech = [(0.0, 2.0), (4.0, 5.0)]
    words = [_w(1.5, 1.99, " about."), _w(1.99, 2.8, " If"), _w(3.8, 4.3, " the")]
    snapped = snap_words(words, speech)
    assert snapped[1].start == 3.8 and snapped[1].end == 4.0
    assert snapped[2].start >= snapped[1].end  # still in order


def test_words_inside_speech_keep_their_times() -> None:
    speech = [(0.0, 3.0)]
    words = [_w(0.2, 0.5, " one"), _w(0.6, 1.0, " two"), _w(1.05, 1.4, " three")]
    assert snap_words(words, speech) == words


def test_split_at_long_pauses() -> None:
    words = [_w(0.0, 0.5, " a"), _w(0.6, 1.0, " b"), _w(2.5, 3.0, " c")]
    assert [[w.text for w in g] for g in split_at_pauses(words)] == [[" a", " b"], [" c"]]


def test_long_runs_split_after_sentence_ends_short_ones_stay_whole() -> None:
    words = [_w(i * 1.0, i * 1.0 + 0.8, f" w{i}." if i in (3, 6) else f" w{i}") for i in range(10)]
    assert [len(g) for g in split_sentences(words)] == [4, 3, 3]
    assert [len(g) for g in split_sentences(words[:5])] == [5]  # 4.8 s: one segment
    assert split_sentences([]) == []


def test_a_batched_segment_becomes_sentences() -> None:
    """Batched decoding gives one segment per stretch of speech; the transcript wants sentences."""
    words = tuple(_w(i * 0.5, i * 0.5 + 0.4, " end." if i in (9, 19) else " word") for i in range(24))
    segment = Segment(start=0.0, end=11.9, text="", words=words)
    split = sentence_segments(segment)
    assert [(s.start, len(s.words)) for s in split] == [(0.0, 10), (5.0, 10), (10.0, 4)]
    assert split[0].text.endswith("end.") and split[0].end == 4.9
    assert sentence_segments(Segment(start=0.0, end=1.0, text="no words")) == [Segment(0.0, 1.0, "no words")]


def test_refine_splits_a_segment_that_spans_two_utterances() -> None:
    words = (_w(0.0, 0.5, " It"), _w(0.5, 1.0, " ends."), _w(3.2, 3.6, " He"), _w(3.6, 4.0, " starts."))
    segment = Segment(start=0.0, end=4.0, text=" It ends. He starts.", words=words)
    refined = refine_segments([segment], [(0.0, 1.0), (3.3, 4.0)])
    assert [(s.start, s.text) for s in refined] == [(0.0, "It ends."), (3.2, "He starts.")]


def test_bare_token_words_are_joined_with_spaces() -> None:
    words = (_w(0.0, 0.5, "one"), _w(2.0, 2.5, "two"), _w(2.5, 3.0, "three"))
    segment = Segment(start=0.0, end=3.0, text="one two three", words=words)
    assert [s.text for s in refine_segments([segment], [(0.0, 0.5), (2.0, 3.0)])] == ["one", "two three"]


def test_segments_without_words_are_left_alone() -> None:
    segment = Segment(start=1.0, end=2.0, text="no words")
    assert refine_segments([segment], [(0.0, 5.0)]) == [segment]
