"""The production engine: Whisper base through faster-whisper (CTranslate2), on CPU.

int8 on CPU keeps a Lambda worker at about 0.5 GB and well under real time; the model loads
lazily, once per instance, so a warm worker pays for it once. Failures are mapped to the
pipeline's error classes so Step Functions retries only what a retry can fix.

With word timestamps (the default) a chunk is decoded in faster-whisper's batched mode: one pass
per stretch of speech of up to 30 s, text tokens only, the words timed by alignment. On the 22
chunks of the benchmark's 10-minute input, one after another on one thread, that took 68.9 s
against 84.2 s for the sequential decoder, WER 0.082 against 0.084 (one measurement on a shared
machine). Batched mode has no temperature fallback, so a chunk whose output looks like a
hallucination (repetitive, or improbable without being silence) is decoded again sequentially,
with the fallback. Segments are then split at sentence ends (batched mode gives one per stretch).
A chunk with sound at either edge (a cut inside speech, or a file that starts or ends with a word)
is decoded sequentially from the start: batched mode lost words at such cuts.
"""

from __future__ import annotations

import logging
import os
import threading
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydub.utils import db_to_float

from transcriber.domain.alignment import sentence_segments
from transcriber.domain.audio import target_wav_info
from transcriber.domain.chunking import ChunkingConfig
from transcriber.domain.errors import EngineError, TransientEngineError
from transcriber.domain.models import Segment, Word
from transcriber.engines.base import DEFAULT_DECODING, DecodeOptions, EngineResult, LanguageGuess
from transcriber.engines.weights import WeightsError
from transcriber.engines.weights import model_dir as default_model_dir

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16_000
#: Languages kept from a detection: the rest carry almost no probability.
DETECTION_TOP_LANGUAGES = 5

#: Whisper's own guards against hallucinated output, the same in both decoding modes.
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
COMPRESSION_RATIO_THRESHOLD = 2.4
#: Stretches of speech decoded together in batched mode (a chunk holds one or two).
BATCH_SIZE = 8
#: Batched mode: text tokens only (the words are timed by alignment and cut the segments).
BATCHED_OPTIONS: dict[str, Any] = {"batch_size": BATCH_SIZE, "without_timestamps": True}
#: Sequential mode only: skip silences of 2 s or more around a likely hallucination.
SEQUENTIAL_OPTIONS: dict[str, Any] = {"hallucination_silence_threshold": 2.0}

logger = logging.getLogger(__name__)

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

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        """Transcribe one 16 kHz mono WAV; segment and word times are seconds from its start.

        ``hotwords`` go before every window as Whisper's previous-text prompt (faster-whisper's
        ``hotwords``), which makes their spellings likelier."""
        duration = _wav_duration(wav_path)
        model = self._load()
        beam = options.beam_size or self.beam_size
        hints = {"hotwords": options.hotwords} if options.hotwords else {}
        try:
            choices = {"task": options.task, "initial_prompt": options.prompt, **hints}
            raw_segments, detected, detection = self._decode(
                model, wav_path, options.language, beam, options.word_timestamps, choices
            )
            kept = (s for s in (_segment(raw) for raw in raw_segments) if s is not None)
            segments = tuple(sentence for segment in kept for sentence in sentence_segments(segment))
        except (MemoryError, RuntimeError) as exc:
            # CTranslate2 reports allocation failures and other runtime faults as RuntimeError.
            kind = "out of memory" if _is_oom(exc) else "runtime error"
            raise TransientEngineError(f"Whisper {kind} on {wav_path.name}: {exc}") from exc
        except Exception as exc:
            raise EngineError(f"Whisper failed on {wav_path.name}: {type(exc).__name__}: {exc}") from exc
        return EngineResult(
            language=detected, segments=segments, duration=round(duration, 3), detection=detection
        )

    def _decode(
        self,
        model: WhisperModel,
        wav_path: Path,
        language: str | None,
        beam: int,
        word_timestamps: bool,
        job_choices: dict[str, Any],
    ) -> tuple[list[Any], str, LanguageGuess | None]:
        """Batched when words are wanted (they cut the segments) and the chunk was cut in pauses;
        sequential otherwise, and on suspect output. ``job_choices``: the task and initial prompt.
        Without a ``language`` the first window's detection comes back too."""
        common = decode_options(language=language, beam_size=beam, word_timestamps=word_timestamps)
        common.update(job_choices)
        audio = _read_samples(wav_path)
        view = None
        if language is None:
            # Detected on the encoder pass that decoding reuses, not on a pass of its own.
            from transcriber.engines.detect_in_pass import detecting_view

            model = view = detecting_view(model)

        def detection() -> LanguageGuess | None:
            if view is None or view.detection is None:
                return None
            ranked, heard = view.detection
            top = {code: round(p, 4) for code, p in ranked[:DETECTION_TOP_LANGUAGES]}
            return LanguageGuess(probabilities=top if heard else {}, speech_seconds=round(heard, 3))

        if word_timestamps and not _edge_in_speech(audio):
            from faster_whisper import BatchedInferencePipeline

            batched, info = BatchedInferencePipeline(model).transcribe(audio, **BATCHED_OPTIONS, **common)
            raw = list(batched)
            suspect = [r for r in raw if _needs_fallback(r)]
            if not suspect:
                return raw, info.language, detection()
            logger.warning(
                "Batched output of %s looks like a hallucination (%r); decoding it again sequentially",
                wav_path.name,
                suspect[0].text[:80],
            )
            # The detected language is kept: a second detection could disagree with the first.
            common["language"] = language or info.language
        # Repetitive or improbable output is retried at higher temperatures, then dropped.
        sequential, info = model.transcribe(audio, **SEQUENTIAL_OPTIONS, **common)
        return list(sequential), info.language, detection()


def decode_options(*, language: str | None, beam_size: int, word_timestamps: bool) -> dict[str, Any]:
    """The options both decoding modes share (``bench.compare`` calls faster-whisper with them too)."""
    return {
        "language": language,
        "beam_size": beam_size,
        "vad_filter": True,
        "condition_on_previous_text": False,  # Stops one hallucination seeding the next.
        "word_timestamps": word_timestamps,
        "no_speech_threshold": NO_SPEECH_THRESHOLD,
        "log_prob_threshold": LOG_PROB_THRESHOLD,
        "compression_ratio_threshold": COMPRESSION_RATIO_THRESHOLD,
    }


#: A chunk edge louder than the chunk planner's silence threshold was cut inside speech.
EDGE_SPEECH_DBFS = ChunkingConfig().silence_thresh_dbfs
#: How much of each edge is looked at.
EDGE_WINDOW_S = 0.05


def _read_samples(wav_path: Path) -> np.ndarray:
    """The file's samples as float32 in [-1, 1), the input faster-whisper decodes from.

    A 16 kHz mono 16-bit WAV (what the chunk step writes) is read as it is: faster-whisper's own
    decoder (PyAV, then a full garbage collection) cost about 0.1 s a chunk, 4.5 s of a 10-minute
    job's compute. Any other file goes through that decoder.
    """
    if target_wav_info(wav_path) is None:
        from faster_whisper.audio import decode_audio

        return decode_audio(str(wav_path), sampling_rate=SAMPLE_RATE)
    with wave.open(str(wav_path), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def _edge_in_speech(audio: np.ndarray) -> bool:
    """Whether the chunk starts or ends inside speech: a cut the planner had to force.

    Planned chunks begin and end in a pause. Where speech ran on longer than a chunk, the cut
    falls inside a word, and there batched mode (its VAD trims speech it hears as cut off) lost
    words that the sequential decoder keeps: on ``bench/seams.py``'s continuous speech cut every
    7 s, 19 and 38 words (without and with overlap) against 4 and 2. Such chunks are decoded
    sequentially.
    """
    if audio.size == 0:
        return False
    window = max(1, min(audio.size, int(SAMPLE_RATE * EDGE_WINDOW_S)))
    threshold = db_to_float(EDGE_SPEECH_DBFS)  # dBFS: relative to full scale, 1.0 here
    edges = (audio[:window], audio[-window:])
    return any(float(np.sqrt(np.mean(edge.astype(np.float64) ** 2))) > threshold for edge in edges)


def _is_silence(raw: Any) -> bool:
    """Whisper's rule: probably no speech, and the text it produced anyway is improbable."""
    return bool(raw.no_speech_prob > NO_SPEECH_THRESHOLD and raw.avg_logprob < LOG_PROB_THRESHOLD)


def _needs_fallback(raw: Any) -> bool:
    """The sequential decoder's conditions for retrying hotter: repetitive or improbable speech."""
    if _is_silence(raw):
        return False
    return bool(raw.compression_ratio > COMPRESSION_RATIO_THRESHOLD or raw.avg_logprob < LOG_PROB_THRESHOLD)


def _segment(raw: Any) -> Segment | None:
    """Convert a faster-whisper segment; drop empty text and likely-silence hallucinations."""
    text = str(raw.text).strip()
    if not text or _is_silence(raw):
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
