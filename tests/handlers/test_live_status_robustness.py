"""Live status under failure and abuse, against moto: the pusher handler posts to every subscriber
whatever the others answer (API Gateway's management API played by botocore's Stubber), the
routes handler keeps a connection within its tenant's request limit and its subscription cap, and
a connection whose key is revoked gets no more pushes and is closed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

from tests.handlers.conftest import Aws, FakeContext, sqs_lambda_event

# The handlers read their environment at import.
os.environ.setdefault("CONNECTIONS_TABLE", "connections")
os.environ.setdefault("WEBSOCKET_MANAGEMENT_URL", "https://abc123.execute-api.us-east-1.amazonaws.com/live")

from functions.live import handler as routes
from functions.pusher import handler as pusher
from transcriber.adapters.connections_table import (
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
    TENANT_INDEX,
    ConnectionRepository,
)
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.live_push import ConnectionPoster, PushRefusedError
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.api.env import LiveStatusEnv
from transcriber.domain.errors import RetryableError
from transcriber.domain.tenants import hash_api_key
from transcriber.stages.live_status import LiveStatus

MANAGEMENT_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/live"
JOB, OTHER_JOB = "a" * 32, "b" * 32
#: what the management API answers, by status and error code (its documented errors)
GONE = (410, "GoneException")
FORBIDDEN = (403, "ForbiddenException")
TOO_LARGE = (413, "PayloadTooLargeException")
THROTTLED = (429, "LimitExceededException")


@dataclass
class Live:
    aws: Aws
    connections: Any
    tenants: TenantRepository
    queue_url: str
    queue_arn: str

    def connect(self, connection_id: str, key: str) -> dict[str, Any]:
        return self.route("$connect", connection_id, queryStringParameters={"key": key})

    def subscribe(self, connection_id: str, job_id: str | None = None) -> dict[str, Any]:
        body = json.dumps({"action": "subscribe", **({"job_id": job_id} if job_id else {})})
        return self.route("subscribe", connection_id, body=body)

    def route(self, route: str, connection_id: str, **extra: Any) -> dict[str, Any]:
        event = {"requestContext": {"routeKey": route, "connectionId": connection_id}, **extra}
        return routes.handler(event, FakeContext())  # type: ignore[arg-type]

    def topics(self, connection_id: str) -> set[str]:
        items = self.connections.query(
            KeyConditionExpression="connection_id = :c", ExpressionAttributeValues={":c": connection_id}
        )["Items"]
        return {str(i["topic"]) for i in items}

    def job_events(self, *job_ids: str) -> dict[str, Any]:
        """The pusher's SQS event: one EventBridge job event per job, as the rule delivers it."""
        for job_id in job_ids:
            body = {"source": "audio.transcriber", "detail-type": "Job Updated", "detail": {"job_id": job_id}}
            self.aws.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
        return sqs_lambda_event(self.aws.sqs, self.queue_url, self.queue_arn)


@pytest.fixture
def live(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    """The connections table (as infra/constructs/live_status.py has it; the tenants table is the
    aws fixture's), both handlers wired against this moto context, and the pusher's queue."""
    ddb = boto3.resource("dynamodb")
    connections = ddb.create_table(
        TableName="connections",
        KeySchema=[
            {"AttributeName": "connection_id", "KeyType": "HASH"},
            {"AttributeName": "topic", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("connection_id", "topic", "tenant_id")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": TENANT_INDEX,
                "KeySchema": [
                    {"AttributeName": "tenant_id", "KeyType": "HASH"},
                    {"AttributeName": "topic", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setattr(routes, "live", routes.wire(LiveStatusEnv.from_env()))
    queue_url = aws.sqs.create_queue(QueueName="live-status")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for job_id, tenant_id in ((JOB, "acme"), (OTHER_JOB, "globex")):
        aws.table.put_item(Item={"job_id": job_id, "tenant_id": tenant_id, "status": "PROCESSING"})
    yield Live(aws, connections, TenantRepository("tenants"), queue_url, queue_arn)


def management_api(answers: dict[str, tuple[int, str] | None]) -> tuple[ConnectionPoster, Stubber]:
    """A poster whose management API answers each connection (in sorted order, as the stage
    posts) with success (None) or the given error."""
    client = boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_URL)
    stub = Stubber(client)
    for connection_id, answer in sorted(answers.items()):
        expected = {"ConnectionId": connection_id, "Data": ANY}
        if answer is None:
            stub.add_response("post_to_connection", {}, expected)
        else:
            stub.add_client_error(
                "post_to_connection",
                service_error_code=answer[1],
                http_status_code=answer[0],
                expected_params=expected,
            )
    stub.activate()
    return ConnectionPoster(MANAGEMENT_URL, client=client), stub


def use_pusher(monkeypatch: pytest.MonkeyPatch, poster: ConnectionPoster) -> None:
    stage = LiveStatus(
        connections=ConnectionRepository("connections"),
        jobs=JobRepository("jobs"),
        tenants=TenantRepository("tenants"),
        push=poster,
    )
    monkeypatch.setattr(pusher, "live", stage)


def subscribe_all(live: Live, tenant_id: str, *connection_ids: str) -> None:
    key, _, _ = live.tenants.create_key(tenant_id, requests_per_minute=100)
    for connection_id in connection_ids:
        assert live.connect(connection_id, key)["statusCode"] == 200
        assert live.subscribe(connection_id)["statusCode"] == 200


def test_a_refusing_or_gone_connection_does_not_keep_the_others_from_their_push(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe_all(live, "acme", "c1", "c2", "c3", "c4", "c5")
    poster, stub = management_api({"c1": FORBIDDEN, "c2": None, "c3": GONE, "c4": TOO_LARGE, "c5": None})
    use_pusher(monkeypatch, poster)

    answer = pusher.handler(live.job_events(JOB), FakeContext())  # type: ignore[arg-type]

    assert answer == {"batchItemFailures": []}  # a refusal is no reason to deliver the event again
    stub.assert_no_pending_responses()  # every subscriber was posted to, c5 after three failures
    assert live.topics("c3") == set()  # gone: forgotten
    assert live.topics("c1") == live.topics("c4") == {"connection", "tenant"}  # refused: kept


def test_a_throttled_connection_fails_only_its_record_after_the_others_got_theirs(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe_all(live, "acme", "a1", "a2", "a3", "a4")
    subscribe_all(live, "globex", "g1")
    poster, stub = management_api(
        {"a1": THROTTLED, "a2": None, "a3": (500, "InternalServerError"), "a4": GONE, "g1": None}
    )
    use_pusher(monkeypatch, poster)
    event = live.job_events(JOB, OTHER_JOB)
    acme_record = next(r for r in event["Records"] if JOB in r["body"])

    answer = pusher.handler(event, FakeContext())  # type: ignore[arg-type]

    # The acme event comes back (SQS redelivers it); globex's is done.
    assert answer == {"batchItemFailures": [{"itemIdentifier": acme_record["messageId"]}]}
    stub.assert_no_pending_responses()  # a2, a4 and g1 were still posted to
    assert live.topics("a4") == set() and live.topics("a1") == {"connection", "tenant"}


def test_the_poster_classifies_network_faults_as_retryable_and_refusals_as_permanent() -> None:
    unreachable = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    with pytest.raises(RetryableError):
        ConnectionPoster(MANAGEMENT_URL, client=unreachable)("c1", b"{}")
    poster, _ = management_api({"c1": TOO_LARGE})
    with pytest.raises(PushRefusedError):
        poster("c1", b"{}")


def test_subscribes_count_against_the_tenants_request_limit(live: Live) -> None:
    key, _, _ = live.tenants.create_key("acme", requests_per_minute=3)
    assert live.connect("c1", key)["statusCode"] == 200  # 1 of 3
    assert live.subscribe("c1", JOB)["statusCode"] == 200  # 2
    assert live.subscribe("c1")["statusCode"] == 200  # 3

    refused = live.subscribe("c1", JOB)

    assert refused["statusCode"] == 429
    assert json.loads(refused["body"])["error"] == "RATE_LIMITED"


def test_a_connection_holds_a_capped_number_of_job_subscriptions(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert MAX_SUBSCRIPTIONS_PER_CONNECTION == 100
    cap = 3
    stage = routes.live
    monkeypatch.setattr(
        routes,
        "live",
        LiveStatus(
            ConnectionRepository("connections", max_subscriptions=cap), stage.jobs, stage.tenants, stage.push
        ),
    )
    jobs = [f"{n:032x}" for n in range(1, cap + 2)]
    for job_id in jobs:
        live.aws.table.put_item(Item={"job_id": job_id, "tenant_id": "acme", "status": "PENDING"})
    key, _, _ = live.tenants.create_key("acme", requests_per_minute=100)
    live.connect("c1", key)
    for job_id in jobs[:cap]:
        assert live.subscribe("c1", job_id)["statusCode"] == 200

    refused = live.subscribe("c1", jobs[cap])

    assert refused["statusCode"] == 400
    body = json.loads(refused["body"])
    assert body["error"] == "TOO_MANY_SUBSCRIPTIONS" and "without a job_id" in body["message"]
    assert f"job#{jobs[cap]}" not in live.topics("c1")
    # Renewing a subscription it holds, and the one to every job, are still allowed.
    assert live.subscribe("c1", jobs[0])["statusCode"] == 200
    assert live.subscribe("c1")["statusCode"] == 200


def test_disconnect_removes_every_item_of_the_connection_past_the_first_page(live: Live) -> None:
    """DynamoDB answers a query with at most 1 MB of items; moto too."""
    padding = "x" * 300_000
    live.connections.put_item(Item={"connection_id": "c1", "topic": "connection", "tenant_id": "acme"})
    for n in range(5):  # 1.5 MB: two pages
        live.connections.put_item(
            Item={"connection_id": "c1", "topic": f"job#{n:032x}", "tenant_id": "acme", "pad": padding}
        )
    live.connections.put_item(Item={"connection_id": "c2", "topic": "connection", "tenant_id": "acme"})

    assert live.route("$disconnect", "c1")["statusCode"] == 200

    assert live.topics("c1") == set() and live.topics("c2") == {"connection"}


# A revoked key stops the pushes ---------------------------------------------------------------


class CountingTenants(TenantRepository):
    """The tenants table, counting the revocation reads the pusher makes."""

    def __init__(self, table_name: str) -> None:
        super().__init__(table_name)
        self.revocation_reads: list[tuple[str, str]] = []

    def key_revoked(self, tenant_id: str, key_id: str) -> bool:
        self.revocation_reads.append((tenant_id, key_id))
        return super().key_revoked(tenant_id, key_id)


def management_calls(
    calls: list[tuple[str, str, tuple[int, str] | None]],
) -> tuple[ConnectionPoster, Stubber]:
    """A poster whose management API expects these calls in this order: (operation, connection,
    None for success or the error's (status, code))."""
    client = boto3.client("apigatewaymanagementapi", endpoint_url=MANAGEMENT_URL)
    stub = Stubber(client)
    for operation, connection_id, answer in calls:
        expected = {
            "ConnectionId": connection_id,
            **({"Data": ANY} if operation == "post_to_connection" else {}),
        }
        if answer is None:
            stub.add_response(operation, {}, expected)
        else:
            stub.add_client_error(
                operation, service_error_code=answer[1], http_status_code=answer[0], expected_params=expected
            )
    stub.activate()
    return ConnectionPoster(MANAGEMENT_URL, client=client), stub


def use_counting_pusher(monkeypatch: pytest.MonkeyPatch, poster: ConnectionPoster) -> CountingTenants:
    tenants = CountingTenants("tenants")
    stage = LiveStatus(ConnectionRepository("connections"), JobRepository("jobs"), tenants, poster)
    monkeypatch.setattr(pusher, "live", stage)
    return tenants


def test_the_connection_record_keeps_the_keys_id_not_the_key_or_its_hash(live: Live) -> None:
    key, record, _ = live.tenants.create_key("acme", requests_per_minute=100)
    assert live.connect("c1", key)["statusCode"] == 200

    item = live.connections.get_item(Key={"connection_id": "c1", "topic": "connection"})["Item"]

    assert item["key_id"] == record.key_id and item["tenant_id"] == "acme"
    assert key not in json.dumps(item, default=str) and hash_api_key(key) not in json.dumps(item, default=str)


def test_after_its_key_is_revoked_a_connection_gets_no_push_and_is_closed(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    revoked_key, revoked, _ = live.tenants.create_key("acme", requests_per_minute=100)
    kept_key, _, _ = live.tenants.create_key("acme", requests_per_minute=100)
    for connection_id, key in (("c1", revoked_key), ("c2", kept_key)):
        assert live.connect(connection_id, key)["statusCode"] == 200
        assert live.subscribe(connection_id)["statusCode"] == 200
    live.tenants.revoke_key(revoked.key_id)  # what `transcriber keys revoke` does
    # c1: closed, never posted to; c2 (another key of the tenant) still gets its view.
    poster, stub = management_calls([("delete_connection", "c1", None), ("post_to_connection", "c2", None)])
    use_counting_pusher(monkeypatch, poster)

    answer = pusher.handler(live.job_events(JOB), FakeContext())  # type: ignore[arg-type]

    assert answer == {"batchItemFailures": []}
    stub.assert_no_pending_responses()
    assert live.topics("c1") == set() and live.topics("c2") == {"connection", "tenant"}
    refused = live.subscribe("c1", JOB)  # its records are gone: unknown from now on
    assert refused["statusCode"] == 403 and json.loads(refused["body"])["error"] == "NOT_CONNECTED"


def test_a_burst_of_events_reads_each_key_once_per_invocation(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribe_all(live, "acme", "a1", "a2")
    live.aws.table.put_item(Item={"job_id": "c" * 32, "tenant_id": "acme", "status": "PENDING"})
    # Three events in the first invocation, one in the second: each posted to a1 then a2.
    poster, stub = management_calls([("post_to_connection", c, None) for _ in range(4) for c in ("a1", "a2")])
    tenants = use_counting_pusher(monkeypatch, poster)

    pusher.handler(live.job_events(JOB, "c" * 32, JOB), FakeContext())  # type: ignore[arg-type]
    assert len(tenants.revocation_reads) == 1  # one key, three events, two connections

    pusher.handler(live.job_events(JOB), FakeContext())  # type: ignore[arg-type]
    assert len(tenants.revocation_reads) == 2  # the next invocation asks again
    stub.assert_no_pending_responses()


def test_a_connection_already_gone_when_closed_is_done_and_one_recorded_without_its_key_is_closed(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, record, _ = live.tenants.create_key("acme", requests_per_minute=100)
    assert live.connect("c1", key)["statusCode"] == 200
    assert live.subscribe("c1")["statusCode"] == 200
    live.tenants.revoke_key(record.key_id)
    # Written before connections kept their key: nothing to check it by.
    for topic in ("connection", "tenant"):
        live.connections.put_item(Item={"connection_id": "old", "topic": topic, "tenant_id": "acme"})
    poster, stub = management_calls([("delete_connection", "c1", GONE), ("delete_connection", "old", None)])
    use_counting_pusher(monkeypatch, poster)

    answer = pusher.handler(live.job_events(JOB), FakeContext())  # type: ignore[arg-type]

    assert answer == {"batchItemFailures": []}
    stub.assert_no_pending_responses()
    assert live.topics("c1") == live.topics("old") == set()


def test_subscribe_is_refused_once_the_connections_key_is_revoked(live: Live) -> None:
    key, record, _ = live.tenants.create_key("acme", requests_per_minute=100)
    assert live.connect("c1", key)["statusCode"] == 200
    assert live.subscribe("c1", JOB)["statusCode"] == 200
    live.tenants.revoke_key(record.key_id)

    refused = live.subscribe("c1", JOB)

    body = json.loads(refused["body"])
    assert refused["statusCode"] == 403 and body["error"] == "UNAUTHORIZED" and "revoked" in body["message"]
    assert live.topics("c1") == {"connection", f"job#{JOB}"}  # nothing new recorded
    # The same key cannot open another connection either (as before).
    assert live.connect("c2", key)["statusCode"] == 401


def test_the_poster_closes_connections_and_treats_a_gone_one_as_closed() -> None:
    poster, stub = management_calls(
        [
            ("delete_connection", "c1", None),
            ("delete_connection", "c2", GONE),
            ("delete_connection", "c3", THROTTLED),
            ("delete_connection", "c4", FORBIDDEN),
        ]
    )
    poster.close("c1")
    poster.close("c2")
    with pytest.raises(RetryableError):
        poster.close("c3")
    with pytest.raises(PushRefusedError):
        poster.close("c4")
    stub.assert_no_pending_responses()
