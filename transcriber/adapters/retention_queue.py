"""The jobs whose retention deadline has passed, through the jobs table's sparse index
(``retention_due``, ``retention_due_at``): only jobs with a pending deletion are in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.dynamo_pages import every_item
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.retention import DUE, RETENTION_INDEX


class RetentionQueue:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)

    @translate_client_errors
    def due_by(self, moment: str) -> Iterator[str]:
        """Ids of the jobs with a deadline at or before ``moment`` (eventually consistent: read
        each again before acting)."""
        for item in every_item(
            self._table.query,
            IndexName=RETENTION_INDEX,
            KeyConditionExpression="retention_due = :due AND retention_due_at <= :moment",
            ExpressionAttributeValues={":due": DUE, ":moment": moment},
        ):
            yield str(item["job_id"])

    @translate_client_errors
    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    @translate_client_errors
    def reschedule(self, job_id: str, fields: dict[str, Any], deadline: str | None) -> None:
        """Record what was deleted and the next deadline (none: the job leaves the index)."""
        values = {**fields, **({"retention_due_at": deadline} if deadline else {})}
        names = {f"#f{i}": name for i, name in enumerate(values)}
        update = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(values))) if values else ""
        if deadline is None:
            update += " REMOVE retention_due, retention_due_at"
        request: dict[str, Any] = {
            "Key": {"job_id": job_id},
            "UpdateExpression": update.strip(),
            "ConditionExpression": "attribute_exists(job_id)",
        }
        if values:
            request["ExpressionAttributeNames"] = names
            request["ExpressionAttributeValues"] = {f":v{i}": v for i, v in enumerate(values.values())}
        try:
            self._table.update_item(**request)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # a job deleted meanwhile has nothing left to reschedule

    @translate_client_errors
    def forget(self, job_id: str) -> None:
        """Delete the job's record (its objects are gone)."""
        self._table.delete_item(Key={"job_id": job_id})
