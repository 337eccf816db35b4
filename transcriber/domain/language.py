"""Decide a job's language once, from several stretches of speech, and pin it for every chunk.

Whisper guesses the language from the first 30 seconds it is given. Left to itself, each chunk
would guess on its own: a quiet or ambiguous chunk can come out in the wrong language (and be
transcribed, or translated, in it), and every chunk pays for the guess. Instead a few chunks
spread over the whole file each give a probability for every language; the votes are weighted
by how much speech each sample held, and the winner is given to every chunk. The vote sits on
the critical path (before the fan-out), so it stops early: when the first sample heard (the
middle one: intros, jingles and greetings sit at the start) is decisive, the others are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from transcriber.domain.models import ChunkSpec

#: Chunks listened to for detection: spread over the file, not only its start. Each costs one
#: encoder pass on the critical path (before the fan-out), so a few, not all.
DETECTION_SAMPLES = 3
#: Shorter chunks are a last resort for detection: a second or two of speech is a weak witness.
MIN_SAMPLE_SECONDS = 5.0
#: One sample settles the vote when Whisper gives one language this much probability ...
DECISIVE_PROBABILITY = 0.95
#: ... over at least this much speech.
DECISIVE_SPEECH_S = 10.0


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


def detection_samples(chunks: Sequence[ChunkSpec], count: int = DETECTION_SAMPLES) -> list[ChunkSpec]:
    """Up to ``count`` chunks spread evenly from the first to the last, longer ones preferred.

    Chunk cuts fall in silences, so chunks are mostly speech; very short ones (a cough between
    two pauses) are used only when nothing longer exists.
    """
    if count < 1 or not chunks:
        return []
    ordered = sorted(chunks, key=lambda c: c.index)
    candidates = [c for c in ordered if c.duration >= MIN_SAMPLE_SECONDS] or ordered
    if len(candidates) <= count:
        return candidates
    step = (len(candidates) - 1) / (count - 1) if count > 1 else 0.0
    picked = {round(i * step) for i in range(count)}
    return [candidates[i] for i in sorted(picked)]


def listening_order(samples: Sequence[ChunkSpec]) -> list[ChunkSpec]:
    """The middle sample first, then the rest in file order."""
    if not samples:
        return []
    middle = len(samples) // 2
    return [samples[middle], *samples[:middle], *samples[middle + 1 :]]


def is_decisive(sample: LanguageSample) -> bool:
    """Whether this one sample is sure enough that the others would not change the outcome."""
    return sample.speech_seconds >= DECISIVE_SPEECH_S and any(
        p >= DECISIVE_PROBABILITY for p in sample.probabilities.values()
    )


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
