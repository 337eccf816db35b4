"""Aggregate: merge the chunk transcripts, write the outputs, complete the job
(transcriber/stages/aggregate.py)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber import wiring
from transcriber.adapters import aws_clients
from transcriber.domain.messages import AggregateRequest
from transcriber.env import AggregateEnv
from transcriber.stages.aggregate import aggregate

logger = Logger()
tracer = Tracer()
metrics = Metrics()
AggregateEnv()  # init phase: a missing or malformed variable fails here, naming it
aws_clients.build_now(clients=("s3", "events"), resources=("dynamodb",))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="job_id")
@event_parser(model=AggregateRequest)
def handler(request: AggregateRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(job_id=request.job_id)
    return aggregate(request, ports=wiring.ports(AggregateEnv())).to_wire()
