"""Detect the language on the encoder pass that decoding then reuses.

Asked to detect the language, faster-whisper encodes the first 30 s window to detect it, then
encodes the same window again to decode it: on one thread that is 0.9 s more for a 23 s clip
that otherwise takes 2.0 s (the bundled sample), paid by every chunk of a job that does not
name its language. :func:`detecting_view` gives faster-whisper, for one call, a
view of the loaded model whose ``detect_language`` keeps its encoder output and whose ``encode``
hands it back when it is asked for the same features; other features are encoded as usual, so a
miss costs time, never text.

The detection listens to the first window that decoding will see: the first stretch of speech
of up to 30 s that faster-whisper's VAD gave (batched mode), or the first 30 s of the audio left
after the VAD (sequential mode). faster-whisper would take the first 30 s of all the speech run
together, which reaches into the second window when the first is shorter.

Imported by the engine only when a chunk's language is not given (faster-whisper loads lazily).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import pad_or_trim
from faster_whisper.transcribe import get_ctranslate2_storage


class _FirstFeatures:
    """The model's feature extractor, remembering how many frames its first call returned.

    faster-whisper drops the last (partial) frame of each window's features, and runs the
    sequential decoder over all frames but that one, so the first window is one frame shorter.
    """

    def __init__(self, extractor: Any) -> None:
        self._extractor = extractor
        self.first_frames: int | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        features: np.ndarray = self._extractor(*args, **kwargs)
        if self.first_frames is None:
            self.first_frames = features.shape[-1] - 1
        return features

    def __getattr__(self, name: str) -> Any:
        return getattr(self._extractor, name)


class _DetectingWhisper(WhisperModel):
    """A per-call view of a loaded :class:`WhisperModel` (it shares the CTranslate2 model and the
    tokenizer; it is never constructed, so it loads nothing)."""

    feature_extractor: _FirstFeatures
    _detected: tuple[np.ndarray, Any] | None
    #: what the detection found: languages and probabilities, best first, and the seconds of
    #: speech it listened to (none when the VAD found none); None until it runs
    detection: tuple[list[tuple[str, float]], float] | None

    def detect_language(
        self, audio: np.ndarray | None = None, features: np.ndarray | None = None, **_: Any
    ) -> tuple[str, float, list[tuple[str, float]]]:
        """Whisper's language probabilities over the first window's features (faster-whisper's
        answer: the top language, its probability and the ranked list)."""
        if features is None:
            raise ValueError("the view detects from the features faster-whisper passes")
        first = self.feature_extractor.first_frames
        window_frames = min(first or features.shape[-1], self.feature_extractor.nb_max_frames)
        window = pad_or_trim(features[..., :window_frames])
        encoded = super().encode(window)
        self._detected = (window, encoded)
        ranked = [(token[2:-2], float(p)) for token, p in self.model.detect_language(encoded)[0]]
        heard = min(first or 0, window_frames) / self.frames_per_second
        self.detection = (ranked, heard)
        return ranked[0][0], ranked[0][1], ranked

    def encode(self, features: np.ndarray) -> Any:
        """The detection's encoder output where the batch starts with the detected window."""
        batch = features if features.ndim == 3 else features[np.newaxis]
        if self._detected is None or not np.array_equal(batch[0], self._detected[0]):
            return super().encode(features)
        encoded = self._detected[1]
        if len(batch) == 1:
            return encoded
        rest = super().encode(batch[1:])
        return get_ctranslate2_storage(np.concatenate([np.asarray(encoded), np.asarray(rest)]))


def detecting_view(model: WhisperModel) -> _DetectingWhisper:
    """``model`` for one transcription whose language faster-whisper is to detect."""
    view = object.__new__(_DetectingWhisper)
    view.__dict__.update(model.__dict__)
    view.feature_extractor = _FirstFeatures(model.feature_extractor)
    view._detected = None
    view.detection = None
    return view
