"""The one interface every speech engine implements, owned by the domain.

The domain and the stages depend on :class:`SpeechEngine` only, so the heavy Whisper engine and
the tiny pocketsphinx one (for fast pipeline tests) are interchangeable by configuration, and the
domain never imports an engine (transcriber/engines/ implements this protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from transcriber.domain.models import LanguageGuess, Segment

__all__ = ["DEFAULT_DECODING", "DecodeOptions", "EngineResult", "LanguageGuess", "SpeechEngine"]


@dataclass(frozen=True)
class EngineResult:
    """What an engine heard in one file; segment and word times are seconds from the file start."""

    language: str | None
    segments: tuple[Segment, ...]
    duration: float
    #: how sure the engine was of ``language``, when it detected it (no language given)
    detection: LanguageGuess | None = None

    @property
    def text(self) -> str:
        """All segment texts joined, for logs and quick checks."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(frozen=True)
class DecodeOptions:
    """What a job asks of one decode; every engine takes the same object, so a new setting is
    added here once rather than to each engine's signature."""

    #: ISO 639-1; without it the engine detects the language (and says how sure it was)
    language: str | None = None
    #: ``None``: the engine's default
    beam_size: int | None = None
    #: without them segments carry no words (faster, coarser)
    word_timestamps: bool = True
    #: ``translate`` writes the speech in English (engines that hear English only transcribe it)
    task: str = "transcribe"
    #: primes every decode
    prompt: str | None = None
    #: names and terms to expect (a custom vocabulary), where the engine can use them
    hotwords: str | None = None


#: Detection, the engine's beam, word timestamps, a plain transcription.
DEFAULT_DECODING = DecodeOptions()


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

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        """Transcribe ``wav_path`` as ``options`` ask (see :class:`DecodeOptions`)."""
        ...
