"""Chunk: convert the upload to 16 kHz mono WAV (one per channel with channel identification),
plan its chunks, and store the WAV in S3 once.

The chunk references (the WAV's key, each chunk's offsets and byte range in it) go into the job's
chunk manifest in S3, longest first for the Map (the merge orders chunks by index, not by list
position); the state gets only a summary and the manifest's location
(transcriber/stages/manifest.py). Each transcribe step reads its chunk's bytes with a ranged GET.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from functools import partial
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.adapters.ffmpeg import convert_to_wav, split_channels
from transcriber.adapters.media_probe import declared_duration
from transcriber.domain.channels import MAX_CHANNELS, prepare_channel_chunks
from transcriber.domain.chunking import ChunkingConfig, longest_first
from transcriber.domain.job_warnings import truncation_warning
from transcriber.domain.jobs import audio_key
from transcriber.domain.messages import ChunkRef, ChunkRequest, ChunkResponse, JobStarted
from transcriber.domain.preparation import PreparedAudio, prepare_chunks
from transcriber.stages.deleted import refuse_if_deleted
from transcriber.stages.manifest import write_manifest
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)
metrics = Metrics()


def chunk_audio(
    request: ChunkRequest,
    *,
    ports: StagePorts,
    config: ChunkingConfig,
    max_duration_s: float,
    decode_budget_s: float,
) -> ChunkResponse:
    """Prepare and store the job's chunks, mark the job PROCESSING and announce it (once).

    ``decode_budget_s``: how long ffmpeg may take in all (the function's time left, less what the
    step needs after it)."""
    job_id = request.job_id
    if request.options.max_chunk_seconds is not None:
        config = replace(config, max_chunk_seconds=request.options.max_chunk_seconds)
    store, bucket = ports.store, ports.results_bucket
    with tempfile.TemporaryDirectory(prefix="chunk-") as tmp:
        workdir = Path(tmp)
        # The object key never becomes a local path: the download gets a fixed name.
        source = store.download(request.bucket, request.key, workdir / "source")
        declared_s = declared_duration(source)
        job_fields: dict[str, object] = {}
        if request.options.channel_identification:
            split = partial(
                split_channels,
                max_channels=MAX_CHANNELS,
                timeout_s=decode_budget_s,
                max_duration_s=max_duration_s,
            )
            by_channel = prepare_channel_chunks(
                source, workdir, config=config, max_duration_s=max_duration_s, split=split
            )
            prepared: PreparedAudio = by_channel
            job_fields = by_channel.job_fields()
            keys = [audio_key(job_id, channel) for channel in range(by_channel.channels)]
        else:
            prepared = prepare_chunks(
                source,
                workdir,
                config=config,
                max_duration_s=max_duration_s,
                convert=partial(convert_to_wav, timeout_s=decode_budget_s, max_duration_s=max_duration_s),
            )
            keys = [audio_key(job_id)]
        warning = truncation_warning(declared_s, prepared.info.duration_s)
        store.upload_many(list(zip(prepared.audio, keys, strict=True)), bucket, content_type="audio/wav")
        # The Map starts items in list order: longest first, so that the workers finish together.
        ranges = {spec.index: byte_range for spec, byte_range in prepared.chunks}
        specs = longest_first([spec for spec, _ in prepared.chunks])
        chunks = [ChunkRef.of(spec, keys[spec.channel or 0], ranges[spec.index]) for spec in specs]
    manifest = write_manifest(job_id, chunks, ports=ports)
    refuse_if_deleted(job_id, ports)  # after the last write to work/: the WAV and the manifest
    duration = prepared.info.duration_s
    if warning:
        logger.warning("Truncated upload", extra={"warning": warning})
        ports.jobs.set_warnings(job_id, [warning])
    if ports.jobs.mark_processing(job_id, duration=duration, chunks_total=len(chunks), extra=job_fields):
        # A chunk step retried after this point marks the job PROCESSING again, so a consumer may see
        # "started" twice for one job; EventBridge delivers at least once anyway: key on job_id.
        ports.events.emit(
            JobStarted(
                job_id=job_id,
                bucket=request.bucket,
                key=request.key,
                duration=duration,
                chunks_total=len(chunks),
            )
        )
    metrics.add_metric(name="AudioSeconds", unit=MetricUnit.Seconds, value=duration)
    metrics.add_metric(name="Chunks", unit=MetricUnit.Count, value=len(chunks))
    logger.info("Audio chunked", extra={"duration_s": duration, "chunks": len(chunks)})
    return ChunkResponse(job_id=job_id, duration=duration, chunks_total=len(chunks), manifest=manifest)
