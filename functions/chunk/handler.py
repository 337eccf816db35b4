"""Chunk: convert the upload to 16 kHz mono WAV, split it, and store the chunks in S3.

Only references (keys, offsets, durations) go back into the state, never audio, listed longest
first for the Map (the merge orders chunks by index, not by list position).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.chunking import ChunkingConfig, longest_first
from transcriber.domain.jobs import EVENT_JOB_STARTED, JobStatus, chunk_key
from transcriber.domain.options import JobOptions
from transcriber.domain.preparation import prepare_chunks
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    job_id, bucket, key = event["job_id"], event["bucket"], event["key"]
    logger.append_keys(job_id=job_id)
    options = JobOptions.parse(event.get("options"))
    config = ChunkingConfig.from_env()
    if options.max_chunk_seconds is not None:
        config = replace(config, max_chunk_seconds=options.max_chunk_seconds)
    store = ObjectStore()
    with tempfile.TemporaryDirectory(prefix="chunk-") as tmp:
        workdir = Path(tmp)
        # The object key never becomes a local path: the download gets a fixed name.
        source = store.download(bucket, key, workdir / "source")
        prepared = prepare_chunks(source, workdir, config=config, max_duration_s=settings.max_duration_s)
        store.upload_many(
            [(path, chunk_key(job_id, spec.index)) for spec, path in prepared.chunks],
            settings.results_bucket,
            content_type="audio/wav",
        )
        # The Map starts items in list order: longest first, so that the workers finish together.
        specs = longest_first([spec for spec, _ in prepared.chunks])
        chunks = [{**spec.to_dict(), "key": chunk_key(job_id, spec.index)} for spec in specs]
    duration = prepared.info.duration_s
    started = JobRepository(settings.jobs_table).mark_processing(
        job_id, duration=duration, chunks_total=len(chunks)
    )
    if started:
        # A chunk step retried after this point marks the job PROCESSING again, so a consumer may see
        # "started" twice for one job; EventBridge delivers at least once anyway: key on job_id.
        EventPublisher(settings.event_bus_name).publish(
            EVENT_JOB_STARTED,
            {
                "job_id": job_id,
                "status": JobStatus.PROCESSING.value,
                "bucket": bucket,
                "key": key,
                "duration": duration,
                "chunks_total": len(chunks),
                "progress": 0,
            },
        )
    metrics.add_metric(name="AudioSeconds", unit=MetricUnit.Seconds, value=duration)
    metrics.add_metric(name="Chunks", unit=MetricUnit.Count, value=len(chunks))
    logger.info("Audio chunked", extra={"duration_s": duration, "chunks": len(chunks)})
    return {"job_id": job_id, "duration": duration, "chunks": chunks}
