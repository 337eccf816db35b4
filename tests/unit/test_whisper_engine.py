"""The real Whisper base engine on the bundled sample (slow: loads the model)."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import jiwer
import numpy as np
import pytest

from tests.conftest import SAMPLE_TEXT, write_empty_wav
from transcriber.domain.errors import EngineError
from transcriber.engines.base import DecodeOptions, EngineResult
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine, _edge_in_speech, _read_samples
from transcriber.engines.weights import model_dir

pytestmark = pytest.mark.slow


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def engine() -> FasterWhisperEngine:
    return FasterWhisperEngine(model_dir=model_dir(), cpu_threads=2)


@pytest.fixture(scope="module")
def result(engine: FasterWhisperEngine, sample_wav: Path) -> EngineResult:
    return engine.transcribe(sample_wav)


def test_whisper_transcribes_the_sample(result: EngineResult) -> None:
    text = _normalise(result.text)
    for phrase in ("transcription pipeline", "speech synthesizer", "chunks", "parallel", "subtitles"):
        assert phrase in text
    assert jiwer.wer(_normalise(SAMPLE_TEXT), text) < 0.15  # Measured: 0.0 after normalising.
    assert result.language == "en"
    assert result.duration == pytest.approx(22.56, abs=0.1)


def test_whisper_times_are_ordered_inside_the_audio(result: EngineResult) -> None:
    assert len(result.segments) >= 3
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts)
    words = [w for s in result.segments for w in s.words]
    assert len(words) >= 30
    for word in words:
        assert 0.0 <= word.start <= word.end <= result.duration + 0.05
        assert word.probability is not None and 0.0 <= word.probability <= 1.0
    # "Every upload ..." starts the third sentence at about 9.7 s of the synthesised audio.
    every = next(w for w in words if w.text.lower() == "every")
    assert every.start == pytest.approx(9.7, abs=0.6)


def test_whisper_honours_a_given_language(engine: FasterWhisperEngine, sample_wav: Path) -> None:
    assert engine.transcribe(sample_wav, DecodeOptions(language="en")).language == "en"


def test_whisper_detects_the_language_from_speech_only(
    engine: FasterWhisperEngine, result: EngineResult, tmp_path: Path
) -> None:
    guess = result.detection  # the sample, transcribed without a language
    assert guess is not None and max(guess.probabilities, key=guess.probabilities.__getitem__) == "en"
    assert guess.probabilities["en"] > 0.5 and len(guess.probabilities) <= 5
    assert 10.0 < guess.speech_seconds <= 22.6  # VAD keeps the speech, drops the pauses
    silence = engine.transcribe(write_empty_wav(tmp_path / "silence.wav"))
    assert silence.detection is not None and silence.detection.speech_seconds == 0.0
    assert silence.detection.probabilities == {}  # nothing to vote with


def test_whisper_reports_no_detection_for_a_language_given(
    engine: FasterWhisperEngine, sample_wav: Path
) -> None:
    assert engine.transcribe(sample_wav, DecodeOptions(language="en")).detection is None


def test_whisper_decode_options_are_honoured(
    engine: FasterWhisperEngine, result: EngineResult, sample_wav: Path
) -> None:
    greedy = engine.transcribe(sample_wav, DecodeOptions(language="en", beam_size=1, word_timestamps=False))
    assert all(not s.words for s in greedy.segments) and all(s.words for s in result.segments)
    assert jiwer.wer(_normalise(SAMPLE_TEXT), _normalise(greedy.text)) < 0.15


def test_whisper_bad_input_is_a_permanent_error(engine: FasterWhisperEngine, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"RIFF but not really")
    with pytest.raises(EngineError):
        engine.transcribe(bogus)


def test_whisper_missing_model_is_a_permanent_error(sample_wav: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot load Whisper model"):
        FasterWhisperEngine(model_dir=tmp_path).transcribe(sample_wav)


def test_whisper_suspect_batched_output_is_decoded_again_sequentially(
    engine: FasterWhisperEngine,
    result: EngineResult,
    sample_wav: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Batched mode has no temperature fallback; output that would need one takes the sequential path."""
    from transcriber.engines import faster_whisper_engine

    # The sample starts with a word at once; a chunk the planner cuts has a pause at each edge
    # (a chunk with sound at an edge is decoded sequentially from the start).
    with wave.open(str(sample_wav), "rb") as wav:
        speech = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    padded = _wav(tmp_path / "padded.wav", np.concatenate([np.zeros(3200, dtype=np.int16), speech]))
    assert not _edge_in_speech(_read_samples(padded)) and _edge_in_speech(_read_samples(sample_wav))
    monkeypatch.setattr(faster_whisper_engine, "_needs_fallback", lambda raw: True)
    with caplog.at_level("WARNING", logger=faster_whisper_engine.__name__):
        again = engine.transcribe(padded)
    assert "decoding it again sequentially" in caplog.text
    assert jiwer.wer(_normalise(SAMPLE_TEXT), _normalise(again.text)) < 0.15
    assert len(again.segments) >= 3 and all(s.words for s in again.segments)


def test_whisper_fallback_rule_follows_whisper_thresholds() -> None:
    from types import SimpleNamespace

    from transcriber.engines.faster_whisper_engine import _needs_fallback

    def raw(compression: float, logprob: float, no_speech: float) -> SimpleNamespace:
        return SimpleNamespace(compression_ratio=compression, avg_logprob=logprob, no_speech_prob=no_speech)

    assert not _needs_fallback(raw(1.5, -0.3, 0.01))  # ordinary speech
    assert _needs_fallback(raw(3.1, -0.3, 0.01))  # "the the the the ..."
    assert _needs_fallback(raw(1.5, -1.4, 0.2))  # improbable words over speech
    assert not _needs_fallback(raw(1.5, -1.4, 0.9))  # silence: dropped, not retried


def test_whisper_silence_gives_no_segments(engine: FasterWhisperEngine, tmp_path: Path) -> None:
    silent = engine.transcribe(write_empty_wav(tmp_path / "silence.wav"))
    assert silent.segments == ()


def _wav(path: Path, samples: np.ndarray, *, channels: int = 1, rate: int = 16000) -> Path:
    """16-bit PCM WAV of ``samples`` (interleaved when ``channels`` > 1)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def test_a_chunk_cut_inside_speech_is_recognised_by_its_edges(tmp_path: Path) -> None:
    """Planned chunks start and end in a pause; a forced cut leaves sound at an edge."""
    tone = (8000 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.int16)
    pause = np.zeros(3200, dtype=np.int16)  # 200 ms, what the planner keeps around speech
    quiet = (30 * np.sin(2 * np.pi * 220 * np.arange(3200) / 16000)).astype(np.int16)  # about -61 dBFS

    def edge(name: str, *parts: np.ndarray) -> bool:
        return _edge_in_speech(_read_samples(_wav(tmp_path / name, np.concatenate(parts))))

    assert not edge("planned.wav", pause, tone, pause)
    assert not edge("hum.wav", quiet, tone, quiet)
    assert edge("cut-start.wav", tone, pause)
    assert edge("cut-end.wav", pause, tone)
    assert not _edge_in_speech(_read_samples(write_empty_wav(tmp_path / "empty.wav")))


def test_a_chunk_wav_is_read_as_faster_whisper_would_decode_it(sample_wav: Path, tmp_path: Path) -> None:
    """The chunk step's WAVs skip faster-whisper's decoder; the samples must be the same."""
    from faster_whisper.audio import decode_audio

    ours = _read_samples(sample_wav)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, decode_audio(str(sample_wav), sampling_rate=16000))
    # Any other WAV (here 44.1 kHz stereo) still goes through faster-whisper's decoder.
    stereo = _wav(tmp_path / "stereo.wav", np.zeros(2 * 44100, dtype=np.int16), channels=2, rate=44100)
    assert _read_samples(stereo).shape == (16000,)


def test_the_stored_int8_model_decodes_as_the_float16_one_quantized_on_load(
    engine: FasterWhisperEngine, result: EngineResult, sample_wav: Path, tmp_path: Path
) -> None:
    """The weights stored as int8 at build time are the ones CTranslate2 computes at every load:
    the shipped float16 model, loaded as int8, gives the same segments, words, times and
    probabilities (equal on all 16 evaluation files when measured; the sample here)."""
    from transcriber.engines import weights

    source = tmp_path / "float16"
    source.mkdir()
    weights.join_source(source, weights.package_sources())
    assert weights._hash(source / "model.bin") == weights.SOURCE_MODEL_SHA256
    assert engine.compute_type == "int8"
    float16 = FasterWhisperEngine(model_dir=source, cpu_threads=2)
    assert float16.transcribe(sample_wav) == result


@pytest.fixture
def encoder_windows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The 30-second windows Whisper's encoder runs over, counted as faster-whisper calls it."""
    from faster_whisper import WhisperModel

    windows: list[int] = []
    encode = WhisperModel.encode

    def counted(self: WhisperModel, features: np.ndarray) -> object:
        windows.append(1 if features.ndim == 2 else len(features))
        return encode(self, features)

    monkeypatch.setattr(WhisperModel, "encode", counted)
    return windows


def test_a_detected_language_costs_no_encoder_pass_of_its_own(
    engine: FasterWhisperEngine, sample_wav: Path, tmp_path: Path, encoder_windows: list[int]
) -> None:
    """Detection reuses the encoder output it is decoded from, in both decoding modes, and the
    text is the one decoded with that language given. Before, each detection cost one more window."""
    speech = _read_samples(sample_wav)
    pause = np.zeros(12800, dtype=np.float32)  # 0.8 s
    padded = np.concatenate([pause, speech, pause, speech, pause, speech, pause])
    inputs = {
        "sequential": sample_wav,  # speech from its first sample
        "batched, three windows": _wav(tmp_path / "three.wav", (padded * 32768).astype(np.int16)),
    }
    assert _edge_in_speech(_read_samples(inputs["sequential"]))
    assert not _edge_in_speech(_read_samples(inputs["batched, three windows"]))
    for mode, path in inputs.items():
        encoder_windows.clear()
        detected = engine.transcribe(path, DecodeOptions(language=None))
        detecting = sum(encoder_windows)
        encoder_windows.clear()
        given = engine.transcribe(path, DecodeOptions(language="en"))
        assert detected.language == "en", mode
        assert detecting == sum(encoder_windows) == (1 if mode == "sequential" else 3), mode
        assert [s.text for s in detected.segments] == [s.text for s in given.segments], mode
        assert [w.start for s in detected.segments for w in s.words] == [
            w.start for s in given.segments for w in s.words
        ], mode


def test_a_translation_records_the_language_it_detected(engine: FasterWhisperEngine, tmp_path: Path) -> None:
    """Translating without a language: detected on the decoding pass, recorded as the source's."""
    from faster_whisper.audio import decode_audio

    from tests.speaker_audio import EVAL_DIR

    german = EVAL_DIR / "longform" / "aeneas_de.mp3"
    if not german.exists():
        pytest.skip(f"no evaluation recordings at {EVAL_DIR}")
    speech = decode_audio(str(german), sampling_rate=16000)[: 16000 * 12]
    pause = np.zeros(8000, dtype=np.float32)
    wav = _wav(tmp_path / "german.wav", (np.concatenate([pause, speech, pause]) * 32767).astype(np.int16))
    heard = engine.transcribe(wav, DecodeOptions(language=None))
    translated = engine.transcribe(wav, DecodeOptions(language=None, task="translate"))
    assert heard.language == translated.language == "de"
    assert (
        translated.detection is not None
        and max(translated.detection.probabilities, key=translated.detection.probabilities.__getitem__)
        == "de"
    )
    # Measured: "... von Grimmelshausen, der Abenteuerliche Simplicissimus. Ganz neu ..." and
    # "... von Grimmelshausen, the Abenteuerliche Simplicissimus. A very new ...".
    assert "der" in _normalise(heard.text).split()
    assert "the" in _normalise(translated.text).split() and "der" not in _normalise(translated.text).split()
