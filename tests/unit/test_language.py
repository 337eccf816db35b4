"""Language detection votes over chunks spread across the file and is pinned for all of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from transcriber.domain.errors import TransientEngineError
from transcriber.domain.language import (
    LanguageSample,
    detection_samples,
    is_decisive,
    listening_order,
    vote,
)
from transcriber.domain.models import ChunkSpec
from transcriber.domain.recognition import detect_job_language
from transcriber.engines.base import LanguageGuess


def _chunks(durations: list[float]) -> list[ChunkSpec]:
    offset, specs = 0.0, []
    for i, d in enumerate(durations):
        specs.append(ChunkSpec(index=i, offset=offset, duration=d))
        offset += d + 1.0
    return specs


def test_samples_span_the_whole_file_not_only_its_start() -> None:
    picked = detection_samples(_chunks([60.0] * 40), count=5)
    assert [c.index for c in picked] == [0, 10, 20, 29, 39]


def test_short_chunks_are_used_only_when_nothing_longer_exists() -> None:
    picked = detection_samples(_chunks([2.0, 30.0, 1.5, 30.0, 2.5]), count=5)
    assert [c.index for c in picked] == [1, 3]
    assert [c.index for c in detection_samples(_chunks([2.0, 1.0]))] == [0, 1]
    assert detection_samples([]) == []


def test_a_wrong_first_chunk_is_outvoted_by_the_rest() -> None:
    samples = [
        LanguageSample(0, {"en": 0.7, "de": 0.3}, speech_seconds=4.0),  # an English intro
        LanguageSample(1, {"de": 0.9, "nl": 0.1}, speech_seconds=30.0),
        LanguageSample(2, {"de": 0.8, "en": 0.2}, speech_seconds=30.0),
    ]
    decision = vote(samples)
    assert decision.language == "de" and decision.source == "detected" and decision.samples == 3
    assert decision.confidence == pytest.approx((27 + 24 + 1.2) / (4 + 30 + 30), abs=1e-6)


def test_samples_without_speech_do_not_vote() -> None:
    decision = vote([LanguageSample(0, {"cy": 0.9}, 0.0), LanguageSample(1, {"fr": 0.6}, 12.0)])
    assert decision.language == "fr" and decision.samples == 1
    silent = vote([LanguageSample(0, {}, 0.0)])
    assert silent.language is None and silent.source == "undetermined"


def test_ties_go_to_the_earliest_sample() -> None:
    decision = vote([LanguageSample(1, {"es": 0.5}, 10.0), LanguageSample(0, {"pt": 0.5}, 10.0)])
    assert decision.language == "pt"


def test_a_sample_the_engine_fails_on_transiently_does_not_vote(tmp_path: Path) -> None:
    class FlakyEngine:
        """Fails on the chunk files named in ``failing``; hears German otherwise."""

        name = "flaky"

        def __init__(self, failing: set[str]) -> None:
            self.failing = failing

        def detect_language(self, wav: Path) -> LanguageGuess:
            if wav.name in self.failing:
                raise TransientEngineError(f"out of memory on {wav.name}")
            return LanguageGuess({"de": 0.9}, speech_seconds=20.0)

    samples = _chunks([30.0, 30.0, 30.0])
    decision = detect_job_language(FlakyEngine({"1.wav"}), samples, _fetch(tmp_path))  # type: ignore[arg-type]
    assert decision.language == "de" and decision.samples == 2
    with pytest.raises(TransientEngineError):
        detect_job_language(FlakyEngine({"0.wav", "1.wav", "2.wav"}), samples, _fetch(tmp_path))  # type: ignore[arg-type]


class ScriptedEngine:
    """Hears the given guess in each chunk file and records which files it was asked about."""

    name = "scripted"

    def __init__(self, guesses: dict[str, LanguageGuess]) -> None:
        self.guesses = guesses
        self.heard: list[str] = []

    def detect_language(self, wav: Path) -> LanguageGuess:
        self.heard.append(wav.name)
        return self.guesses[wav.name]


def _fetch(folder: Path) -> Callable[[ChunkSpec], Path]:
    return lambda spec: folder / f"{spec.index}.wav"


def test_a_decisive_middle_sample_ends_the_vote(tmp_path: Path) -> None:
    sure = LanguageGuess({"fr": 0.98, "en": 0.01}, speech_seconds=25.0)
    engine = ScriptedEngine({"0.wav": sure, "1.wav": sure, "2.wav": sure})
    decision = detect_job_language(engine, _chunks([30.0, 30.0, 30.0]), _fetch(tmp_path))  # type: ignore[arg-type]
    assert engine.heard == ["1.wav"]
    assert decision.language == "fr" and decision.samples == 1


def test_an_unsure_or_short_sample_asks_the_others(tmp_path: Path) -> None:
    unsure = LanguageGuess({"nl": 0.6, "de": 0.4}, speech_seconds=25.0)
    short = LanguageGuess({"de": 0.99}, speech_seconds=4.0)
    german = LanguageGuess({"de": 0.97}, speech_seconds=25.0)
    for middle in (unsure, short):
        engine = ScriptedEngine({"0.wav": german, "1.wav": middle, "2.wav": german})
        decision = detect_job_language(engine, _chunks([30.0, 30.0, 30.0]), _fetch(tmp_path))  # type: ignore[arg-type]
        assert engine.heard == ["1.wav", "0.wav", "2.wav"]  # the middle first, then the others
        assert decision.language == "de" and decision.samples == 3


def test_listening_starts_in_the_middle() -> None:
    specs = _chunks([30.0] * 5)
    assert [c.index for c in listening_order(specs)] == [2, 0, 1, 3, 4]
    assert listening_order([]) == []
    assert is_decisive(LanguageSample(0, {"en": 0.95}, 10.0))
    assert not is_decisive(LanguageSample(0, {"en": 0.94}, 30.0))
