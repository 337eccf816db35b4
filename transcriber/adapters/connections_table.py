"""The live-status connections table: who is connected, for which tenant, subscribed to what.

One item per (connection, topic): ``topic`` is ``connection`` (the tenant the key proved),
``tenant`` (every job of the tenant) or ``job#<id>``. The ``by-tenant`` index (tenant_id, topic)
finds a job's subscribers with two exact-key queries; ``expires_at`` is the table's TTL, which
clears connections whose ``$disconnect`` never came.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from transcriber.adapters import aws_clients
from transcriber.adapters.dynamo_pages import every_item
from transcriber.adapters.retry import translate_client_errors

TENANT_INDEX = "by-tenant"
CONNECTION_TOPIC = "connection"
TENANT_TOPIC = "tenant"


def job_topic(job_id: str) -> str:
    return f"job#{job_id}"


class ConnectionRepository:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)

    def _put(self, connection_id: str, tenant_id: str, topic: str, expires_at: int) -> None:
        self._table.put_item(
            Item={
                "connection_id": connection_id,
                "topic": topic,
                "tenant_id": tenant_id,
                "expires_at": expires_at,
            }
        )

    @translate_client_errors
    def add(self, connection_id: str, tenant_id: str, *, expires_at: int) -> None:
        self._put(connection_id, tenant_id, CONNECTION_TOPIC, expires_at)

    @translate_client_errors
    def tenant_of(self, connection_id: str) -> str | None:
        item = self._table.get_item(Key={"connection_id": connection_id, "topic": CONNECTION_TOPIC}).get(
            "Item"
        )
        return str(item["tenant_id"]) if item else None

    @translate_client_errors
    def subscribe(self, connection_id: str, tenant_id: str, job_id: str | None, *, expires_at: int) -> None:
        self._put(connection_id, tenant_id, job_topic(job_id) if job_id else TENANT_TOPIC, expires_at)

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
        page = self._table.query(
            KeyConditionExpression=Key("connection_id").eq(connection_id), ProjectionExpression="topic"
        )
        with self._table.batch_writer() as batch:
            for item in page.get("Items", []):
                batch.delete_item(Key={"connection_id": connection_id, "topic": item["topic"]})
