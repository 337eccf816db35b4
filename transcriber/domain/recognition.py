"""Speech engines applied to chunks: the job's language, then each chunk's words.

Timestamps are checked against the audio itself; the job's language is voted on from the chunks
(transcriber/domain/language.py).
"""

from __future__ import annotations

from pathlib import Path

from pydub import AudioSegment

from transcriber.domain.alignment import refine_segments
from transcriber.domain.chunking import ChunkingConfig, speech_spans
from transcriber.domain.models import ChunkSpec, ChunkTranscript
from transcriber.domain.options import JobOptions
from transcriber.domain.speech import DecodeOptions, SpeechEngine

#: Finer than chunk planning: pauses between sentences, not only between paragraphs.
PAUSE_MIN_SILENCE_MS = 300


def transcribe_chunk(
    engine: SpeechEngine,
    wav: Path,
    spec: ChunkSpec,
    *,
    language: str | None = None,
    options: JobOptions | None = None,
    config: ChunkingConfig | None = None,
) -> ChunkTranscript:
    """Recognise one chunk in the job's ``language``, or in the one the engine detects on it
    (kept with the transcript for the job's vote); times stay relative to the chunk."""
    config = config or ChunkingConfig()
    options = options or JobOptions()
    decoding = DecodeOptions(
        language=language,
        beam_size=options.beam_size,
        word_timestamps=options.word_timestamps,
        task=options.task,
        prompt=options.prompt,
        hotwords=", ".join(options.vocabulary_phrases) or None,
    )
    result = engine.transcribe(wav, decoding)
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
        detection=result.detection,
    )
