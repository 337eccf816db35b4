"""SQS to Lambda event-source mappings delivered apart from the sender, as Lambda's pollers do.

moto invokes a queue's function inside ``SendMessage``: an EventBridge rule's SQS target runs the
consumer (search indexer, webhook notifier, live-status pusher) inside the producer's
``PutEvents`` call. Under load the producer then waits for the consumer's queue: at 1,000 jobs
the aggregate step's PutEvents waited past the SDK's 60 s read timeout, failed, was retried by
the state machine and published its events twice. In AWS the mapping polls on its own.

While installed (opt-in: ``LocalAws(async_queues=True)``), a batch is taken off the queue as
moto does and handed to a thread pool; a failed batch is retried (the queue's
``maxReceiveCount``, default 3) and then sent to the queue's redrive dead-letter queue.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)
#: Seconds between attempts of a failed batch (the visibility timeout's role; short locally).
RETRY_DELAY_S = 1.0


class AsyncQueueDeliveries:
    """Replaces moto's inline SQS-to-Lambda call while installed."""

    def __init__(self, max_workers: int = 8) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sqs-esm")
        self._original: Any = None
        #: moto's own delivery, kept for batches still in flight when the patch is undone
        self._send: Any = None
        self._closed = False
        #: batches retried after a failed attempt, and batches sent to a dead-letter queue
        self.retried = 0
        self.dead_lettered = 0

    def install(self) -> None:
        from moto.awslambda.models import LambdaBackend

        self._original = self._send = LambdaBackend.send_sqs_batch
        self._closed = False
        deliveries = self

        def send_later(backend: Any, function_arn: str, messages: Any, queue_arn: str) -> bool:
            # True: moto deletes the batch from the queue now; this object owns it from here on.
            deliveries._pool.submit(deliveries._deliver, backend, function_arn, list(messages), queue_arn)
            return True

        setattr(LambdaBackend, "send_sqs_batch", send_later)  # noqa: B010 - a patch, undone by uninstall

    def uninstall(self) -> None:
        """Undo the patch; batches still in flight end with the local AWS that holds their queues."""
        from moto.awslambda.models import LambdaBackend

        self._closed = True
        if self._original is not None:
            setattr(LambdaBackend, "send_sqs_batch", self._original)  # noqa: B010
            self._original = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, backend: Any, function_arn: str, messages: list[Any], queue_arn: str) -> None:
        attempts, dead_letter_arn = _redrive(backend, queue_arn)
        for attempt in range(attempts):
            if self._closed:
                return  # the local AWS is shutting down: no function is left to deliver to
            try:
                if self._send(backend, function_arn, messages, queue_arn):
                    return
            except Exception:
                log.exception("local SQS delivery to %s raised", function_arn)
            if attempt + 1 < attempts:
                self.retried += 1
                time.sleep(RETRY_DELAY_S)
        self.dead_lettered += 1
        if not dead_letter_arn:
            log.error("SQS batch for %s lost: its queue has no dead-letter queue", function_arn)
            return
        from moto.sqs.models import sqs_backends

        sqs = sqs_backends[backend.account_id][backend.region_name]
        for message in messages:
            sqs.send_message(dead_letter_arn.rsplit(":", 1)[-1], message.body)


def _redrive(backend: Any, queue_arn: str) -> tuple[int, str | None]:
    """(attempts, dead-letter queue ARN) from the queue's RedrivePolicy; 3 and none without one."""
    from moto.sqs.models import sqs_backends

    try:
        queue = sqs_backends[backend.account_id][backend.region_name].get_queue(queue_arn.rsplit(":", 1)[-1])
        policy = queue.redrive_policy
    except Exception:
        return 3, None
    if isinstance(policy, str):
        policy = json.loads(policy)
    if not policy:
        return 3, None
    return max(1, int(policy.get("maxReceiveCount", 3))), policy.get("deadLetterTargetArn")
