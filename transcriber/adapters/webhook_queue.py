"""The notifier's SQS queue: handing a message back to be delivered again after a delay."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from transcriber.adapters import aws_clients

logger = Logger()


def queue_url(event_source_arn: str, configured: str | None = None) -> str:
    """The queue's URL: ``configured`` (``QUEUE_URL``) when set, else derived from a record's
    source ARN (the event source mapping gives the ARN, SQS's API wants the URL)."""
    if configured:
        return configured
    _, partition, _, region, account, name = event_source_arn.split(":", 5)
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return f"https://sqs.{region}.{domain}/{account}/{name}"


class WebhookQueue:
    """Postpones messages by setting their visibility timeout (SQS hands them out again then)."""

    def __init__(self, configured_url: str | None = None, client: Any = None) -> None:
        self._configured_url = configured_url
        self._client = client or aws_clients.client("sqs")

    def postpone(self, event_source_arn: str, receipt_handle: str, delay_s: int) -> None:
        """Let SQS hand the message out again in ``delay_s`` seconds. A failure is only logged:
        the message then comes back after the queue's own visibility timeout."""
        try:
            self._client.change_message_visibility(
                QueueUrl=queue_url(event_source_arn, self._configured_url),
                ReceiptHandle=receipt_handle,
                VisibilityTimeout=delay_s,
            )
        except (ClientError, BotoCoreError) as err:
            logger.warning("Could not postpone the message", extra={"error": str(err)})
