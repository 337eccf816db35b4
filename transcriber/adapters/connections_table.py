"""The live-status connections table: who is connected, for which tenant, subscribed to what.

One item per (connection, topic): ``topic`` is ``connection`` (the tenant the key proved, and
the key's public ``key_id``, never the key or its hash), ``tenant`` (every job of the tenant) or
``job#<id>``. The ``by-tenant`` index (tenant_id, topic) finds a job's subscribers with two
exact-key queries; ``expires_at`` is the table's TTL, which clears connections whose
``$disconnect`` never came.

A connection holds at most ``MAX_SUBSCRIPTIONS_PER_CONNECTION`` job topics: each is an item that
its ``$disconnect`` deletes, and the subscription to every job of the tenant covers them all.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from transcriber.adapters import aws_clients
from transcriber.adapters.dynamo_pages import every_item
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.tenants import TooManySubscriptionsError

TENANT_INDEX = "by-tenant"
CONNECTION_TOPIC = "connection"
TENANT_TOPIC = "tenant"
#: Job subscriptions one connection may hold; past it, the subscription to every job of the tenant
#: (always allowed, one item) is the way.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 100


def job_topic(job_id: str) -> str:
    return f"job#{job_id}"


class ConnectionRepository:
    def __init__(
        self,
        table_name: str,
        resource: Any | None = None,
        *,
        max_subscriptions: int = MAX_SUBSCRIPTIONS_PER_CONNECTION,
    ) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)
        self._max_subscriptions = max_subscriptions

    def _put(self, connection_id: str, tenant_id: str, topic: str, expires_at: int, **extra: str) -> None:
        self._table.put_item(
            Item={
                "connection_id": connection_id,
                "topic": topic,
                "tenant_id": tenant_id,
                "expires_at": expires_at,
                **extra,
            }
        )

    @translate_client_errors
    def add(self, connection_id: str, tenant_id: str, *, expires_at: int, key_id: str) -> None:
        """Record the connection, its tenant and the public id of the API key that opened it."""
        self._put(connection_id, tenant_id, CONNECTION_TOPIC, expires_at, key_id=key_id)

    @translate_client_errors
    def connection(self, connection_id: str) -> dict[str, Any] | None:
        """The connection's own item (``tenant_id``, and ``key_id`` if recorded since connections
        keep it), or None for a connection that is not (or no longer) here."""
        item = self._table.get_item(Key={"connection_id": connection_id, "topic": CONNECTION_TOPIC}).get(
            "Item"
        )
        return dict(item) if item else None

    @translate_client_errors
    def subscribe(self, connection_id: str, tenant_id: str, job_id: str | None, *, expires_at: int) -> None:
        """Record (or renew) a subscription; TooManySubscriptionsError for a new job subscription
        past the cap (the one to every job of the tenant is always allowed: it replaces them all).

        A check, not a transaction: subscribes of one connection that run at once may pass it
        together; each is counted against the tenant's request limit, which bounds the excess."""
        topic = job_topic(job_id) if job_id else TENANT_TOPIC
        if topic != TENANT_TOPIC:
            held = self._job_topics(connection_id)
            if topic not in held and len(held) >= self._max_subscriptions:
                raise TooManySubscriptionsError(
                    f"This connection already follows {self._max_subscriptions} transcriptions, the "
                    'most it may: send {"action": "subscribe"} without a job_id to follow every one '
                    "of your transcriptions, or open another connection."
                )
        self._put(connection_id, tenant_id, topic, expires_at)

    def _job_topics(self, connection_id: str) -> set[str]:
        """The connection's job subscriptions, up to one past the cap (enough to compare)."""
        page = self._table.query(
            KeyConditionExpression=Key("connection_id").eq(connection_id),
            ProjectionExpression="topic",
            Limit=self._max_subscriptions + 3,  # its connection and tenant items, the cap, one more
        )
        return {str(item["topic"]) for item in page.get("Items", [])} - {CONNECTION_TOPIC, TENANT_TOPIC}

    @translate_client_errors
    def subscribers(self, tenant_id: str, job_id: str) -> set[str]:
        found: set[str] = set()
        for topic in (TENANT_TOPIC, job_topic(job_id)):
            items = every_item(
                self._table.query,
                IndexName=TENANT_INDEX,
                KeyConditionExpression=Key("tenant_id").eq(tenant_id) & Key("topic").eq(topic),
                ProjectionExpression="connection_id",
            )
            found.update(str(item["connection_id"]) for item in items)
        return found

    @translate_client_errors
    def remove(self, connection_id: str) -> None:
        """Delete every item of the connection, page after page (read first, then deleted)."""
        topics = [
            item["topic"]
            for item in every_item(
                self._table.query,
                KeyConditionExpression=Key("connection_id").eq(connection_id),
                ProjectionExpression="topic",
            )
        ]
        with self._table.batch_writer() as batch:
            for topic in topics:
                batch.delete_item(Key={"connection_id": connection_id, "topic": topic})
