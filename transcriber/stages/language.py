"""Language vote: listen to a few chunks spread over the file and pin the job's language."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.language import LanguageDecision, detection_samples
from transcriber.domain.messages import LanguageRequest
from transcriber.domain.models import ChunkSpec
from transcriber.domain.recognition import detect_job_language
from transcriber.domain.speech import SpeechEngine
from transcriber.stages.manifest import read_manifest
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)
metrics = Metrics()


def vote_language(request: LanguageRequest, *, engine: SpeechEngine, ports: StagePorts) -> LanguageDecision:
    """Vote on the job's language over sample chunks (or one, when it is decisive)."""
    chunks = read_manifest(request.manifest, ports=ports)
    samples = detection_samples([chunk.spec() for chunk in chunks])
    keys = {chunk.index: chunk.key for chunk in chunks}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="detect-") as tmp:

        def fetch(spec: ChunkSpec) -> Path:
            return ports.store.download(
                ports.results_bucket, keys[spec.index], Path(tmp) / f"{spec.index}.wav"
            )

        decision = detect_job_language(engine, samples, fetch)
    elapsed = time.perf_counter() - started
    metrics.add_metric(name="LanguageDetectionLatency", unit=MetricUnit.Seconds, value=elapsed)
    logger.info("Language decided", extra={**decision.to_dict(), "seconds": round(elapsed, 3)})
    return decision
