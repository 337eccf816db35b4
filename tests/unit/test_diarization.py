"""Diarization logic with a fake embedder, and once end to end on two real voices."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from transcriber.domain.diarization import (
    SpeakerEmbeddings,
    SpeakerTurn,
    check_speaker_range,
    diarize,
    embed_windows,
    label_segments,
    plan_windows,
    speaker_at,
)
from transcriber.domain.models import Segment, Word

EVAL = next(
    (p / "shared" / "eval" for p in Path(__file__).resolve().parents if (p / "shared" / "eval").is_dir()),
    None,
)

VOICES = {"a": np.eye(8)[0], "b": np.eye(8)[1], "c": np.eye(8)[2]}


def _embeddings(turns: list[tuple[float, float, str]], step: float = 1.0) -> SpeakerEmbeddings:
    """Windows of each turn (one region per turn) with a noisy copy of that voice's vector."""
    rng = np.random.default_rng(1)
    starts, ends, regions, vectors = [], [], [], []
    for number, (start, end, voice) in enumerate(turns):
        for a in np.arange(start, end - 1e-9, step):
            v = VOICES[voice] + rng.normal(0, 0.05, 8)
            starts.append(a)
            ends.append(min(a + step, end))
            regions.append(number)
            vectors.append(v / np.linalg.norm(v))
    return SpeakerEmbeddings(
        np.array(starts), np.array(ends), np.array(regions), np.array(vectors, np.float32)
    )


def test_plan_windows_cuts_regions_and_skips_blips() -> None:
    windows = plan_windows([(0.0, 3.1), (4.0, 4.2), (5.0, 5.6)], step_s=1.0)
    assert [(r, round(a, 2), round(b, 2)) for r, a, b in windows] == [
        (0, 0.0, 1.03),
        (0, 1.03, 2.07),
        (0, 2.07, 3.1),
        (2, 5.0, 5.6),
    ]


def test_embed_windows_gives_absolute_times_and_drops_unvoiced() -> None:
    samples = np.zeros(16_000 * 4, np.float32)
    calls: list[int] = []

    def embed(snippets: list[np.ndarray]) -> list[np.ndarray | None]:
        calls.append(len(snippets))
        return [None if i == 0 else VOICES["a"] for i in range(len(snippets))]

    emb = embed_windows(samples, [(0.0, 3.0)], embed, offset=100.0)
    assert calls == [3]  # one batch for the whole chunk
    assert list(emb.starts) == [101.0, 102.0] and list(emb.ends) == [102.0, 103.0]


def test_a_chunks_overlap_with_the_previous_chunk_is_not_embedded_twice() -> None:
    samples = np.zeros(16_000 * 6, np.float32)
    emb = embed_windows(samples, [(0.0, 6.0)], lambda s: [VOICES["a"]] * len(s), offset=60.0, overlap=2.0)
    assert list(emb.starts) == [62.0, 63.0, 64.0, 65.0]


def test_speakers_are_labelled_in_order_of_first_appearance() -> None:
    emb = _embeddings([(0, 4, "b"), (4.5, 8, "a"), (8.5, 12, "b"), (12.5, 16, "c")])
    turns = diarize(emb)
    assert [t.speaker for t in turns] == ["spk_0", "spk_1", "spk_0", "spk_2"]
    assert turns[0] == SpeakerTurn(0.0, 4.0, "spk_0")


def test_embeddings_clustered_once_keep_labels_across_chunks() -> None:
    """Two chunks embedded separately, stored as bytes, clustered together: one label per voice."""
    first = _embeddings([(0, 5, "a"), (5.5, 10, "b")])
    second = _embeddings([(0, 5, "b"), (5.5, 10, "a")])
    second = SpeakerEmbeddings(second.starts + 600, second.ends + 600, second.region, second.vectors)
    stored = [SpeakerEmbeddings.from_bytes(part.to_bytes()) for part in (second, first)]
    turns = diarize(SpeakerEmbeddings.concatenate(stored))
    assert [(t.start, t.speaker) for t in turns] == [
        (0.0, "spk_0"),
        (5.5, "spk_1"),
        (600.0, "spk_1"),
        (605.5, "spk_0"),
    ]


def test_min_and_max_speakers_are_honoured() -> None:
    emb = _embeddings([(0, 4, "a"), (4.5, 8, "b"), (8.5, 12, "c")])
    assert len({t.speaker for t in diarize(emb)}) == 3
    assert len({t.speaker for t in diarize(emb, max_speakers=2)}) == 2
    single = _embeddings([(0, 4, "a"), (4.5, 8, "a")])
    assert len({t.speaker for t in diarize(single)}) == 1
    assert len({t.speaker for t in diarize(single, min_speakers=2)}) == 2


@pytest.mark.parametrize(
    ("low", "high", "message"),
    [
        (3, 2, "must not exceed"),
        (0, None, "from 1 to 30"),
        (None, 31, "from 1 to 30"),
        (1.5, None, "whole number"),
    ],
)
def test_impossible_speaker_ranges_say_what_is_accepted(low: object, high: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_speaker_range(low, high)  # type: ignore[arg-type]


def test_words_take_the_speaker_they_overlap_and_segments_split_at_changes() -> None:
    turns = [SpeakerTurn(0.0, 2.0, "spk_0"), SpeakerTurn(2.2, 5.0, "spk_1")]
    words = (
        Word(0.1, 0.5, " Hello"),
        Word(0.6, 1.9, " there."),
        Word(2.1, 2.6, " Hi"),
        Word(2.7, 3.0, " back."),
    )
    segment = Segment(0.0, 3.2, " Hello there. Hi back.", words)
    pieces = label_segments([segment], turns)
    assert [(p.start, p.end, p.text, p.speaker) for p in pieces] == [
        (0.0, 1.9, "Hello there.", "spk_0"),
        (2.1, 3.2, "Hi back.", "spk_1"),
    ]
    assert [w.speaker for p in pieces for w in p.words] == ["spk_0", "spk_0", "spk_1", "spk_1"]
    assert [(w.start, w.end) for p in pieces for w in p.words] == [(w.start, w.end) for w in words]
    assert speaker_at(10.0, 11.0, turns) == "spk_1"  # no overlap: the nearest turn
    assert label_segments([Segment(0.5, 1.0, "no words")], turns)[0].speaker == "spk_0"


def test_channels_overlapping_in_time_keep_their_own_turns_and_one_label_per_voice() -> None:
    """A call: voice a on channel 0 from 0 to 10 s, voice b on channel 1 from 5 to 15 s, and a
    again on channel 1 later (the same person heard on the other line keeps their label)."""
    left = _embeddings([(0, 10, "a")]).on_channel(0)
    right = _embeddings([(5, 15, "b"), (20, 24, "a")]).on_channel(1)
    stored = [SpeakerEmbeddings.from_bytes(part.to_bytes()) for part in (right, left)]
    turns = diarize(SpeakerEmbeddings.concatenate(stored))
    assert turns == [
        SpeakerTurn(0.0, 10.0, "spk_0", 0),
        SpeakerTurn(5.0, 15.0, "spk_1", 1),
        SpeakerTurn(20.0, 24.0, "spk_0", 1),
    ]
    # While both talk (5-10 s), each channel's words take that channel's speaker.
    both = [
        Segment(6.0, 9.0, " Left side.", (Word(6.0, 7.0, " Left"), Word(7.5, 9.0, " side.")), channel=0),
        Segment(6.5, 9.5, " Right side.", (Word(6.5, 7.5, " Right"), Word(8.0, 9.5, " side.")), channel=1),
        Segment(7.0, 8.0, "no words", channel=1),
    ]
    labelled = label_segments(both, turns)
    assert [(s.speaker, s.channel) for s in labelled] == [("spk_0", 0), ("spk_1", 1), ("spk_1", 1)]
    assert [w.speaker for w in labelled[1].words] == ["spk_1", "spk_1"]


def test_embeddings_without_channels_read_as_before() -> None:
    plain = _embeddings([(0, 3, "a")])
    assert plain.channel is None and SpeakerEmbeddings.from_bytes(plain.to_bytes()).channel is None
    assert [t.channel for t in diarize(plain)] == [None]
    assert diarize(plain)[0].to_dict() == {"start": 0.0, "end": 3.0, "speaker": "spk_0"}


@pytest.mark.skipif(EVAL is None, reason="needs ../shared/eval recordings")
def test_two_real_speakers_get_two_labels_that_match_who_spoke() -> None:
    from faster_whisper.audio import decode_audio

    from transcriber.engines.speaker_encoder import embed_chunk

    assert EVAL is not None
    a1 = decode_audio(str(EVAL / "librispeech" / "1089-134686-0000.flac"))
    b1 = decode_audio(str(EVAL / "librispeech" / "2412-153948-0000.flac"))
    a2 = decode_audio(str(EVAL / "librispeech" / "1089-134691-0001.flac"))
    gap = np.zeros(8000, np.float32)
    conversation = np.concatenate([a1, gap, b1 * 0.3, gap, a2])
    bounds = np.cumsum([0, len(a1) + len(gap), len(b1) + len(gap), len(a2)]) / 16_000
    turns = diarize(embed_chunk(conversation))
    assert len({t.speaker for t in turns}) == 2
    expected = ["spk_0", "spk_1", "spk_0"]
    for (start, end), speaker in zip(itertools.pairwise(bounds), expected, strict=True):
        assert speaker_at(start + 0.5, end - 0.5, turns) == speaker


def test_long_jobs_cluster_a_sample_and_assign_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_CLUSTERED_WINDOWS the pairwise matrix is bounded; every window still gets its voice."""
    import transcriber.domain.diarization as diarization

    monkeypatch.setattr(diarization, "MAX_CLUSTERED_WINDOWS", 50)
    voices = ["a", "b", "c"] * 60
    emb = _embeddings([(i * 5.0, i * 5.0 + 4.0, v) for i, v in enumerate(voices)], step=2.0)
    assert len(emb) == 360
    turns = diarize(emb)
    assert [t.speaker for t in turns] == ["spk_0", "spk_1", "spk_2"] * 60
