"""The jobs table (DynamoDB): one item per job, keyed by ``job_id``.

State changes are conditional updates so that a late or repeated step cannot move a job out of a
terminal state, and progress is an atomic counter so parallel chunk workers never lose a tick.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.jobs import CONTENT_INDEX, JobStatus


def iso_timestamp(moment: datetime) -> str:
    """The one timestamp format of job records: sortable as text, so ranges can be queried."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return iso_timestamp(datetime.now(UTC))


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb")


def _is_condition_failure(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _applied(write: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write; False (not an error) when its condition did not hold."""
    try:
        write(**request)
    except ClientError as err:
        if _is_condition_failure(err):
            return False
        raise
    return True


class JobRepository:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or _dynamodb()).Table(table_name)

    @translate_client_errors
    def create(self, job: dict[str, Any]) -> bool:
        """Insert a new job; False when a job with this id already exists (a repeated event)."""
        now = utc_now()
        item = {"created_at": now, "updated_at": now, **job}
        return _applied(
            self._table.put_item, Item=_to_dynamo(item), ConditionExpression="attribute_not_exists(job_id)"
        )

    @translate_client_errors
    def recent_with_content(self, sha256: str, since: str) -> list[dict[str, Any]]:
        """Jobs of the same audio created at or after ``since`` (ISO 8601), newest first."""
        resp = self._table.query(
            IndexName=CONTENT_INDEX,
            KeyConditionExpression="sha256 = :h AND created_at >= :since",
            ExpressionAttributeValues={":h": sha256, ":since": since},
            ScanIndexForward=False,
            Limit=25,
        )
        return [_from_dynamo(item) for item in resp.get("Items", [])]

    @translate_client_errors
    def get(self, job_id: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return _from_dynamo(item) if item else None

    def _update_unless_terminal(self, job_id: str, fields: dict[str, Any]) -> bool:
        fields = {**fields, "updated_at": utc_now()}
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(fields.values())}
        assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        return _applied(
            self._table.update_item,
            Key={"job_id": job_id},
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="attribute_exists(job_id) AND NOT #status IN (:done, :failed)",
            ExpressionAttributeNames={**names, "#status": "status"},
            ExpressionAttributeValues={
                **values,
                ":done": JobStatus.COMPLETED.value,
                ":failed": JobStatus.FAILED.value,
            },
        )

    @translate_client_errors
    def mark_processing(self, job_id: str, *, duration: float, chunks_total: int) -> bool:
        return self._update_unless_terminal(
            job_id,
            {
                "status": JobStatus.PROCESSING.value,
                "started_at": utc_now(),
                "duration": duration,
                "chunks_total": chunks_total,
                "chunks_done": 0,
                "progress": 0,
            },
        )

    @translate_client_errors
    def record_chunk_done(self, job_id: str) -> dict[str, Any]:
        """Count one finished chunk and refresh the percentage.

        Returns the new counters and the job's source object (read in the same write, so a
        progress event needs no second read).
        """
        resp = self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="ADD chunks_done :one SET updated_at = :now",
            ExpressionAttributeValues={":one": 1, ":now": utc_now()},
            ReturnValues="ALL_NEW",
        )
        item = _from_dynamo(resp["Attributes"])
        total = max(int(item.get("chunks_total") or 1), 1)
        done = min(int(item.get("chunks_done") or 0), total)
        progress = int(100 * done / total)
        # Parallel workers finish out of order: only ever raise the percentage.
        _applied(
            self._table.update_item,
            Key={"job_id": job_id},
            UpdateExpression="SET progress = :p",
            ConditionExpression="attribute_not_exists(progress) OR progress < :p",
            ExpressionAttributeValues={":p": progress},
        )
        return {
            "chunks_done": done,
            "chunks_total": total,
            "progress": progress,
            "bucket": item.get("bucket"),
            "key": item.get("key"),
        }

    @translate_client_errors
    def mark_completed(self, job_id: str, fields: dict[str, Any]) -> bool:
        return self._update_unless_terminal(
            job_id,
            {**fields, "status": JobStatus.COMPLETED.value, "progress": 100, "completed_at": utc_now()},
        )

    @translate_client_errors
    def mark_failed(self, job_id: str, *, reason_code: str, message: str) -> bool:
        return self._update_unless_terminal(
            job_id,
            {
                "status": JobStatus.FAILED.value,
                "reason_code": reason_code,
                "error_message": message,
                "failed_at": utc_now(),
            },
        )
