"""Ingest: an S3 ObjectCreated event becomes a validated job and exactly one execution
(transcriber/stages/ingest.py); each record is guarded by Powertools Idempotency."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters import aws_clients
from transcriber.domain.messages import Upload
from transcriber.env import IngestEnv
from transcriber.stages.ingest import ingest_object

logger = Logger()
tracer = Tracer()
metrics = Metrics()
IngestEnv()  # init phase: a missing or malformed variable fails here, naming it
aws_clients.build_now(clients=("s3", "events", "stepfunctions", "dynamodb"), resources=("dynamodb",))


def _ingest(*, upload: Upload) -> dict[str, Any]:
    env = IngestEnv()
    return ingest_object(upload, policy=wiring.ingest_policy(env), ports=wiring.ingest_ports(env))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict[str, Any]:
    wiring.idempotency_config.register_lambda_context(context)
    ingest_once = wiring.once_per_upload(IngestEnv().idempotency_table, _ingest)
    results = []
    for record in event.records:
        obj = record.s3.get_object
        upload = Upload(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),  # S3 event keys arrive URL-encoded
            size=obj.size,
            etag=obj.etag,
            version_id=obj.version_id,
        )
        results.append(ingest_once(upload=upload))
    return {"jobs": results}
