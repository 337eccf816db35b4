"""Transcribe: one chunk (a byte range of the job's stored WAV), in the job's language or the one
detected on it, checkpointed in S3.

A chunk whose result is already stored is not transcribed again, so retries and resumed jobs
only pay for the chunks that are missing; only a result in another language than the one now
asked for (a chunk the job's language vote overruled) is transcribed again and replaced.
"""

from __future__ import annotations

import tempfile
import time
from contextlib import suppress
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.chunking import ChunkingConfig, write_chunk_wav
from transcriber.domain.jobs import crosses_progress_step, partial_key
from transcriber.domain.messages import ChunkRef, JobProgress, TranscribeRequest, TranscribeResponse
from transcriber.domain.recognition import transcribe_chunk
from transcriber.domain.speech import SpeechEngine
from transcriber.stages.chunk_failures import record_chunk_failure
from transcriber.stages.deleted import refuse_if_deleted
from transcriber.stages.diarize import store_chunk_embeddings
from transcriber.stages.ports import StagePorts, Store
from transcriber.stages.speaker_labels import speaker_embeddings_key

logger = Logger(child=True)
metrics = Metrics()


def transcribe_one(
    request: TranscribeRequest, *, engine: SpeechEngine, ports: StagePorts, config: ChunkingConfig
) -> TranscribeResponse:
    """Transcribe one chunk (unless its checkpoint exists) and count it on the job; its error, if
    it fails, is kept for MarkFailed (the Distributed Map does not pass it on)."""
    try:
        response = _transcribe(request, engine=engine, ports=ports, config=config)
    except Exception as err:
        with suppress(Exception):  # the chunk's own error is the one to report, whatever happens here
            record_chunk_failure(request.job_id, request.chunk.index, err, ports=ports)
        raise
    return response


def _chunk_wav(chunk: ChunkRef, *, store: Store, bucket: str, path: Path) -> Path:
    """The chunk as a local WAV file: its byte range of the job's stored audio, in one ranged GET."""
    if chunk.byte_range is None:  # a manifest written before the audio was stored whole
        return store.download(bucket, chunk.key, path)
    first, stop = chunk.byte_range
    return write_chunk_wav(path, store.get_range(bucket, chunk.key, first, stop))


def _transcribe(
    request: TranscribeRequest, *, engine: SpeechEngine, ports: StagePorts, config: ChunkingConfig
) -> TranscribeResponse:
    job_id, spec = request.job_id, request.chunk.spec()
    logger.append_keys(chunk=spec.index)
    store, bucket = ports.store, ports.results_bucket
    result_key = partial_key(job_id, spec.index)
    # Speaker embeddings have their own checkpoint: a chunk transcribed before they were stored
    # (a retry after a failure in between) computes only them.
    embed = request.options.speaker_labels and not store.exists(
        bucket, speaker_embeddings_key(job_id, spec.index)
    )
    # One existence check per chunk: a retry or a redelivery finds the checkpoint here.
    transcribed = store.exists(bucket, result_key)
    # Only a language asked for can overrule a stored result: its GET is for those requests alone.
    replacing = bool(transcribed and request.language) and (
        store.get_json(bucket, result_key).get("language") != request.language
    )
    transcribed = transcribed and not replacing
    if transcribed and not embed:
        logger.info("Chunk already transcribed; reusing the checkpoint")
        return TranscribeResponse(index=spec.index, key=result_key, reused=True)

    with tempfile.TemporaryDirectory(prefix="transcribe-") as tmp:
        wav = _chunk_wav(request.chunk, store=store, bucket=bucket, path=Path(tmp) / "chunk.wav")
        if embed:
            store_chunk_embeddings(job_id, spec, wav, ports=ports)
        if transcribed:
            return TranscribeResponse(index=spec.index, key=result_key, reused=True)
        started = time.perf_counter()
        transcript = transcribe_chunk(
            engine,
            wav,
            spec,
            language=request.language or None,  # empty or null: the engine detects it
            options=request.options,
            config=config,
        )
        elapsed = time.perf_counter() - started
    store.put_json(bucket, result_key, transcript.to_dict())
    refuse_if_deleted(job_id, ports)
    # A chunk the language vote sent back counts again: aggregate added it to chunks_total.
    progress = ports.jobs.record_chunk_done(job_id)
    if crosses_progress_step(progress["chunks_done"], progress["chunks_total"]):
        # One event per 10% band of chunks; the source object comes from the job.
        ports.events.emit(JobProgress.of_counters(job_id, progress))
    metrics.add_metric(name="ChunkLatency", unit=MetricUnit.Seconds, value=elapsed)
    if spec.duration > 0:
        metrics.add_metric(name="RealTimeFactor", unit=MetricUnit.Count, value=elapsed / spec.duration)
    counters = {k: progress[k] for k in ("chunks_done", "chunks_total", "progress")}
    logger.info("Chunk transcribed", extra={"seconds": round(elapsed, 3), "replaced": replacing, **counters})
    return TranscribeResponse(index=spec.index, key=result_key, reused=False)
