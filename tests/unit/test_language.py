"""The job's language: every chunk's own detection votes after the fan-out, and chunks heard in
another language than the winner are sent back to be decoded in it."""

from __future__ import annotations

import pytest

from transcriber.domain.language import LanguageSample, chunk_votes, chunks_to_redo, vote
from transcriber.domain.models import ChunkTranscript, LanguageGuess, Segment


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


def _chunk(
    index: int, language: str | None, guess: dict[str, float] | None, words: bool = True
) -> ChunkTranscript:
    return ChunkTranscript(
        index=index,
        offset=30.0 * index,
        duration=30.0,
        language=language,
        segments=(Segment(0.0, 1.0, "text"),) if words else (),
        detection=LanguageGuess(guess, 25.0) if guess is not None else None,
    )


def test_chunks_that_detected_their_language_vote() -> None:
    chunks = [
        _chunk(0, "de", {"de": 0.9}),
        _chunk(1, "en", None),  # decoded in a language given: no vote
        _chunk(2, "nl", {"nl": 0.6, "de": 0.4}),
    ]
    assert chunk_votes(chunks) == [
        LanguageSample(0, {"de": 0.9}, 25.0),
        LanguageSample(2, {"nl": 0.6, "de": 0.4}, 25.0),
    ]
    assert vote(chunk_votes(chunks)).language == "de"


def test_chunks_heard_in_another_language_are_decoded_again() -> None:
    chunks = [
        _chunk(0, "de", {"de": 0.9}),
        _chunk(1, "nl", {"nl": 0.6, "de": 0.4}),  # overruled: decoded again in German
        _chunk(2, "de", {"de": 0.95}),
        _chunk(3, "cy", {"cy": 0.3}, words=False),  # nothing heard: nothing to decode again
    ]
    decision = vote(chunk_votes(chunks))
    assert decision.language == "de"
    assert chunks_to_redo(chunks, decision) == [1]
    assert chunks_to_redo(chunks[:1], vote(chunk_votes(chunks[:1]))) == []
    silent = [_chunk(0, "cy", {}, words=False)]
    assert chunks_to_redo(silent, vote(chunk_votes(silent))) == []


def test_a_chunk_keeps_its_detection_in_its_checkpoint() -> None:
    chunk = _chunk(4, "fr", {"fr": 0.97, "en": 0.02})
    stored = chunk.to_dict()
    assert stored["detection"] == {"probabilities": {"fr": 0.97, "en": 0.02}, "speech_seconds": 25.0}
    assert ChunkTranscript.from_dict(stored) == chunk
    given = _chunk(5, "fr", None)
    assert "detection" not in given.to_dict() and ChunkTranscript.from_dict(given.to_dict()) == given
