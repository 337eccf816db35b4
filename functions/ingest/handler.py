"""Ingest: an S3 ObjectCreated event, or where malware scanning is on GuardDuty's scan verdict,
becomes a validated job and exactly one execution (transcriber/stages/ingest.py, scan_verdict.py);
each upload is guarded by Powertools Idempotency."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.domain.errors import PermanentError
from transcriber.domain.malware import SCAN_RESULT_DETAIL_TYPE
from transcriber.domain.messages import Upload
from transcriber.env import IngestEnv
from transcriber.function_setup import pipeline_function
from transcriber.stages.ingest import ingest_object
from transcriber.stages.scan_verdict import ScanResultEvent, ingest_verdict

function = pipeline_function(
    IngestEnv, clients=("s3", "events", "stepfunctions", "dynamodb"), correlation_id_path=None
)  # init phase: env checked, SDK clients built
logger = function.logger


def _ingest(*, upload: Upload, refused: PermanentError | None = None) -> dict[str, Any]:
    env = IngestEnv()
    ports = wiring.ingest_ports(env)
    return ingest_object(upload, policy=wiring.ingest_policy(env), ports=ports, refused=refused)


@function.handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    wiring.idempotency_config.register_lambda_context(context)
    env = IngestEnv()
    ingest_once = wiring.once_per_upload(env.idempotency_table, _ingest)
    if event.get("detail-type") == SCAN_RESULT_DETAIL_TYPE:
        verdict = parse(event=event, model=ScanResultEvent).detail
        return {"jobs": [ingest_verdict(verdict, store=wiring.ingest_ports(env).store, ingest=ingest_once)]}
    results = []
    for record in S3Event(event).records:
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
