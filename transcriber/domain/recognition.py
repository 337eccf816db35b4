"""Speech engines applied to chunks: the job's language, then each chunk's words.

Timestamps are checked against the audio itself, and the language is decided once per job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydub import AudioSegment

from transcriber.domain.alignment import refine_segments
from transcriber.domain.chunking import ChunkingConfig, speech_spans
from transcriber.domain.errors import TransientEngineError
from transcriber.domain.language import LanguageDecision, LanguageSample, is_decisive, listening_order, vote
from transcriber.domain.models import ChunkSpec, ChunkTranscript
from transcriber.domain.options import JobOptions
from transcriber.domain.speech import DecodeOptions, SpeechEngine

#: Finer than chunk planning: pauses between sentences, not only between paragraphs.
PAUSE_MIN_SILENCE_MS = 300


def detect_job_language(
    engine: SpeechEngine, samples: Sequence[ChunkSpec], fetch: Callable[[ChunkSpec], Path]
) -> LanguageDecision:
    """Ask the engine about sample chunks and vote (see transcriber.domain.language).

    ``fetch`` gives a sample's WAV file, so that samples skipped after a decisive one are not
    even downloaded. A sample the engine fails on transiently does not vote; only when every
    sample fails does the error go up, for the state machine to retry the whole step.
    """
    guesses: list[LanguageSample] = []
    failure: TransientEngineError | None = None
    for spec in listening_order(samples):
        try:
            guess = engine.detect_language(fetch(spec))
        except TransientEngineError as err:
            failure = err
            continue
        sample = LanguageSample(spec.index, guess.probabilities, guess.speech_seconds)
        guesses.append(sample)
        if len(guesses) == 1 and is_decisive(sample):
            break
    if failure is not None and not guesses:
        raise failure
    return vote(guesses)


def transcribe_chunk(
    engine: SpeechEngine,
    wav: Path,
    spec: ChunkSpec,
    *,
    language: str | None = None,
    options: JobOptions | None = None,
    config: ChunkingConfig | None = None,
) -> ChunkTranscript:
    """Recognise one chunk in the job's pinned ``language``; times stay relative to the chunk."""
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
    )
