"""The job's task and prompt reach the engine: Whisper decodes with them, on every chunk."""

from __future__ import annotations

import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import JobOptions
from transcriber.domain.recognition import transcribe_chunk
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine


class _RecordingModel:
    """Stands in for faster-whisper's WhisperModel: records what it was asked to decode with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: Any, **options: Any) -> tuple[list[Any], Any]:
        self.calls.append(options)
        return [], SimpleNamespace(language="de")


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes((np.sin(np.arange(16000) / 5) * 8000).astype("<i2").tobytes())
    return path


def test_translate_and_the_prompt_are_decoding_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = FasterWhisperEngine(model_dir=tmp_path)
    model = _RecordingModel()
    monkeypatch.setattr(engine, "_load", lambda: model)
    wav = _wav(tmp_path / "chunk.wav")
    options = JobOptions(task="translate", prompt="Norland Park", word_timestamps=False)
    spec = ChunkSpec(index=0, offset=0.0, duration=1.0)
    # (a language given: the stand-in model cannot detect one; tests/unit/test_whisper_engine.py does)
    result = transcribe_chunk(engine, wav, spec, language="de", options=options)
    assert model.calls[-1]["task"] == "translate" and model.calls[-1]["initial_prompt"] == "Norland Park"
    assert result.language == "de"  # the source language is what the job records, not English
    transcribe_chunk(
        engine, wav, ChunkSpec(index=1, offset=1.0, duration=1.0), language="de", options=JobOptions()
    )
    assert model.calls[-1]["task"] == "transcribe" and model.calls[-1]["initial_prompt"] is None
