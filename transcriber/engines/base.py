"""The engine interface, defined in the domain (transcriber/domain/speech.py) so that the domain
does not import transcriber.engines; re-exported here for the engines that implement it."""

from transcriber.domain.speech import (
    DEFAULT_DECODING,
    DecodeOptions,
    EngineResult,
    LanguageGuess,
    SpeechEngine,
)

__all__ = ["DEFAULT_DECODING", "DecodeOptions", "EngineResult", "LanguageGuess", "SpeechEngine"]
