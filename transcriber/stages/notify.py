"""Notify: POST a finished job's event to its ``callback_url`` (webhooks); plain Python.

An EventBridge rule puts every "Transcription Job Completed" and "... Failed" event on a queue
that functions/notifier drains. For each event the job is read; a job without a
``callback_url`` needs nothing. Otherwise the URL is checked again (it must still resolve to
public addresses only, see transcriber/domain/webhooks.py), the body is signed with the
tenant's webhook secret and POSTed to an address the check accepted.

Failures, one message at a time:

- retryable (receiver down, 408/429/5xx, timeout, a throttled table): the message is postponed
  by the backoff for its receive count and reported failed, so the queue hands it out again
  after that delay and moves it to the dead-letter queue after its ``maxReceiveCount``;
- permanent (the URL is no longer acceptable, a 4xx or a redirect, no tenant secret, not a job
  event): logged and counted, and the message is done; retrying would fail the same way.

Each delivery has a deadline (transcriber/adapters/webhook_sender.py); a message for which too
little of the invocation is left is handed back untried, so one slow receiver never runs a
batch into the function's timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from transcriber.adapters.webhook_sender import (
    DEFAULT_TIMEOUT_S,
    Delivered,
    WebhookRetryableError,
)
from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.tenants import DEFAULT_TENANT, Tenant
from transcriber.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WEBHOOK_EVENT_TYPES,
    CallbackHostNotFoundError,
    IPAddress,
    Resolver,
    check_callback_url,
    payload_for,
    retry_delay_s,
    sign,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()

#: The time one delivery may take: the sender's deadline, plus reading the job and its tenant.
TIME_PER_DELIVERY_MS = int((DEFAULT_TIMEOUT_S + 5) * 1000)

DELIVERED = "delivered"
NOTHING_TO_SEND = "nothing_to_send"
REJECTED = "rejected"


class Jobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...


class Tenants(Protocol):
    def tenant(self, tenant_id: str) -> Tenant | None: ...


class Sender(Protocol):
    def __call__(
        self,
        url: str,
        addresses: Sequence[IPAddress],
        body: bytes,
        headers: dict[str, str],
        *,
        local_mode: bool,
    ) -> Delivered: ...


@dataclass(frozen=True)
class QueuedEvent:
    """One queue message as the stage needs it (the handler takes it from the SQS record)."""

    body: str
    message_id: str
    #: 1 on the first delivery attempt; sets the backoff
    receive_count: int
    #: what is left of the invocation, when known
    remaining_ms: int | None = None


class JobEvent(EventBridgeModel):
    """A jobs-bus event as it arrives on the queue (Powertools' EventBridge model).

    ``account`` may be absent: moto's EventBridge (the local runtime's AWS) leaves it out of
    the events it forwards to SQS, and the notifier does not read it.
    """

    account: str = ""


class OutOfTimeError(RetryableError):
    """Too little of the invocation is left for one more delivery: the message is handed back."""


@dataclass(frozen=True)
class Notifier:
    """The use case over its ports; built once per execution environment (functions/notifier)."""

    jobs: Jobs
    tenants: Tenants
    #: DNS for the callback URL's host (transcriber/adapters/resolver.py)
    resolve: Resolver
    #: the POST (transcriber/adapters/webhook_sender.py's post_webhook)
    send: Sender
    #: local runtime only (never in AWS): http://localhost callback URLs allowed
    local_mode: bool = False

    def handle(self, message: QueuedEvent, postpone: Callable[[int], None]) -> str:
        """Deliver one queued event; on a retryable failure postpone it by the backoff and raise
        (the batch reports it failed). Returns what happened otherwise."""
        if message.remaining_ms is not None and message.remaining_ms < TIME_PER_DELIVERY_MS:
            postpone(0)  # another invocation takes it at once
            raise OutOfTimeError("not enough time left in this invocation; handed back to the queue")
        try:
            event = JobEvent.model_validate_json(message.body)
        except ValidationError:
            logger.error(
                "Message is not an EventBridge event; dropped", extra={"message_id": message.message_id}
            )
            return REJECTED
        try:
            # The EventBridge event id stays the same when SQS or EventBridge delivers an event
            # again: receivers deduplicate on it.
            return self.notify(event, delivery_id=event.id or message.message_id)
        except RetryableError as err:
            delay = retry_delay_s(message.receive_count)
            logger.warning(
                "Webhook delivery failed; will retry",
                extra={"error": err.message, "attempt": message.receive_count, "retry_in_s": delay},
            )
            metrics.add_metric(name="WebhookRetries", unit=MetricUnit.Count, value=1)
            postpone(delay)
            raise
        finally:
            logger.remove_keys(["job_id", "delivery_id"])

    @tracer.capture_method
    def notify(self, event: JobEvent, *, delivery_id: str) -> str:
        """Deliver one job event to its job's callback URL; returns what happened.

        Raises :class:`RetryableError` when trying again later can help; permanent failures are
        logged and counted here and return :data:`REJECTED`.
        """
        job_id = event.detail.get("job_id") if isinstance(event.detail, dict) else None
        if event.detail_type not in WEBHOOK_EVENT_TYPES or not job_id:
            logger.warning("Not a job outcome event; ignored", extra={"detail_type": event.detail_type})
            return NOTHING_TO_SEND
        logger.append_keys(job_id=job_id, delivery_id=delivery_id)
        job = self.jobs.get(str(job_id))
        url = str(job.get("callback_url") or "") if job else ""
        if job is None or not url:
            return NOTHING_TO_SEND
        try:
            delivered = self._post(event, job, url, delivery_id)
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
            extra={
                "status": delivered.status,
                "elapsed_ms": delivered.elapsed_ms,
                "detail_type": event.detail_type,
            },
        )
        metrics.add_metric(name="WebhooksDelivered", unit=MetricUnit.Count, value=1)
        return DELIVERED

    def _post(self, event: JobEvent, job: dict[str, Any], url: str, delivery_id: str) -> Delivered:
        """Check the URL again, sign the body with the tenant's secret and POST it."""
        tenant_id = str(job.get("tenant_id") or DEFAULT_TENANT)
        tenant = self.tenants.tenant(tenant_id)
        if tenant is None or not tenant.webhook_secret:
            raise PermanentError(f"tenant {tenant_id!r} has no webhook secret", reason_code="NO_SECRET")
        try:
            addresses = check_callback_url(url, local_mode=self.local_mode, resolve=self.resolve)
        except CallbackHostNotFoundError as err:  # it resolved at creation: likely transient
            raise WebhookRetryableError(err.message) from None
        raw_event = event.model_dump(mode="json", by_alias=True)
        body = json.dumps(payload_for(raw_event, job), separators=(",", ":"), default=str).encode()
        headers = {
            SIGNATURE_HEADER: sign(tenant.webhook_secret, int(time.time()), body),
            EVENT_HEADER: event.detail_type,
            DELIVERY_HEADER: delivery_id,
        }
        return self.send(url, addresses, body, headers, local_mode=self.local_mode)
