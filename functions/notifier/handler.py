"""Notifier: POST finished jobs to their ``callback_url`` (webhooks), from an SQS queue.

Thin: Powertools' BatchProcessor hands each SQS record (partial batch responses) to the notify
stage (transcriber/stages/notify.py), which delivers it or postpones it through the queue.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.resolver import resolve_host
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.adapters.webhook_queue import WebhookQueue
from transcriber.adapters.webhook_sender import post_webhook
from transcriber.api.env import NotifierEnv
from transcriber.stages.notify import Notifier, QueuedEvent

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# An entirely failed batch is reported item by item too (not raised): each message keeps the
# visibility timeout its backoff set.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def wire(env: NotifierEnv) -> tuple[Notifier, WebhookQueue]:
    """The stage and the queue, built once per execution environment (Lambda's init phase)."""
    jobs, tenants = JobRepository(env.jobs_table), TenantRepository(env.tenants_table)
    stage = Notifier(jobs, tenants, resolve=resolve_host, send=post_webhook, local_mode=env.local_mode)
    return stage, WebhookQueue(env.queue_url)


aws_clients.build_now(clients=("sqs",), resources=("dynamodb",))
stage, queue = wire(NotifierEnv.from_env())


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    remaining_ms = lambda_context.get_remaining_time_in_millis() if lambda_context else None
    receive_count = int(record.attributes.approximate_receive_count or 1)
    message = QueuedEvent(record.body, record.message_id, receive_count, remaining_ms)
    return stage.handle(message, partial(queue.postpone, record.event_source_arn, record.receipt_handle))


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS event source (report_batch_item_failures): returns ``{"batchItemFailures": [...]}``."""
    metrics.add_metric(name="WebhookEvents", unit=MetricUnit.Count, value=len(event.get("Records") or []))
    return dict(process_partial_response(event, record_handler, processor, context))
