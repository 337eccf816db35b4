"""Merging chunk transcripts onto the timeline of the whole file."""

from __future__ import annotations

from transcriber.domain.merge import merge_chunks
from transcriber.domain.models import ChunkTranscript, Segment, Word


def chunk(
    index: int, offset: float, duration: float, language: str | None, *segments: Segment
) -> ChunkTranscript:
    return ChunkTranscript(index, offset, duration, language, tuple(segments), engine="whisper-base")


def test_segments_become_absolute_and_increasing_whatever_the_arrival_order() -> None:
    chunks = [
        chunk(2, 20.0, 10.0, "en", Segment(0.5, 2.0, " third ")),
        chunk(0, 0.0, 9.5, "en", Segment(0.2, 1.0, "first"), Segment(1.5, 3.0, "second")),
        chunk(1, 9.5, 10.0, "en"),  # silence: no segments
    ]
    t = merge_chunks("job-1", chunks, duration=30.0)
    assert [(s.start, s.end, s.text) for s in t.segments] == [
        (0.2, 1.0, "first"),
        (1.5, 3.0, "second"),
        (20.5, 22.0, "third"),
    ]
    assert t.chunks == 3 and t.job_id == "job-1" and t.duration == 30.0
    assert t.engine == "whisper-base"
    assert t.text == "first second third"


def test_times_are_clamped_to_the_chunk_and_the_audio() -> None:
    chunks = [
        chunk(0, 0.0, 5.0, "en", Segment(-0.3, 5.8, "runs past its chunk")),
        chunk(1, 5.0, 5.0, "en", Segment(0.1, 1.0, "next"), Segment(4.0, 9.0, "past the end")),
    ]
    t = merge_chunks("j", chunks, duration=9.5)
    assert [(s.start, s.end) for s in t.segments] == [(0.0, 5.0), (5.1, 6.0), (9.0, 9.5)]
    starts = [s.start for s in t.segments]
    assert starts == sorted(starts)
    assert all(0 <= s.start <= s.end <= t.duration for s in t.segments)


def test_inverted_and_empty_segments_are_repaired_or_dropped() -> None:
    chunks = [chunk(0, 10.0, 5.0, "de", Segment(2.0, 1.0, "backwards"), Segment(3.0, 4.0, "   "))]
    t = merge_chunks("j", chunks, duration=15.0)
    assert [(s.start, s.end, s.text) for s in t.segments] == [(12.0, 12.0, "backwards")]


def test_words_are_shifted_with_their_segment() -> None:
    words = (Word(0.0, 0.4, "hello", 0.9), Word(0.5, 0.9, "there", None))
    t = merge_chunks("j", [chunk(0, 60.0, 30.0, "en", Segment(0.0, 0.9, "hello there", words))], 90.0)
    assert [(w.start, w.end, w.text) for w in t.segments[0].words] == [
        (60.0, 60.4, "hello"),
        (60.5, 60.9, "there"),
    ]


def test_language_is_the_one_heard_longest_in_chunks_with_text() -> None:
    said = Segment(0.0, 1.0, "x")
    chunks = [
        chunk(0, 0.0, 10.0, "fr", said),
        chunk(1, 10.0, 30.0, "en", said),
        chunk(2, 40.0, 15.0, "fr", said),
        chunk(3, 55.0, 60.0, "nn"),  # a guess on silence does not vote
        chunk(4, 115.0, 5.0, None, said),
    ]
    assert merge_chunks("j", chunks, 120.0).language == "en"
    assert merge_chunks("j", [chunk(0, 0.0, 5.0, None)], 5.0).language is None
    assert merge_chunks("j", [chunk(0, 0.0, 5.0, "es")], 5.0).language == "es"  # nobody spoke: fall back


def test_explicit_engine_and_no_chunks() -> None:
    t = merge_chunks("j", [], 0.0, engine="pocketsphinx")
    assert (t.segments, t.chunks, t.language, t.engine) == ((), 0, None, "pocketsphinx")


def test_words_in_an_overlap_are_kept_once_from_the_chunk_that_heard_them_whole() -> None:
    """Chunk 1 repeats the last 2 s of chunk 0 (a cut inside speech at 10 s): seam at 9 s."""
    first = ChunkTranscript(
        index=0, offset=0.0, duration=10.0, language="en",
        segments=(Segment(7.0, 9.95, " one two thr", (
            Word(7.0, 7.9, " one"), Word(8.0, 8.8, " two"), Word(9.5, 9.95, " thr"),  # "three", cut off
        )),),
    )  # fmt: skip
    second = ChunkTranscript(
        index=1, offset=8.0, duration=10.0, language="en", overlap=2.0,
        segments=(Segment(0.0, 3.0, " two three four", (
            Word(0.1, 0.8, " two"), Word(1.5, 2.2, " three"), Word(2.4, 3.0, " four"),
        )),),
    )  # fmt: skip
    merged = merge_chunks("job", [second, first], duration=18.0)
    words = [w.text.strip() for s in merged.segments for w in s.words]
    assert words == ["one", "two", "three", "four"]  # nothing lost, nothing doubled
    assert merged.text == "one two three four"
    assert [s.start for s in merged.segments] == [7.0, 9.5]
