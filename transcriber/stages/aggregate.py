"""Aggregate: merge the chunk transcripts, write the four outputs and complete the job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.formats import render_all, speakers_summary
from transcriber.domain.jobs import OUTPUT_CONTENT_TYPES, output_key, parse_timestamp, partial_key
from transcriber.domain.merge import merge_chunks
from transcriber.domain.messages import AggregateRequest, AggregateResponse, Job, JobCompleted
from transcriber.domain.models import ChunkTranscript
from transcriber.stages.ports import StagePorts
from transcriber.stages.speaker_labels import label_transcript

logger = Logger(child=True)
metrics = Metrics()


def _seconds_since(iso: str | None) -> float | None:
    if not iso:
        return None
    return round((datetime.now(UTC) - parse_timestamp(iso)).total_seconds(), 3)


def aggregate(request: AggregateRequest, *, ports: StagePorts) -> AggregateResponse:
    """Merge the job's chunk transcripts, store every output format, and complete the job."""
    job_id, store, bucket = request.job_id, ports.store, ports.results_bucket
    keys = [partial_key(job_id, chunk.index) for chunk in request.chunks]
    partials = [ChunkTranscript.from_dict(data) for data in store.get_json_many(bucket, keys)]
    engines = {p.engine for p in partials if p.engine}
    decision = request.language
    transcript = merge_chunks(
        job_id, partials, request.duration, engine=",".join(sorted(engines)), language=decision.language
    )
    if request.options.speaker_labels:
        transcript = label_transcript(transcript, job_id, ports=ports)
    rendered = render_all(transcript)
    store.put_texts(
        bucket, [(output_key(job_id, fmt), body, OUTPUT_CONTENT_TYPES[fmt]) for fmt, body in rendered.items()]
    )
    outputs = {fmt: f"s3://{bucket}/{output_key(job_id, fmt)}" for fmt in rendered}

    found = ports.jobs.get(job_id)
    processing_time = _seconds_since(Job.model_validate(found).created_at if found else None)
    fields: dict[str, Any] = {
        "duration": transcript.duration,
        "language": transcript.language,
        "language_source": decision.source,
        "language_confidence": decision.confidence,
        "segments": len(transcript.segments),
        "chunks_total": transcript.chunks,
        "chunks_done": transcript.chunks,
        "processing_time_s": processing_time,
        "outputs": outputs,
        "engine": transcript.engine,
    }
    if request.options.speaker_labels:  # jobs without speaker labels keep their record as it was
        fields["speakers"] = speakers_summary(transcript.segments)
    ports.jobs.mark_completed(job_id, fields)
    ports.events.emit(
        JobCompleted(
            job_id=job_id,
            bucket=request.bucket,
            key=request.key,
            language=transcript.language,
            duration=transcript.duration,
            segments=len(transcript.segments),
            outputs=outputs,
        )
    )
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    if processing_time is not None:
        metrics.add_metric(name="JobDuration", unit=MetricUnit.Seconds, value=processing_time)
    logger.info(
        "Job completed", extra={"segments": len(transcript.segments), "language": transcript.language}
    )
    return AggregateResponse(job_id=job_id, outputs=outputs)
