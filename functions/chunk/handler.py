"""Chunk: convert the upload, split it and store the chunks (transcriber/stages/chunk.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters import aws_clients
from transcriber.domain.messages import ChunkRequest
from transcriber.env import ChunkEnv
from transcriber.stages.chunk import chunk_audio

logger = Logger()
tracer = Tracer()
metrics = Metrics()
ChunkEnv()  # init phase: a missing or malformed variable fails here, naming it
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
@event_parser(model=ChunkRequest)
def handler(request: ChunkRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=request.job_id)
    env = ChunkEnv()
    response = chunk_audio(
        request, ports=wiring.ports(env), config=env.chunking(), max_duration_s=env.max_duration_seconds
    )
    return response.to_wire()
