"""bench.quality's scoring helpers, on synthetic data (no ../shared, no engine)."""

from __future__ import annotations

import pytest

from bench.quality import Tally, reference_pauses, words_in_pauses
from bench.scoring import start_errors
from bench.seams import SeamReport, scored_runs

UTTERANCES = [
    {"start": 1.0, "end": 4.0, "text": "ONE TWO"},
    {"start": 5.0, "end": 8.0, "text": "THREE"},
    {"start": 8.5, "end": 10.0, "text": "FOUR"},
]


def test_pauses_cover_lead_in_gaps_and_tail() -> None:
    assert reference_pauses(UTTERANCES, 11.0) == [(0.0, 1.0), (4.0, 5.0), (8.0, 8.5), (10.0, 11.0)]


def test_pauses_skip_touching_or_overlapping_utterances() -> None:
    touching = [{"start": 0.0, "end": 2.0}, {"start": 2.0, "end": 3.0}, {"start": 2.5, "end": 4.0}]
    assert reference_pauses(touching, 4.0) == []


def _segment(*words: tuple[float, float, str]) -> dict[str, object]:
    return {
        "start": words[0][0],
        "end": words[-1][1],
        "text": " ".join(w for _, _, w in words),
        "words": [{"start": a, "end": b, "text": w} for a, b, w in words],
    }


def test_words_in_pauses_counts_midpoints_inside_the_margin() -> None:
    pauses = reference_pauses(UTTERANCES, 11.0)
    segments = [
        _segment((1.0, 1.5, "one"), (1.5, 4.1, "two")),  # midpoints inside speech
        _segment((4.3, 4.5, "uh")),  # midpoint 4.4: inside (4.2, 4.8)
        _segment((4.0, 4.3, "edge")),  # midpoint 4.15: within the 0.2 s margin, not counted
        _segment((8.1, 8.4, "in-short-pause")),  # 0.5 s pause shrinks to (8.2, 8.3): 8.25 counts
        _segment((10.5, 10.7, "thanks")),  # in the tail
    ]
    found = words_in_pauses(segments, pauses)
    assert [w["text"] for w in found] == ["uh", "in-short-pause", "thanks"]


def test_words_in_pauses_without_word_times_uses_the_segment_midpoint() -> None:
    segments = [{"start": 4.3, "end": 4.7, "text": "two words"}, {"start": 1.0, "end": 3.0, "text": "x"}]
    assert len(words_in_pauses(segments, [(4.0, 5.0)])) == 2


def test_pauses_narrower_than_both_margins_hold_nothing() -> None:
    assert words_in_pauses([_segment((4.1, 4.3, "a"))], [(4.0, 4.35)]) == []


def test_start_errors_nearest_segment_start() -> None:
    segments = [{"start": 0.9}, {"start": 5.3}, {"start": 9.0}]
    true_starts = [float(str(u["start"])) for u in UTTERANCES]
    assert start_errors(true_starts, segments) == pytest.approx([0.1, 0.3, 0.5])
    assert start_errors(true_starts, []) == [float("inf")] * 3


def test_tally_sums_errors_over_reference_words() -> None:
    tally = Tally()
    tally.add("HE COULD WAIT NO LONGER", "He could wait no longer.")
    tally.add("STUFF IT INTO YOU", "stuff it in to you")  # 1 substitution + 1 insertion
    tally.add("TEN DAYS", "")  # a failed job: every word deleted
    assert (tally.clips, tally.words, tally.errors) == (3, 11, 4)
    assert tally.wer == pytest.approx(4 / 11)


def test_seam_runs_count_lost_and_doubled_words_against_the_one_pass_run() -> None:
    reference = "ONE TWO THREE FOUR FIVE SIX"
    runs = scored_runs(
        reference,
        [
            ("one pass, no seams", "one two three four five"),  # 1 deletion
            ("2 forced seams, overlap 0.0 s", "one two four five"),  # 2 deletions
            ("2 forced seams, overlap 2.0 s", "one two three three four five six six"),  # 2 insertions
        ],
    )
    assert [(r.deleted, r.inserted, r.lost, r.doubled) for r in runs] == [
        (1, 0, 0, 0),
        (2, 0, 1, 0),
        (0, 2, -1, 2),
    ]
    table = SeamReport(123.4, 6, 7.0, runs).table().splitlines()
    assert table[0].startswith("continuous speech: 123.4 s, 6 reference words, chunks of at most 7 s")
    assert table[3].split()[-2:] == ["1", "0"]
