"""The HTTP API (``/v1``) behind API Gateway. Thin: routes and authentication in
transcriber/api/routes.py, use cases in .../service.py, built once from transcriber/api/env.py."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.api.env import ApiEnv
from transcriber.api.wiring import wire

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Init phase: the environment checked and the SDK clients built once, before the first event.
aws_clients.build_now(clients=("s3", "stepfunctions", "events"), resources=("dynamodb",))
api = wire(ApiEnv.from_env())


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.handle(event, context)
