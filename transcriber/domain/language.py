"""Decide a job's language from every chunk, after they are transcribed, and keep it one language.

Whisper guesses the language from the first 30 seconds it is given, and each chunk is decoded
in the language it guessed: the guess costs nothing, as it is made on the encoder pass that
decoding reuses (transcriber/engines/detect_in_pass.py), and no step before the fan-out waits
for it. Left there, a quiet or ambiguous chunk could come out in the wrong language (transcribed,
or translated, in it). So once every chunk is back, their guesses vote, each weighted by the
speech it rests on; chunks decoded in another language than the winner are decoded again in
the winner (the state machine's RedoChunks), and the job has one language, as if it had been
given. With one language in the file, which is nearly always, nothing is decoded twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from transcriber.domain.models import ChunkTranscript


@dataclass(frozen=True)
class LanguageSample:
    """One chunk's opinion: language probabilities and the seconds of speech they rest on."""

    index: int
    probabilities: Mapping[str, float]
    speech_seconds: float


@dataclass(frozen=True)
class LanguageDecision:
    """The language pinned for a job, and why."""

    language: str | None
    #: "requested" (a job option), "detected" (voted) or "undetermined" (no speech heard).
    source: str
    #: Share of the weighted vote that went to ``language`` (1.0 when requested).
    confidence: float
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 4)}


def vote(samples: Sequence[LanguageSample]) -> LanguageDecision:
    """The language with the largest speech-weighted probability over all samples.

    Samples without speech do not vote. Ties go to the language of the earliest sample that
    named it, so the result does not depend on dictionary order.
    """
    weights: dict[str, float] = defaultdict(float)
    voting = [s for s in sorted(samples, key=lambda s: s.index) if s.speech_seconds > 0 and s.probabilities]
    for sample in voting:
        for language, probability in sample.probabilities.items():
            weights[language] += max(probability, 0.0) * sample.speech_seconds
    total = sum(weights.values())
    if not voting or total <= 0:
        return LanguageDecision(language=None, source="undetermined", confidence=0.0, samples=len(samples))
    winner = max(weights, key=weights.__getitem__)  # first-seen order breaks ties
    return LanguageDecision(
        language=winner, source="detected", confidence=weights[winner] / total, samples=len(voting)
    )


def chunk_votes(chunks: Sequence[ChunkTranscript]) -> list[LanguageSample]:
    """The guesses of the chunks that were decoded in a language they detected."""
    return [
        LanguageSample(chunk.index, chunk.detection.probabilities, chunk.detection.speech_seconds)
        for chunk in chunks
        if chunk.detection is not None
    ]


def chunks_to_redo(chunks: Sequence[ChunkTranscript], decision: LanguageDecision) -> list[int]:
    """Indices of the chunks heard in another language than the job's: they are decoded again.

    A chunk with no words has nothing to decode again, and without a winner (no speech anywhere)
    every chunk stands as it is.
    """
    if decision.language is None:
        return []
    return [c.index for c in chunks if c.segments and c.language != decision.language]
