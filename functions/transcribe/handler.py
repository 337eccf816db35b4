"""Transcribe: the job's language, then one chunk at a time through the speech engine.

Two actions share this function because both need the loaded model, and one warm pool of
workers holding it is cheaper than two:

- ``detect_language``: listens to a few chunks spread over the file and votes, or to one when
  it is decisive (runs once per job, before the fan-out, unless the job asked for a language);
- ``transcribe`` (the default): one chunk in the pinned language; the result is checkpointed in
  S3, and a chunk whose result is already stored is not transcribed again, so retries and
  resumed jobs only pay for the chunks that are missing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.chunking import ChunkingConfig
from transcriber.domain.jobs import EVENT_JOB_PROGRESS, JobStatus, crosses_progress_step, partial_key
from transcriber.domain.language import detection_samples
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import JobOptions
from transcriber.domain.recognition import detect_job_language, transcribe_chunk
from transcriber.engines.factory import engine_from_env
from transcriber.faults import with_engine_faults
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))
# Init phase: the model loads once per execution environment, before the first request.
engine = with_engine_faults(engine_from_env())  # FAULT_RATE: transient errors for soak runs
engine.load()


def _publish_progress(settings: Settings, job_id: str, progress: dict[str, Any]) -> None:
    """One event per 10% band of chunks (see crosses_progress_step); the source comes from the job."""
    EventPublisher(settings.event_bus_name).publish(
        EVENT_JOB_PROGRESS,
        {
            "job_id": job_id,
            "status": JobStatus.PROCESSING.value,
            "bucket": progress["bucket"],
            "key": progress["key"],
            "progress": progress["progress"],
            "chunks_done": progress["chunks_done"],
            "chunks_total": progress["chunks_total"],
        },
    )


def detect_language(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Vote on the job's language over sample chunks; returns a LanguageDecision as a dict."""
    samples = detection_samples([ChunkSpec.from_dict(c) for c in event["chunks"]])
    keys = {int(c["index"]): c["key"] for c in event["chunks"]}
    store = ObjectStore()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="detect-") as tmp:

        def fetch(spec: ChunkSpec) -> Path:
            return store.download(settings.results_bucket, keys[spec.index], Path(tmp) / f"{spec.index}.wav")

        decision = detect_job_language(engine, samples, fetch)
    elapsed = time.perf_counter() - started
    metrics.add_metric(name="LanguageDetectionLatency", unit=MetricUnit.Seconds, value=elapsed)
    logger.info("Language decided", extra={**decision.to_dict(), "seconds": round(elapsed, 3)})
    return decision.to_dict()


def transcribe(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Transcribe one chunk (unless its checkpoint exists) and count it on the job."""
    job_id = event["job_id"]
    chunk = event["chunk"]
    spec = ChunkSpec.from_dict(chunk)
    logger.append_keys(chunk=spec.index)
    store = ObjectStore()
    result_key = partial_key(job_id, spec.index)
    reference = {"index": spec.index, "key": result_key}
    if store.exists(settings.results_bucket, result_key):
        logger.info("Chunk already transcribed; reusing the checkpoint")
        return {**reference, "reused": True}

    with tempfile.TemporaryDirectory(prefix="transcribe-") as tmp:
        wav = store.download(settings.results_bucket, chunk["key"], Path(tmp) / "chunk.wav")
        started = time.perf_counter()
        transcript = transcribe_chunk(
            engine,
            wav,
            spec,
            language=event.get("language") or None,  # empty or null: the engine detects it
            options=JobOptions.parse(event.get("options")),
            config=ChunkingConfig.from_env(),
        )
        elapsed = time.perf_counter() - started
    store.put_json(settings.results_bucket, result_key, transcript.to_dict())
    progress = JobRepository(settings.jobs_table).record_chunk_done(job_id)
    if crosses_progress_step(progress["chunks_done"], progress["chunks_total"]):
        _publish_progress(settings, job_id, progress)
    metrics.add_metric(name="ChunkLatency", unit=MetricUnit.Seconds, value=elapsed)
    if spec.duration > 0:
        metrics.add_metric(name="RealTimeFactor", unit=MetricUnit.Count, value=elapsed / spec.duration)
    counters = {k: progress[k] for k in ("chunks_done", "chunks_total", "progress")}
    logger.info("Chunk transcribed", extra={"seconds": round(elapsed, 3), **counters})
    return {**reference, "reused": False}


ACTIONS = {"detect_language": detect_language, "transcribe": transcribe}


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=event["job_id"])
    action = ACTIONS.get(event.get("action", "transcribe"))
    if action is None:
        raise ValueError(f"unknown action {event.get('action')!r}; expected one of {sorted(ACTIONS)}")
    return action(event, Settings.from_env())
