"""The notifier against moto and a real local webhook receiver.

Job events go through moto's EventBridge rule into an SQS queue, as in AWS; the messages are then
handed to the handler the way Lambda's SQS event source does (moto's own event-source mapping
drops partial batch responses, so the test plays Lambda's part).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.handlers.conftest import Aws, FakeContext, sqs_lambda_event
from tests.webhook_receiver import Receiver, serving

os.environ.setdefault("TENANTS_TABLE", "webhook-tenants")  # the handler reads its env at import

from functions.notifier import handler as notifier
from transcriber.adapters import aws_clients
from transcriber.adapters.webhook_queue import queue_url
from transcriber.api.env import NotifierEnv
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_FAILED, EVENT_SOURCE
from transcriber.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    RETRY_BASE_S,
    SIGNATURE_HEADER,
    verify,
)
from transcriber.stages import notify as notify_stage

SECRET = "whsec_" + "5e" * 32
OTHER_SECRET = "whsec_" + "07" * 32
JOB_A = "a" * 32
JOB_B = "b" * 32


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as started:
        yield started


@dataclass
class Webhooks:
    aws: Aws
    queue_url: str
    queue_arn: str
    tenants: Any
    visibility_changes: list[dict[str, Any]]

    def add_job(self, job_id: str, *, tenant_id: str | None = "acme", **fields: Any) -> None:
        item = {"job_id": job_id, "status": "COMPLETED", "created_at": "2026-11-24T12:00:00.000Z", **fields}
        if tenant_id:
            item["tenant_id"] = tenant_id
        self.aws.table.put_item(Item=item)

    def publish(self, job_id: str, detail_type: str = EVENT_JOB_COMPLETED, **detail: Any) -> None:
        status = "COMPLETED" if detail_type == EVENT_JOB_COMPLETED else "FAILED"
        boto3.client("events").put_events(
            Entries=[
                {
                    "EventBusName": "jobs-bus",
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(
                        {
                            "job_id": job_id,
                            "status": status,
                            "occurred_at": "2026-11-24T12:00:01.000Z",
                            **detail,
                        }
                    ),
                }
            ]
        )

    def lambda_event(self) -> dict[str, Any]:
        """What Lambda's SQS event source hands the function: the queue's messages as records."""
        return sqs_lambda_event(self.aws.sqs, self.queue_url, self.queue_arn)


def rewire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the handler's stage and queue again, as its init phase would, from the environment
    as this test set it and against this moto context."""
    stage, queue = notifier.wire(NotifierEnv.from_env())
    monkeypatch.setattr(notifier, "stage", stage)
    monkeypatch.setattr(notifier, "queue", queue)


@pytest.fixture
def webhooks(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhooks]:
    """A tenants table with two tenants, and the rule -> queue the notifier reads from.

    The ``aws`` fixture drops the cached SDK clients before and after, so the notifier's are
    built against this moto context.
    """
    monkeypatch.setenv("TENANTS_TABLE", "webhook-tenants")
    monkeypatch.setenv("TRANSCRIBER_LOCAL_MODE", "1")
    monkeypatch.delenv("QUEUE_URL", raising=False)  # derived from the records' source ARN
    rewire(monkeypatch)
    ddb = boto3.resource("dynamodb")
    tenants = ddb.create_table(
        TableName="webhook-tenants",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for tenant_id, secret in (("acme", SECRET), ("default", OTHER_SECRET)):
        tenants.put_item(
            Item={
                "pk": f"tenant#{tenant_id}",
                "kind": "tenant",
                "tenant_id": tenant_id,
                "webhook_secret": secret,
                "jobs_per_day": 100,
                "requests_per_minute": 60,
                "created_at": "2026-11-24T00:00:00.000Z",
            }
        )
    queue_url = aws.sqs.create_queue(QueueName="webhooks")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events")
    events.put_rule(
        Name="webhooks",
        EventBusName="jobs-bus",
        EventPattern=json.dumps(
            {"source": [EVENT_SOURCE], "detail-type": [EVENT_JOB_COMPLETED, EVENT_JOB_FAILED]}
        ),
    )
    events.put_targets(Rule="webhooks", EventBusName="jobs-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
    changes: list[dict[str, Any]] = []
    aws_clients.client("sqs").meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility", lambda params, **_: changes.append(dict(params))
    )
    yield Webhooks(aws, queue_url, queue_arn, tenants, changes)


def test_a_completed_job_is_posted_signed_to_its_callback_url(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext
) -> None:
    webhooks.add_job(JOB_A, callback_url=receiver.url("/hooks/transcripts?team=1"))
    webhooks.publish(JOB_A, language="en", duration=12.5, segments=3)
    event = webhooks.lambda_event()
    (record,) = event["Records"]
    sent_event = json.loads(record["body"])

    result = notifier.handler(event, context)

    assert result == {"batchItemFailures": []}
    (request,) = receiver.requests
    headers = request["headers"]
    assert request["path"] == "/hooks/transcripts?team=1"
    assert verify(SECRET, headers[SIGNATURE_HEADER], request["body"], now=time.time())
    assert not verify(OTHER_SECRET, headers[SIGNATURE_HEADER], request["body"], now=time.time())
    assert headers[EVENT_HEADER] == EVENT_JOB_COMPLETED
    assert headers[DELIVERY_HEADER] == sent_event["id"]  # the EventBridge event id
    assert headers["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert body["type"] == EVENT_JOB_COMPLETED
    assert body["job_id"] == JOB_A and body["status"] == "COMPLETED"
    assert body["language"] == "en" and body["duration"] == 12.5
    assert body["links"] == {"self": f"/v1/transcriptions/{JOB_A}"}
    assert webhooks.visibility_changes == []


def test_a_failed_job_of_the_default_tenant_is_posted_with_its_reason(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext
) -> None:
    webhooks.add_job(JOB_A, tenant_id=None, status="FAILED", callback_url=receiver.url())
    webhooks.publish(JOB_A, EVENT_JOB_FAILED, reason_code="CORRUPT_AUDIO", message="Not audio.")

    assert notifier.handler(webhooks.lambda_event(), context) == {"batchItemFailures": []}

    (request,) = receiver.requests
    assert verify(OTHER_SECRET, request["headers"][SIGNATURE_HEADER], request["body"], now=time.time())
    body = json.loads(request["body"])
    assert (body["status"], body["reason_code"], body["message"]) == ("FAILED", "CORRUPT_AUDIO", "Not audio.")


def test_no_callback_url_means_no_post(webhooks: Webhooks, receiver: Receiver, context: FakeContext) -> None:
    webhooks.add_job(JOB_A)
    webhooks.publish(JOB_A)
    webhooks.publish("c" * 32)  # a job that no longer exists

    event = webhooks.lambda_event()
    assert len(event["Records"]) == 2
    assert notifier.handler(event, context) == {"batchItemFailures": []}
    assert receiver.requests == []


def test_a_503_fails_only_its_message_and_postpones_it(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext
) -> None:
    receiver.statuses["/down"] = 503
    webhooks.add_job(JOB_A, callback_url=receiver.url("/down"))
    webhooks.add_job(JOB_B, callback_url=receiver.url("/up"))
    webhooks.publish(JOB_A)
    webhooks.publish(JOB_B)
    event = webhooks.lambda_event()
    failing = next(r for r in event["Records"] if json.loads(r["body"])["detail"]["job_id"] == JOB_A)

    result = notifier.handler(event, context)

    assert result == {"batchItemFailures": [{"itemIdentifier": failing["messageId"]}]}
    assert sorted(r["path"] for r in receiver.requests) == ["/down", "/up"]
    # First receive: the backoff's first step, on this very message of this queue.
    assert webhooks.visibility_changes == [
        {
            "QueueUrl": webhooks.queue_url,
            "ReceiptHandle": failing["receiptHandle"],
            "VisibilityTimeout": RETRY_BASE_S,
        }
    ]


def test_a_postponed_message_comes_back_and_is_delivered(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver.statuses["/hook"] = 503
    webhooks.add_job(JOB_A, callback_url=receiver.url())
    webhooks.publish(JOB_A)
    monkeypatch.setattr(notify_stage, "retry_delay_s", lambda attempt: 0)  # visible again at once
    first = webhooks.lambda_event()
    assert notifier.handler(first, context)["batchItemFailures"]

    receiver.statuses["/hook"] = 200
    again = webhooks.lambda_event()
    (record,) = again["Records"]
    assert record["messageId"] == first["Records"][0]["messageId"]
    assert record["attributes"]["ApproximateReceiveCount"] == "2"
    assert notifier.handler(again, context) == {"batchItemFailures": []}
    deliveries = {r["headers"][DELIVERY_HEADER] for r in receiver.requests}
    assert len(receiver.requests) == 2 and len(deliveries) == 1  # the same delivery id both times


def test_a_whole_failed_batch_is_reported_not_raised(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext
) -> None:
    receiver.statuses["/hook"] = 500
    webhooks.add_job(JOB_A, callback_url=receiver.url())
    webhooks.publish(JOB_A)
    event = webhooks.lambda_event()
    result = notifier.handler(event, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


@pytest.mark.parametrize("status", [404, 410, 301])
def test_a_permanent_refusal_is_not_retried(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext, status: int
) -> None:
    receiver.statuses["/hook"] = status
    webhooks.add_job(JOB_A, callback_url=receiver.url())
    webhooks.publish(JOB_A)
    assert notifier.handler(webhooks.lambda_event(), context) == {"batchItemFailures": []}
    assert len(receiver.requests) == 1
    assert webhooks.visibility_changes == []


def test_outside_local_mode_a_loopback_url_is_refused_at_delivery(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSCRIBER_LOCAL_MODE")
    rewire(monkeypatch)
    webhooks.add_job(JOB_A, callback_url=receiver.url())
    webhooks.publish(JOB_A)
    assert notifier.handler(webhooks.lambda_event(), context) == {"batchItemFailures": []}
    assert receiver.requests == []


def test_a_tenant_without_a_secret_gets_no_unsigned_post(
    webhooks: Webhooks, receiver: Receiver, context: FakeContext
) -> None:
    webhooks.add_job(JOB_A, tenant_id="ghost", callback_url=receiver.url())
    webhooks.publish(JOB_A)
    assert notifier.handler(webhooks.lambda_event(), context) == {"batchItemFailures": []}
    assert receiver.requests == []


@dataclass
class ShortContext(FakeContext):
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5_000


def test_messages_are_handed_back_untried_when_the_invocation_runs_out_of_time(
    webhooks: Webhooks, receiver: Receiver
) -> None:
    webhooks.add_job(JOB_A, callback_url=receiver.url())
    webhooks.publish(JOB_A)
    event = webhooks.lambda_event()
    result = notifier.handler(event, ShortContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert receiver.requests == []
    assert [c["VisibilityTimeout"] for c in webhooks.visibility_changes] == [0]


def test_queue_url_is_configured_or_derived() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:webhooks"
    assert queue_url(arn) == "https://sqs.eu-west-1.amazonaws.com/123456789012/webhooks"
    assert queue_url(arn, "https://sqs.eu-west-1.amazonaws.com/123456789012/other").endswith("/other")
