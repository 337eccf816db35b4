"""Chunk planning on generated audio: tones stand in for speech, silences for pauses."""

from __future__ import annotations

import wave
from itertools import pairwise
from pathlib import Path

import pytest
from pydub import AudioSegment
from pydub.generators import Sine
from pydub.silence import detect_nonsilent

from transcriber.domain.chunking import ChunkingConfig, export_chunks, plan_chunks
from transcriber.domain.models import ChunkSpec

RATE = 16000
_TONE_1S = Sine(440, sample_rate=RATE).to_audio_segment(duration=1000, volume=-10)


def tone(ms: int) -> AudioSegment:
    whole, rest = divmod(ms, 1000)
    out = _TONE_1S * whole
    return out + _TONE_1S[:rest] if rest else out


def silence(ms: int) -> AudioSegment:
    return AudioSegment.silent(duration=ms, frame_rate=RATE)


def check_invariants(specs: list[ChunkSpec], audio: AudioSegment, config: ChunkingConfig) -> None:
    """Indexes from 0, ordered, overlapping only where declared, within the audio, no longer than
    allowed, all speech kept."""
    assert [s.index for s in specs] == list(range(len(specs)))
    for spec in specs:
        assert 0 <= spec.offset < spec.end <= len(audio) / 1000 + 1e-9
        assert spec.duration <= config.max_chunk_s + 1e-9
    for before, after in pairwise(specs):
        assert before.end <= after.offset + after.overlap + 1e-9
    speech = detect_nonsilent(audio, config.min_silence_ms, config.silence_thresh_dbfs, seek_step=10)
    for start, end in speech:
        covered = sum(
            max(0.0, min(end / 1000, s.end) - max(start / 1000, s.offset + s.overlap)) for s in specs
        )
        assert covered == pytest.approx((end - start) / 1000, abs=0.002)


def test_cuts_fall_inside_the_silences_with_true_offsets() -> None:
    audio = tone(3000) + silence(1000) + tone(3000) + silence(1000) + tone(3000)
    config = ChunkingConfig(max_chunk_s=4)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    # Each tone plus 200 ms of kept silence either side, clamped to the audio.
    assert [(s.offset, s.end) for s in specs] == [
        pytest.approx((0.0, 3.2), abs=0.011),
        pytest.approx((3.8, 7.2), abs=0.011),
        pytest.approx((7.8, 11.0), abs=0.011),
    ]


def test_short_pieces_are_grouped_up_to_the_maximum() -> None:
    audio = silence(700) + (tone(1000) + silence(600)) * 6 + silence(2000)
    config = ChunkingConfig(max_chunk_s=5)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 2  # 6 tones of 1 s, 1.6 s apart: three fit in 5 s
    assert specs[0].offset == pytest.approx(0.5, abs=0.011)
    assert specs[-1].end == pytest.approx(0.7 + 5 * 1.6 + 1.0 + 0.2, abs=0.011)  # trailing silence left out
    assert len(plan_chunks(audio, ChunkingConfig(max_chunk_s=60))) == 1


def test_speech_longer_than_a_chunk_falls_back_to_fixed_length() -> None:
    audio = silence(1000) + tone(5000) + silence(1000)
    config = ChunkingConfig(max_chunk_s=2)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 4
    assert specs[0].offset == pytest.approx(0.8, abs=0.011) and specs[0].overlap == 0
    assert specs[-1].end == pytest.approx(6.2, abs=0.011)
    for before, after in pairwise(specs):
        # Cut inside speech: the next chunk repeats the last 0.5 s (a quarter of 2 s) before the cut.
        assert after.overlap == pytest.approx(0.5)
        assert before.end == pytest.approx(after.offset + after.overlap, abs=0.001)  # nothing lost
    assert all(s.duration - s.overlap == pytest.approx(5.4 / 4, abs=0.011) for s in specs)  # equal steps


def test_no_overlap_when_asked_for_none() -> None:
    audio = silence(1000) + tone(5000) + silence(1000)
    specs = plan_chunks(audio, ChunkingConfig(max_chunk_s=2, seam_overlap_s=0))
    assert len(specs) == 3 and all(s.overlap == 0 for s in specs)
    for before, after in pairwise(specs):
        assert before.end == pytest.approx(after.offset, abs=0.001)


def test_silent_audio_is_covered_end_to_end() -> None:
    audio = silence(5000)
    specs = plan_chunks(audio, ChunkingConfig(max_chunk_s=2))
    assert specs[0].offset == 0 and specs[-1].end == pytest.approx(5.0)
    assert sum(s.duration - s.overlap for s in specs) == pytest.approx(5.0)
    assert all(s.duration <= 2 for s in specs)


def test_empty_audio_has_no_chunks() -> None:
    assert plan_chunks(silence(0)) == []


def test_the_sample_splits_between_sentences(sample_wav: Path) -> None:
    audio = AudioSegment.from_wav(str(sample_wav))
    config = ChunkingConfig(max_chunk_s=8)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 4  # four sentences, each under 8 s, with 0.8 s pauses between


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ChunkingConfig.from_env() == ChunkingConfig()
    monkeypatch.setenv("CHUNK_MIN_SILENCE_MS", "300")
    monkeypatch.setenv("CHUNK_SILENCE_THRESH_DBFS", "-35.5")
    monkeypatch.setenv("CHUNK_KEEP_SILENCE_MS", "100")
    monkeypatch.setenv("CHUNK_MAX_SECONDS", "8")
    assert ChunkingConfig.from_env() == ChunkingConfig(300, -35.5, 100, 8.0, 1.0)
    monkeypatch.setenv("CHUNK_MAX_SECONDS", "eight")
    with pytest.raises(ValueError, match="CHUNK_MAX_SECONDS"):
        ChunkingConfig.from_env()
    with pytest.raises(ValueError):
        ChunkingConfig(max_chunk_s=0)


def test_export_writes_16k_mono_wavs_of_the_planned_length(tmp_path: Path) -> None:
    stereo = (tone(1500) + silence(1000) + tone(1500)).set_channels(2).set_frame_rate(44100)
    specs = plan_chunks(stereo, ChunkingConfig(max_chunk_s=2))
    paths = export_chunks(stereo, specs, tmp_path / "chunks")
    assert [p.name for p in paths] == ["chunk-0000.wav", "chunk-0001.wav"]
    for spec, path in zip(specs, paths, strict=True):
        with wave.open(str(path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() / 16000 == pytest.approx(spec.duration, abs=0.001)
