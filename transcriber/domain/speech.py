"""The one interface every speech engine implements, owned by the domain.

The domain and the stages depend on :class:`SpeechEngine` only, so the heavy Whisper engine and
the tiny pocketsphinx one (for fast pipeline tests) are interchangeable by configuration, and the
domain never imports an engine (transcriber/engines/ implements this protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from transcriber.domain.models import Segment


@dataclass(frozen=True)
class EngineResult:
    """What an engine heard in one file; segment and word times are seconds from the file start."""

    language: str | None
    segments: tuple[Segment, ...]
    duration: float

    @property
    def text(self) -> str:
        """All segment texts joined, for logs and quick checks."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True)
class LanguageGuess:
    """An engine's language probabilities for one file, and how much speech they rest on."""

    probabilities: dict[str, float]
    speech_seconds: float


@runtime_checkable
class SpeechEngine(Protocol):
    """A speech-to-text engine; input is always a 16 kHz mono 16-bit PCM WAV file.

    Implementations raise :class:`~transcriber.domain.errors.EngineError` for failures that a
    retry cannot fix and :class:`~transcriber.domain.errors.TransientEngineError` for those it can.
    """

    name: str

    def load(self) -> None:
        """Load models now (Lambda's init phase) rather than on the first request; idempotent."""
        ...

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        beam_size: int | None = None,
        word_timestamps: bool = True,
        task: str = "transcribe",
        prompt: str | None = None,
        hotwords: str | None = None,
    ) -> EngineResult:
        """Transcribe ``wav_path``; ``language`` (ISO 639-1) skips detection when given.

        ``beam_size`` ``None`` means the engine's default; without ``word_timestamps`` segments
        carry no words (faster, coarser). ``task`` ``translate`` writes the speech in English
        (engines that hear English only transcribe it); ``prompt`` primes every decode;
        ``hotwords``: names and terms to expect (a custom vocabulary), where the engine can use them.
        """
        ...

    def detect_language(self, wav_path: Path) -> LanguageGuess:
        """The most likely languages of the speech in ``wav_path`` (empty when it holds none)."""
        ...
