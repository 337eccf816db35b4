"""One chunk through a speech engine, with timestamps checked against the audio itself."""

from __future__ import annotations

from pathlib import Path

from pydub import AudioSegment

from transcriber.domain.alignment import refine_segments
from transcriber.domain.chunking import ChunkingConfig, speech_spans
from transcriber.domain.models import ChunkSpec, ChunkTranscript
from transcriber.engines.base import SpeechEngine

#: Finer than chunk planning: pauses between sentences, not only between paragraphs.
PAUSE_MIN_SILENCE_MS = 300


def transcribe_chunk(
    engine: SpeechEngine,
    wav: Path,
    spec: ChunkSpec,
    *,
    language: str | None = None,
    config: ChunkingConfig | None = None,
) -> ChunkTranscript:
    """Recognise one chunk; segment times stay relative to the chunk start."""
    config = config or ChunkingConfig()
    result = engine.transcribe(wav, language=language)
    speech = speech_spans(
        AudioSegment.from_wav(str(wav)),
        min_silence_ms=PAUSE_MIN_SILENCE_MS,
        silence_thresh_dbfs=config.silence_thresh_dbfs,
    )
    return ChunkTranscript(
        index=spec.index,
        offset=spec.offset,
        duration=spec.duration,
        language=result.language,
        segments=tuple(refine_segments(result.segments, speech)),
        engine=engine.name,
        overlap=spec.overlap,
    )
