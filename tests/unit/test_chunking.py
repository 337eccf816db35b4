"""Chunk planning on generated audio: tones stand in for speech, silences for pauses."""

from __future__ import annotations

import struct
import wave
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from pydub import AudioSegment
from pydub.generators import Sine
from pydub.silence import detect_nonsilent

from transcriber.domain import chunking
from transcriber.domain.chunking import (
    ChunkingConfig,
    chunk_byte_ranges,
    longest_first,
    plan_chunks,
    plan_chunks_from_file,
    speech_spans,
    write_chunk_wav,
)
from transcriber.domain.models import ChunkSpec
from transcriber.env import ChunkEnv

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
    allowed (longer than ``max_chunk_seconds`` only with pauses, holding no more speech than allowed),
    all speech kept."""
    assert [s.index for s in specs] == list(range(len(specs)))
    speech = detect_nonsilent(audio, config.min_silence_ms, config.silence_thresh_dbfs, seek_step=10)
    for spec in specs:
        assert 0 <= spec.offset < spec.end <= len(audio) / 1000 + 1e-9
        assert spec.duration <= 2 * config.max_chunk_seconds + 1e-9
        if spec.duration > config.max_chunk_seconds + 1e-9:
            held = sum(max(0.0, min(e / 1000, spec.end) - max(s / 1000, spec.offset)) for s, e in speech)
            assert held <= config.max_speech_ms / 1000
    for before, after in pairwise(specs):
        assert before.end <= after.offset + after.overlap + 1e-9
    for start, end in speech:
        covered = sum(
            max(0.0, min(end / 1000, s.end) - max(start / 1000, s.offset + s.overlap)) for s in specs
        )
        assert covered == pytest.approx((end - start) / 1000, abs=0.002)


def test_cuts_fall_inside_the_silences_with_true_offsets() -> None:
    audio = tone(3000) + silence(1000) + tone(3000) + silence(1000) + tone(3000)
    config = ChunkingConfig(max_chunk_seconds=4)
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
    config = ChunkingConfig(max_chunk_seconds=5)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 2  # 6 tones of 1 s, 1.6 s apart: three fit in 5 s
    assert specs[0].offset == pytest.approx(0.5, abs=0.011)
    assert specs[-1].end == pytest.approx(0.7 + 5 * 1.6 + 1.0 + 0.2, abs=0.011)  # trailing silence left out
    assert len(plan_chunks(audio, ChunkingConfig(max_chunk_seconds=60))) == 1


def test_pauses_let_a_chunk_span_more_than_the_maximum_while_its_speech_fits() -> None:
    # Tones of 0.8 s, 1.5 s apart: 1.2 s of padded speech every 2.3 s. By length alone two fit in
    # 5 s; by speech three fit in 4.25 s (85% of 5 s), spanning 5.8 s, and Whisper's VAD drops
    # the pauses, so three make one window instead of one and a half.
    audio = silence(700) + (tone(800) + silence(1500)) * 6
    config = ChunkingConfig(max_chunk_seconds=5)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 2
    assert all(spec.duration == pytest.approx(5.8, abs=0.011) for spec in specs)
    by_length_alone = plan_chunks(audio, ChunkingConfig(max_chunk_seconds=5, speech_share=0.01))
    assert len(by_length_alone) == 3 and all(s.duration <= 5 for s in by_length_alone)


def test_packing_by_speech_never_makes_more_chunks() -> None:
    """The speech rule only ever joins more pieces: the 256 KB state bound set by length holds."""
    rng = np.random.default_rng(11)
    for _ in range(200):
        spans, start = [], int(rng.integers(0, 2_000))
        for _ in range(int(rng.integers(1, 60))):
            end = start + int(rng.integers(200, 40_000))
            spans.append((start, end))
            start = end + int(rng.integers(500, 8_000))
        for max_chunk_seconds in (20.0, 30.0):
            packed = chunking.plan_from_speech(
                spans, start, ChunkingConfig(max_chunk_seconds=max_chunk_seconds)
            )
            by_length = chunking.plan_from_speech(
                spans, start, ChunkingConfig(max_chunk_seconds=max_chunk_seconds, speech_share=0.001)
            )
            assert len(packed) <= len(by_length)
            assert all(spec.duration <= 2 * max_chunk_seconds + 1e-9 for spec in packed)


def test_speech_longer_than_a_chunk_falls_back_to_fixed_length() -> None:
    audio = silence(1000) + tone(5000) + silence(1000)
    config = ChunkingConfig(max_chunk_seconds=2)
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
    specs = plan_chunks(audio, ChunkingConfig(max_chunk_seconds=2, seam_overlap_s=0))
    assert len(specs) == 3 and all(s.overlap == 0 for s in specs)
    for before, after in pairwise(specs):
        assert before.end == pytest.approx(after.offset, abs=0.001)


def test_silent_audio_is_covered_end_to_end() -> None:
    audio = silence(5000)
    specs = plan_chunks(audio, ChunkingConfig(max_chunk_seconds=2))
    assert specs[0].offset == 0 and specs[-1].end == pytest.approx(5.0)
    assert sum(s.duration - s.overlap for s in specs) == pytest.approx(5.0)
    assert all(s.duration <= 2 for s in specs)


def test_empty_audio_has_no_chunks() -> None:
    assert plan_chunks(silence(0)) == []


def test_the_sample_splits_between_sentences(sample_wav: Path) -> None:
    audio = AudioSegment.from_wav(str(sample_wav))
    config = ChunkingConfig(max_chunk_seconds=8)
    specs = plan_chunks(audio, config)
    check_invariants(specs, audio, config)
    assert len(specs) == 4  # four sentences, each under 8 s, with 0.8 s pauses between


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"JOBS_TABLE": "jobs", "RESULTS_BUCKET": "results", "EVENT_BUS_NAME": "bus"}.items():
        monkeypatch.setenv(name, value)
    assert ChunkEnv().chunking() == ChunkingConfig()
    monkeypatch.setenv("CHUNK_MIN_SILENCE_MS", "300")
    monkeypatch.setenv("CHUNK_SILENCE_THRESH_DBFS", "-35.5")
    monkeypatch.setenv("CHUNK_KEEP_SILENCE_MS", "100")
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "8")
    assert ChunkEnv().chunking() == ChunkingConfig(300, -35.5, 100, 8.0, 1.0)
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "eight")
    with pytest.raises(ValueError, match="MAX_CHUNK_SECONDS"):
        ChunkEnv()
    with pytest.raises(ValueError):
        ChunkingConfig(max_chunk_seconds=0)


# --- the streamed scan and export against pydub on the same samples -----------------------------


def tone_samples(ms: int, rate: int = RATE, amplitude: float = 10_000, hz: float = 440) -> np.ndarray:
    t = np.arange(ms * rate // 1000) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def quiet_samples(ms: int, rate: int = RATE, noise_rms: float = 0.0, seed: int = 0) -> np.ndarray:
    """Silence, or noise of about ``noise_rms`` (327 is -40 dBFS: windows fall either side of it)."""
    noise = np.random.default_rng(seed).normal(0, noise_rms, ms * rate // 1000)
    return np.clip(np.round(noise), -32768, 32767).astype(np.int16)


def speech_like(rate: int = RATE, extra_frames: int = 9) -> np.ndarray:
    """Tones between pauses of every kind: clean, noisy near the threshold, too short to cut.

    ``extra_frames`` makes the length fall between whole milliseconds, so pydub's rounded length
    runs past the data and the last windows and slices are padded.
    """
    parts = [
        quiet_samples(730, rate),
        tone_samples(2400, rate),
        quiet_samples(520, rate, noise_rms=330, seed=1),
        tone_samples(1300, rate, amplitude=2000, hz=220),
        quiet_samples(1800, rate, noise_rms=300, seed=2),
        tone_samples(3100, rate),
        quiet_samples(350, rate),
        tone_samples(900, rate, hz=330),
        quiet_samples(2600, rate, noise_rms=340, seed=3),
        tone_samples(1200, rate),
        np.full(extra_frames, 2000, dtype=np.int16),
    ]
    return np.concatenate(parts)


def segment(samples: np.ndarray, rate: int = RATE, channels: int = 1) -> AudioSegment:
    return AudioSegment(data=samples.tobytes(), sample_width=2, frame_rate=rate, channels=channels)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def stereo_44k() -> np.ndarray:
    left = speech_like(44_100, extra_frames=17)
    right = np.roll(left, 4410) // 2
    return np.column_stack((left, right)).ravel()


@pytest.fixture(params=[1, chunking.READ_BLOCK_S], ids=["1s-blocks", "default-blocks"])
def read_block_s(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run with 1-second read blocks too, so that the block seams fall inside the test audio."""
    monkeypatch.setattr(chunking, "READ_BLOCK_S", request.param)
    return int(request.param)


@pytest.mark.parametrize(
    ("audio", "window_ms", "thresh_dbfs"),
    [
        (segment(speech_like()), 500, -40.0),
        (segment(speech_like(extra_frames=3)), 300, -40.0),
        (segment(speech_like()), 255, -40.0),
        (segment(speech_like()), 500, -25.0),
        (segment(stereo_44k(), 44_100, 2), 500, -40.0),
        (segment(quiet_samples(4000, noise_rms=10)), 500, -40.0),
        (segment(tone_samples(400)), 500, -40.0),
    ],
    ids=["16k", "16k-300ms", "window-255ms", "-25dBFS", "44k-stereo", "all-silent", "shorter-than-window"],
)
def test_silence_scan_matches_pydub_exactly(
    audio: AudioSegment, window_ms: int, thresh_dbfs: float, read_block_s: int
) -> None:
    expected = detect_nonsilent(audio, window_ms, thresh_dbfs, seek_step=chunking.SEEK_STEP_MS)
    found = speech_spans(audio, min_silence_ms=window_ms, silence_thresh_dbfs=thresh_dbfs)
    assert found == [(start / 1000, end / 1000) for start, end in expected]


@pytest.mark.parametrize(
    "config",
    [
        ChunkingConfig(),
        ChunkingConfig(max_chunk_seconds=4),
        ChunkingConfig(max_chunk_seconds=2, min_silence_ms=255, keep_silence_ms=150),
        ChunkingConfig(max_chunk_seconds=3, silence_thresh_dbfs=-25, seam_overlap_s=0),
    ],
)
def test_plan_from_file_equals_plan_in_memory(
    config: ChunkingConfig, read_block_s: int, tmp_path: Path
) -> None:
    path = write_wav(tmp_path / "audio.wav", speech_like())
    from_file = plan_chunks_from_file(path, config)
    assert from_file == plan_chunks(AudioSegment.from_wav(str(path)), config)


def with_list_chunk(path: Path) -> Path:
    """The WAV rewritten with a ``LIST`` chunk before its samples, as ffmpeg writes them."""
    data = path.read_bytes()
    fmt_end = 12 + 8 + struct.unpack("<I", data[16:20])[0]
    info = b"INFOISFT" + struct.pack("<I", 14) + b"Lavf61.7.100\x00\x00"
    listed = data[12:fmt_end] + b"LIST" + struct.pack("<I", len(info)) + info + data[fmt_end:]
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(listed)) + b"WAVE" + listed)
    return path


def test_byte_ranges_hold_exactly_the_samples_of_pydub_slices(tmp_path: Path) -> None:
    """What transcribe reads with a ranged GET of the stored WAV is pydub's slice of the whole audio,
    but for the zeros pydub pads a rounded end with (under a millisecond); the samples' offset in
    the file is found, not assumed to be 44."""
    path = with_list_chunk(write_wav(tmp_path / "audio.wav", speech_like(extra_frames=9)))
    audio = AudioSegment.from_wav(str(path))
    specs = plan_chunks_from_file(path, ChunkingConfig(max_chunk_seconds=2))
    assert len(specs) > 2
    # The last chunk ends at pydub's rounded length, past the data: pydub pads its slice.
    assert round(specs[-1].end * 1000) == len(audio) and len(audio) * 16 > int(audio.frame_count())
    ranges = chunk_byte_ranges(path, specs)
    samples_at = 44 + 8 + 26  # after the LIST chunk
    assert ranges[0].first == samples_at + 2 * round(specs[0].offset * 1000) * 16
    data = path.read_bytes()
    for spec, span in zip(specs, ranges, strict=True):
        expected = audio[round(spec.offset * 1000) : round(spec.end * 1000)].raw_data
        read = data[span.first : span.stop]
        assert expected[: len(read)] == read
        padding = expected[len(read) :]
        assert padding == bytes(len(padding)) and len(padding) <= 2 * 16  # at most 1 ms of zeros
        rebuilt = write_chunk_wav(tmp_path / f"read-{spec.index}.wav", read)
        with wave.open(str(rebuilt), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.readframes(wav.getnframes()) == read
    assert ranges[-1].stop == len(data) == samples_at + 2 * int(audio.frame_count())


def test_byte_ranges_refuse_audio_not_yet_converted(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "audio.wav", stereo_44k(), 44_100, 2)
    with pytest.raises(ValueError, match="16000 Hz mono"):
        chunk_byte_ranges(path, [ChunkSpec(index=0, offset=0.0, duration=1.0)])


def test_the_map_gets_the_longest_chunks_first_ties_in_file_order() -> None:
    specs = [
        ChunkSpec(index=0, offset=0.0, duration=12.0),
        ChunkSpec(index=1, offset=13.0, duration=29.5),
        ChunkSpec(index=2, offset=43.0, duration=12.0),
        ChunkSpec(index=3, offset=56.0, duration=3.0),
    ]
    assert [s.index for s in longest_first(specs)] == [1, 0, 2, 3]
    assert longest_first([]) == []
