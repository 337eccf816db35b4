"""Notifier: POST finished jobs to their ``callback_url`` (webhooks), from an SQS queue.

An EventBridge rule on the jobs bus puts every "Transcription Job Completed" and "... Failed"
event on a queue; this function takes them in batches. For each event it reads the job; a job
without a ``callback_url`` needs nothing. Otherwise the URL is checked again (it must still
resolve to public addresses only, see transcriber/domain/webhooks.py), the body is signed with
the tenant's webhook secret and POSTed to an address the check accepted.

Failures, one message at a time (Powertools batch processing, partial batch responses):

- retryable (receiver down, 408/429/5xx, timeout, a throttled table): the message's visibility
  timeout is set to the backoff for its receive count and the message is reported failed, so
  SQS hands it out again after that delay, and moves it to the dead-letter queue after the
  queue's ``maxReceiveCount``;
- permanent (the URL is no longer acceptable, a 4xx or a redirect, no tenant secret): logged and
  counted, and the message is done; retrying would fail the same way.

Each delivery has a deadline (transcriber/adapters/webhook_sender.py); a message for which too
little of the invocation is left is handed back to the queue untried, so one slow receiver never
runs a batch into the function's timeout.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.adapters.webhook_sender import DEFAULT_TIMEOUT_S, WebhookRetryableError, post_webhook
from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.tenants import DEFAULT_TENANT
from transcriber.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_EVENT_TYPES,
    CallbackHostNotFoundError,
    check_callback_url,
    payload_for,
    retry_delay_s,
    sign,
)
from transcriber.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
# Init phase: build the SDK clients once per execution environment, before the first event.
aws_clients.build_now(clients=("sqs",), resources=("dynamodb",))
# An entirely failed batch is reported item by item too (not raised): each message keeps the
# visibility timeout its backoff set.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

#: The time one delivery may take: the sender's deadline, plus reading the job and its tenant.
TIME_PER_DELIVERY_MS = int((DEFAULT_TIMEOUT_S + 5) * 1000)

DELIVERED = "delivered"
NOTHING_TO_SEND = "nothing_to_send"
REJECTED = "rejected"


def queue_url(event_source_arn: str) -> str:
    """The queue's URL: ``QUEUE_URL`` when set, else derived from the record's source ARN."""
    configured = os.environ.get("QUEUE_URL")
    if configured:
        return configured
    _, partition, _, region, account, name = event_source_arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


@tracer.capture_method
def notify(event: dict[str, Any], *, delivery_id: str) -> str:
    """Deliver one job event to its job's callback URL; returns what happened.

    Raises :class:`RetryableError` when trying again later can help; permanent failures are
    logged and counted here and return :data:`REJECTED`.
    """
    detail_type = event.get("detail-type")
    job_id = (event.get("detail") or {}).get("job_id")
    if detail_type not in WEBHOOK_EVENT_TYPES or not job_id:
        logger.warning("Not a job outcome event; ignored", extra={"detail_type": detail_type})
        return NOTHING_TO_SEND
    logger.append_keys(job_id=job_id, delivery_id=delivery_id)
    settings = Settings.from_env()
    job = JobRepository(settings.jobs_table).get(str(job_id))
    url = str(job.get("callback_url") or "") if job else ""
    if job is None or not url:
        return NOTHING_TO_SEND
    if not settings.tenants_table:
        raise RuntimeError("environment variable TENANTS_TABLE is not set; the function is misconfigured")
    # Set by the local runtime only (TRANSCRIBER_LOCAL_MODE=1, never in AWS): http://localhost allowed.
    local = settings.local_mode
    try:
        tenant_id = str(job.get("tenant_id") or DEFAULT_TENANT)
        tenant = TenantRepository(settings.tenants_table).tenant(tenant_id)
        if tenant is None or not tenant.webhook_secret:
            raise PermanentError(f"tenant {tenant_id!r} has no webhook secret", reason_code="NO_SECRET")
        try:
            addresses = check_callback_url(url, local_mode=local)
        except CallbackHostNotFoundError as err:
            raise WebhookRetryableError(err.message) from None
        body = json.dumps(payload_for(event, job), separators=(",", ":"), default=str).encode()
        headers = {
            SIGNATURE_HEADER: sign(tenant.webhook_secret, int(time.time()), body),
            EVENT_HEADER: str(detail_type),
            DELIVERY_HEADER: delivery_id,
        }
        delivered = post_webhook(url, addresses, body, headers, local_mode=local)
    except PermanentError as err:
        logger.error(
            "Webhook not delivered; not retried",
            extra={
                "reason_code": err.reason_code,
                "error": err.message,
                "status": getattr(err, "status", None),
            },
        )
        metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        return REJECTED
    logger.info(
        "Webhook delivered",
        extra={"status": delivered.status, "elapsed_ms": delivered.elapsed_ms, "detail_type": detail_type},
    )
    metrics.add_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=1)
    return DELIVERED


def postpone(record: SQSRecord, delay_s: int) -> None:
    """Let SQS hand the message out again in ``delay_s`` seconds (its visibility timeout)."""
    try:
        aws_clients.client("sqs").change_message_visibility(
            QueueUrl=queue_url(record.event_source_arn),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay_s,
        )
    except (ClientError, BotoCoreError) as err:  # it comes back after the queue's own timeout
        logger.warning("Could not postpone the message", extra={"error": str(err)})


class _OutOfTime(RetryableError):
    """Too little of the invocation is left for one more delivery: the message is handed back."""


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> str:
    if lambda_context is not None and lambda_context.get_remaining_time_in_millis() < TIME_PER_DELIVERY_MS:
        postpone(record, 0)  # another invocation takes it at once
        raise _OutOfTime("not enough time left in this invocation; handed back to the queue")
    try:
        event = json.loads(record.body)
    except ValueError:
        logger.error("Message is not JSON; dropped", extra={"message_id": record.message_id})
        return REJECTED
    if not isinstance(event, dict):
        logger.error("Message is not an event; dropped", extra={"message_id": record.message_id})
        return REJECTED
    # The EventBridge event id stays the same when SQS or EventBridge delivers an event again:
    # receivers deduplicate on it.
    delivery_id = str(event.get("id") or record.message_id)
    try:
        return notify(event, delivery_id=delivery_id)
    except RetryableError as err:
        attempt = int(record.attributes.approximate_receive_count or 1)
        delay = retry_delay_s(attempt)
        logger.warning(
            "Webhook delivery failed; will retry",
            extra={"error": err.message, "attempt": attempt, "retry_in_s": delay},
        )
        metrics.add_metric(name="WebhookRetries", unit=MetricUnit.Count, value=1)
        postpone(record, delay)
        raise
    finally:
        logger.remove_keys(["job_id", "delivery_id"])


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS event source (report_batch_item_failures): returns ``{"batchItemFailures": [...]}``."""
    metrics.add_metric(name="WebhookEvents", unit=MetricUnit.Count, value=len(event.get("Records") or []))
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    )
