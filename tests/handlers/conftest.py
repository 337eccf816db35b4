"""Handlers against moto (in-process): real handler code, real boto3 calls, AWS faked by moto."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.resolver import resolve_host
from transcriber.adapters.storage import ObjectStore
from transcriber.api.service import TranscriptionService
from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import CONTENT_INDEX
from transcriber.domain.recovery import STATUS_INDEX
from transcriber.domain.retention import RETENTION_INDEX
from transcriber.domain.tenants import Tenant

EVENTS = Path(__file__).resolve().parents[1] / "events"

ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_METRICS_NAMESPACE": "AudioTranscriberTests",
    "POWERTOOLS_SERVICE_NAME": "handler-tests",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "JOBS_TABLE": "jobs",
    "IDEMPOTENCY_TABLE": "idempotency",
    "TENANTS_TABLE": "tenants",
    "RESULTS_BUCKET": "results",
    "EVENT_BUS_NAME": "jobs-bus",
    # the handlers check their environment at import; the aws fixture sets moto's real ARN
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline",
    "TRANSCRIBE_ENGINE": "pocketsphinx",
}
os.environ.update(ENV)  # before the handlers are imported: Powertools reads them at import


@dataclass
class FakeContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@dataclass
class Aws:
    s3: Any
    table: Any
    sfn: Any
    sqs: Any
    events_queue: str
    state_machine_arn: str

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            msgs = self.sqs.receive_message(QueueUrl=self.events_queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.events_queue, ReceiptHandle=m["ReceiptHandle"])

    def s3_event(self, bucket: str, key: str) -> dict[str, Any]:
        """The real S3 notification shape (tests/events), for an object that exists."""
        head = self.s3.head_object(Bucket=bucket, Key=key)
        event = copy.deepcopy(json.loads((EVENTS / "s3_object_created.json").read_text()))
        record = event["Records"][0]["s3"]
        record["bucket"]["name"] = bucket
        record["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
        record["object"].update(
            {"key": quote_plus(key), "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}
        )
        return event


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        _clear_client_caches()
        s3 = boto3.client("s3")
        for bucket in ("uploads", "results"):
            s3.create_bucket(Bucket=bucket)
        ddb = boto3.resource("dynamodb")
        table = create_jobs_table(
            ddb,
            "jobs",
            GlobalIndex(CONTENT_INDEX, "sha256", "created_at"),
            GlobalIndex(STATUS_INDEX, "status", "updated_at", "KEYS_ONLY"),
            # as infra/constructs/tables.py: jobs with a pending retention deletion
            GlobalIndex(RETENTION_INDEX, "retention_due", "retention_due_at", "KEYS_ONLY"),
        )
        create_tenants_table(ddb)
        ddb.create_table(
            TableName="idempotency",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        events = boto3.client("events")
        events.create_event_bus(Name="jobs-bus")
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="all", EventBusName="jobs-bus", EventPattern=json.dumps({"source": ["audio.transcriber"]})
        )
        events.put_targets(Rule="all", EventBusName="jobs-bus", Targets=[{"Id": "q", "Arn": queue_arn}])
        sfn = boto3.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="pipeline",
            roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        )["stateMachineArn"]
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        yield Aws(s3=s3, table=table, sfn=sfn, sqs=sqs, events_queue=queue, state_machine_arn=arn)
        _clear_client_caches()


def sqs_lambda_event(sqs: Any, queue_url: str, queue_arn: str) -> dict[str, Any]:
    """What Lambda's SQS event source hands the function: the queue's messages as records."""
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


class GlobalIndex(NamedTuple):
    name: str
    hash_key: str
    range_key: str
    projection: str = "ALL"


def create_tenants_table(dynamodb: Any) -> Any:
    """The tenants table, keyed by ``pk`` as infra/constructs/tables.py has it."""
    return dynamodb.create_table(
        TableName="tenants",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_jobs_table(dynamodb: Any, name: str, *indexes: GlobalIndex) -> Any:
    """A table keyed by job_id with string-keyed global indexes, as infra/constructs/tables.py has."""
    attributes = dict.fromkeys(["job_id", *(key for i in indexes for key in (i.hash_key, i.range_key))])
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in attributes],
        GlobalSecondaryIndexes=[
            {
                "IndexName": i.name,
                "KeySchema": [
                    {"AttributeName": i.hash_key, "KeyType": "HASH"},
                    {"AttributeName": i.range_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": i.projection},
            }
            for i in indexes
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _clear_client_caches() -> None:
    """The adapters cache their boto3 clients per process; each moto context needs fresh ones."""
    from transcriber import wiring

    wiring.forget()


class NoRuns:
    """The API's runs port for tests that start no pipeline: a start would be a bug."""

    def start(self, name: str, payload: dict[str, object]) -> bool:
        raise AssertionError("nothing is started here")

    def status(self, name: str) -> str | None:
        return None

    def stop(self, name: str, *, cause: str) -> bool:
        return False


class NoLimits:
    def count_job(self, tenant: Tenant, now: datetime | None = None) -> None:
        return None

    def give_back_job(self, tenant: Tenant, now: datetime | None = None) -> None:
        return None


def api_service(**ports: Any) -> TranscriptionService:
    """The API's service on the `aws` fixture's tables and buckets; `ports` replace the defaults."""
    defaults: dict[str, Any] = {
        "jobs": JobRepository("jobs"),
        "objects": ObjectStore(),
        "runs": NoRuns(),
        "limits": NoLimits(),
        "input_bucket": "uploads",
        "results_bucket": "results",
        "max_upload_bytes": 500 * 1024 * 1024,
        "resolve": resolve_host,
    }
    return TranscriptionService(**(defaults | ports))


def chunked(response: dict[str, Any]) -> dict[str, Any]:
    """The chunk step's answer with its chunk list read back from the manifest it wrote in S3
    (the state carries only the manifest's location)."""
    manifest = response["manifest"]
    body = boto3.client("s3").get_object(Bucket=manifest["bucket"], Key=manifest["key"])["Body"].read()
    return {**response, "chunks": json.loads(body)}


def fails_once(
    call: Callable[..., Any],
    when: Callable[..., bool] = lambda *args, **kwargs: True,
    message: str = "throttled; try again",
) -> Callable[..., Any]:
    """``call``, except that the first of its calls for which ``when`` holds raises RetryableError
    (S3 or EventBridge throttling that outlasted the SDK's retries); every other call goes through.
    ``when`` gets the call's arguments: ``self`` first when the result replaces a class's method,
    as in ``monkeypatch.setattr(EventPublisher, "emit", fails_once(EventPublisher.emit))``."""
    failed = False

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal failed
        if not failed and when(*args, **kwargs):
            failed = True
            raise RetryableError(message)
        return call(*args, **kwargs)

    return flaky


def refuse_the_first_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """EventBridge refuses the next event a handler sends (a throttle that outlasted the SDK's
    retries); later ones go through."""
    monkeypatch.setattr(
        EventPublisher, "emit", fails_once(EventPublisher.emit, message="EventBridge throttled")
    )
