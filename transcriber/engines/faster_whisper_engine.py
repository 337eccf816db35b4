"""The production engine: Whisper base through faster-whisper (CTranslate2), on CPU.

int8 on CPU keeps a Lambda worker at about 0.5 GB and well under real time; the model loads
lazily, once per instance, so a warm worker pays for it once. Failures are mapped to the
pipeline's error classes so Step Functions retries only what a retry can fix.
"""

from __future__ import annotations

import os
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transcriber.domain.errors import EngineError, TransientEngineError
from transcriber.domain.models import Segment, Word
from transcriber.engines.base import EngineResult, LanguageGuess
from transcriber.engines.weights import WeightsError
from transcriber.engines.weights import model_dir as default_model_dir

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
#: Whisper decides the language from one 30-second window of audio.
DETECTION_WINDOW_S = 30
#: Languages kept from a detection: the rest carry almost no probability.
DETECTION_TOP_LANGUAGES = 5

#: Substrings of CTranslate2/onnxruntime messages that mean "short of memory right now".
_OOM_MARKERS = ("out of memory", "bad_alloc", "cannot allocate", "failed to allocate", "oom")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"environment variable {name} must be at least 1, got {value}")
    return value


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(m in str(exc).lower() for m in _OOM_MARKERS)


def _wav_duration(wav_path: Path) -> float:
    """Duration from the WAV header; also rejects unreadable input before the model sees it."""
    try:
        with wave.open(str(wav_path), "rb") as wav:
            return wav.getnframes() / float(wav.getframerate())
    except FileNotFoundError:
        raise EngineError(f"audio file not found: {wav_path}") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise EngineError(f"not a readable WAV file: {wav_path}: {exc}") from exc


class FasterWhisperEngine:
    """Whisper base (CTranslate2) with VAD, word timestamps and hallucination guards."""

    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path | str | None = None,
        compute_type: str = "int8",
        cpu_threads: int | None = None,
        beam_size: int | None = None,
    ) -> None:
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads if cpu_threads is not None else _env_int("WHISPER_CPU_THREADS", 1)
        self.beam_size = beam_size if beam_size is not None else _env_int("WHISPER_BEAM_SIZE", 5)
        self._model: WhisperModel | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        self._load()
        from faster_whisper.vad import get_vad_model

        get_vad_model()  # the Silero VAD session (cached per process) loads now, not on the first chunk

    def _load(self) -> WhisperModel:
        """Load the model on first use only (cold start cost paid once per instance)."""
        with self._lock:
            if self._model is not None:
                return self._model
            try:
                from faster_whisper import WhisperModel

                folder = self._model_dir or default_model_dir()
                self._model = WhisperModel(
                    str(folder),
                    device="cpu",
                    compute_type=self.compute_type,
                    cpu_threads=self.cpu_threads,
                    num_workers=1,
                )
            except WeightsError as exc:
                raise EngineError(f"Whisper weights unavailable: {exc}") from exc
            except Exception as exc:
                if _is_oom(exc):
                    raise TransientEngineError(f"out of memory loading Whisper: {exc}") from exc
                raise EngineError(f"cannot load Whisper model: {type(exc).__name__}: {exc}") from exc
            return self._model

    def detect_language(self, wav_path: Path) -> LanguageGuess:
        """Whisper's language probabilities over the first 30 s of speech (Silero VAD) in the file.

        Only speech is shown to the model: a long silence or music intro would otherwise fill
        the 30-second window and make the guess noise.
        """
        _wav_duration(wav_path)
        model = self._load()
        try:
            from faster_whisper.audio import decode_audio
            from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

            audio = decode_audio(str(wav_path), sampling_rate=SAMPLE_RATE)
            spans = get_speech_timestamps(audio, VadOptions())
            if not spans:
                return LanguageGuess(probabilities={}, speech_seconds=0.0)
            pieces, _ = collect_chunks(audio, spans)
            speech = np.concatenate(pieces)[: DETECTION_WINDOW_S * SAMPLE_RATE]
            _, _, ranked = model.detect_language(audio=speech, language_detection_segments=1)
        except (MemoryError, RuntimeError) as exc:
            kind = "out of memory" if _is_oom(exc) else "runtime error"
            raise TransientEngineError(
                f"Whisper {kind} detecting the language of {wav_path.name}: {exc}"
            ) from exc
        except Exception as exc:
            raise EngineError(
                f"Whisper language detection failed on {wav_path.name}: {type(exc).__name__}: {exc}"
            ) from exc
        top = {code: round(float(p), 4) for code, p in ranked[:DETECTION_TOP_LANGUAGES]}
        return LanguageGuess(probabilities=top, speech_seconds=round(len(speech) / SAMPLE_RATE, 3))

    def transcribe(
        self,
        wav_path: Path,
        *,
        language: str | None = None,
        beam_size: int | None = None,
        word_timestamps: bool = True,
    ) -> EngineResult:
        """Transcribe one 16 kHz mono WAV; segment and word times are seconds from its start."""
        duration = _wav_duration(wav_path)
        model = self._load()
        try:
            raw_segments, info = model.transcribe(
                str(wav_path),
                language=language,
                beam_size=beam_size or self.beam_size,
                vad_filter=True,
                condition_on_previous_text=False,  # Stops one hallucination seeding the next.
                word_timestamps=word_timestamps,
                no_speech_threshold=0.6,
                log_prob_threshold=-1.0,
                compression_ratio_threshold=2.4,  # Repetitive output: retry hotter, then drop.
                hallucination_silence_threshold=2.0,
            )
            segments = tuple(s for s in (_segment(raw) for raw in raw_segments) if s is not None)
        except (MemoryError, RuntimeError) as exc:
            # CTranslate2 reports allocation failures and other runtime faults as RuntimeError.
            kind = "out of memory" if _is_oom(exc) else "runtime error"
            raise TransientEngineError(f"Whisper {kind} on {wav_path.name}: {exc}") from exc
        except Exception as exc:
            raise EngineError(f"Whisper failed on {wav_path.name}: {type(exc).__name__}: {exc}") from exc
        return EngineResult(language=info.language, segments=segments, duration=round(duration, 3))


def _segment(raw: Any) -> Segment | None:
    """Convert a faster-whisper segment; drop empty text and likely-silence hallucinations."""
    text = str(raw.text).strip()
    if not text or (raw.no_speech_prob > 0.6 and raw.avg_logprob < -1.0):
        return None
    words = tuple(
        Word(
            start=round(float(w.start), 3),
            end=round(float(w.end), 3),
            text=str(w.word).strip(),
            probability=round(float(w.probability), 4),
        )
        for w in (raw.words or ())
        if str(w.word).strip()
    )
    return Segment(start=round(float(raw.start), 3), end=round(float(raw.end), 3), text=text, words=words)
