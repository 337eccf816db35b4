"""Live status pusher: job events (EventBridge rule -> SQS) -> the subscribed WebSocket connections.

Thin: each SQS record holds one EventBridge job event; the stage (transcriber/stages/live_status.py)
reads the job, posts its view to each of the tenant's subscribers whose key is not revoked (the
others are closed; each key is read once per invocation) and drops the gone ones. A record fails
(and SQS delivers it again, then to the DLQ) only when some connection failed in a way that may
pass; a connection that refuses the message is logged and skipped, never blocking the others.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.connections_table import ConnectionRepository
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.live_push import ConnectionPoster
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.api.env import LiveStatusEnv
from transcriber.stages.live_status import LiveStatus

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


def wire(env: LiveStatusEnv) -> LiveStatus:
    if not env.management_url:
        raise RuntimeError("WEBSOCKET_MANAGEMENT_URL is not set: the pusher has nowhere to post")
    return LiveStatus(
        connections=ConnectionRepository(env.connections_table),
        jobs=JobRepository(env.jobs_table),
        tenants=TenantRepository(env.tenants_table),
        push=ConnectionPoster(env.management_url),
    )


aws_clients.build_now(resources=("dynamodb",))
live = wire(LiveStatusEnv.from_env())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS event source (report_batch_item_failures): returns ``{"batchItemFailures": [...]}``."""
    credentials = live.credentials()  # this invocation's: a key revoked later is seen by the next

    def record_handler(record: SQSRecord) -> int:
        job_id = (json.loads(record.body).get("detail") or {}).get("job_id")
        return live.publish(str(job_id or ""), credentials)

    return dict(process_partial_response(event, record_handler, processor, context))
