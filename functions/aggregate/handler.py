"""Aggregate: merge the chunk transcripts, write the four outputs and complete the job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.formats import render_all
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, JobStatus, output_key, parse_timestamp, partial_key
from transcriber.domain.merge import merge_chunks
from transcriber.domain.models import ChunkTranscript
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))

CONTENT_TYPES = {
    "json": "application/json",
    "srt": "application/x-subrip",
    "vtt": "text/vtt",
    "txt": "text/plain; charset=utf-8",
}


def _seconds_since(iso: str | None) -> float | None:
    if not iso:
        return None
    started = parse_timestamp(iso)
    return round((datetime.now(UTC) - started).total_seconds(), 3)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    job_id = event["job_id"]
    logger.append_keys(job_id=job_id)
    store = ObjectStore()
    jobs = JobRepository(settings.jobs_table)
    bucket = settings.results_bucket
    keys = [partial_key(job_id, int(chunk["index"])) for chunk in event["chunks"]]
    partials = [ChunkTranscript.from_dict(data) for data in store.get_json_many(bucket, keys)]
    engines = {p.engine for p in partials if p.engine}
    decision = event.get("language") or {}
    transcript = merge_chunks(
        job_id,
        partials,
        float(event["duration"]),
        engine=",".join(sorted(engines)),
        language=decision.get("language"),
    )
    rendered = render_all(transcript)
    store.put_texts(
        bucket, [(output_key(job_id, fmt), body, CONTENT_TYPES[fmt]) for fmt, body in rendered.items()]
    )
    outputs = {fmt: f"s3://{bucket}/{output_key(job_id, fmt)}" for fmt in rendered}

    job = jobs.get(job_id) or {}
    processing_time = _seconds_since(job.get("created_at"))
    fields = {
        "duration": transcript.duration,
        "language": transcript.language,
        "language_source": decision.get("source"),
        "language_confidence": decision.get("confidence"),
        "segments": len(transcript.segments),
        "chunks_total": transcript.chunks,
        "chunks_done": transcript.chunks,
        "processing_time_s": processing_time,
        "outputs": outputs,
        "engine": transcript.engine,
    }
    jobs.mark_completed(job_id, fields)
    EventPublisher(settings.event_bus_name).publish(
        EVENT_JOB_COMPLETED,
        {
            "job_id": job_id,
            "status": JobStatus.COMPLETED.value,
            "bucket": event.get("bucket"),
            "key": event.get("key"),
            "language": transcript.language,
            "duration": transcript.duration,
            "segments": len(transcript.segments),
            "outputs": outputs,
        },
    )
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    if processing_time is not None:
        metrics.add_metric(name="JobDuration", unit=MetricUnit.Seconds, value=processing_time)
    logger.info(
        "Job completed", extra={"segments": len(transcript.segments), "language": transcript.language}
    )
    return {"job_id": job_id, "status": JobStatus.COMPLETED.value, "outputs": outputs}
