"""The HTTP API (``/v1``) behind API Gateway.

Thin: the routes, authentication and problem JSON live in transcriber/api/routes.py, the use
cases in transcriber/api/service.py; this module builds them once per execution environment
from the function's environment (transcriber/api/env.py) and resolves each request.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.resolver import resolve_host
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.adapters.workflow import Workflow
from transcriber.api.env import ApiEnv
from transcriber.api.routes import HttpApi
from transcriber.api.service import TranscriptionService

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def wire(env: ApiEnv) -> HttpApi:
    """The API's service and authentication over the real adapters."""
    tenants = TenantRepository(env.tenants_table)
    service = TranscriptionService(
        jobs=JobRepository(env.jobs_table),
        objects=ObjectStore(),
        runs=Workflow(env.state_machine_arn),
        limits=tenants,
        resolve=resolve_host,
        input_bucket=env.input_bucket,
        results_bucket=env.results_bucket,
        max_upload_bytes=env.max_upload_bytes,
        upload_url_expiry_s=env.upload_url_expiry_s,
        local_mode=env.local_mode,
    )
    return HttpApi(service=service, tenants=tenants, live_status_url=env.live_status_url)


# Init phase: the environment checked and the SDK clients built once, before the first event.
aws_clients.build_now(clients=("s3", "stepfunctions"), resources=("dynamodb",))
api = wire(ApiEnv.from_env())


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.handle(event, context)
