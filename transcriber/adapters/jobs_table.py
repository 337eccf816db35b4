"""The jobs table (DynamoDB): one item per job, keyed by ``job_id``.

State changes are conditional updates so that a late or repeated step cannot move a job out of a
terminal state, and progress is an atomic counter so parallel chunk workers never lose a tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.dynamo_pages import every_item
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.jobs import (
    ANNOUNCEMENT_PENDING,
    CONTENT_INDEX,
    FAILURE_ANNOUNCED,
    TENANT_INDEX,
    JobStatus,
    iso_timestamp,
    utc_now,
)
from transcriber.domain.recovery import STATUS_INDEX

#: How long a deleted job's tombstone stays: far longer than an upload URL (15 min), S3's event
#: redelivery or ingest's idempotency records (a day), so a late upload is still refused.
TOMBSTONE_TTL = timedelta(days=30)


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


#: Bookkeeping of one run that the next run, or the job's completion, makes stale: a chunk's own
#: error, and that the run's failure was announced (a retried job's next failure is announced too).
RUN_SCOPED_FIELDS = ("chunk_error", FAILURE_ANNOUNCED)


def _set_fields(
    fields: dict[str, Any], remove: Sequence[str] = ()
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``SET`` of the given fields and ``updated_at`` (and ``REMOVE`` of ``remove``): the
    expression, its names and values."""
    fields = {**fields, "updated_at": utc_now()}
    names = {f"#f{i}": name for i, name in enumerate(fields)}
    values = {f":v{i}": _to_dynamo(value) for i, value in enumerate(fields.values())}
    assignments = ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
    removed = {f"#r{i}": name for i, name in enumerate(remove)}
    removal = f" REMOVE {', '.join(removed)}" if removed else ""
    return f"SET {assignments}{removal}", {**names, **removed}, values


class JobRepository:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)

    @translate_client_errors
    def create(self, job: dict[str, Any]) -> bool:
        """Insert a new job; False when a job with this id already exists (a repeated event)."""
        now = utc_now()
        item = {"created_at": now, "updated_at": now, **job}
        return _applied(
            self._table.put_item, Item=_to_dynamo(item), ConditionExpression="attribute_not_exists(job_id)"
        )

    @translate_client_errors
    def claim_upload(self, job_id: str, key: str, fields: dict[str, Any]) -> bool:
        """Turn a job the API created (AWAITING_UPLOAD) into the job of the object that arrived.

        Conditional on the job still awaiting exactly this key, so a repeated event, a second
        upload to the same URL or an upload for someone else's job changes nothing (False).
        """
        return self._set_where(
            job_id,
            {k: v for k, v in fields.items() if k != "job_id"},
            "#status = :awaiting AND #key = :key",
            {":awaiting": JobStatus.AWAITING_UPLOAD.value, ":key": key},
        )

    @translate_client_errors
    def for_tenant(
        self,
        tenant_id: str,
        *,
        limit: int,
        status: JobStatus | None = None,
        start_after: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of a tenant's jobs, newest first, and where the next page starts (or None).

        Deleted jobs are left out. With a status filter a page may hold fewer than ``limit`` jobs
        while more follow: callers go on while the returned position is not None.
        """
        request: dict[str, Any] = {
            "IndexName": TENANT_INDEX,
            "KeyConditionExpression": "tenant_id = :tenant",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":tenant": tenant_id, ":deleted": JobStatus.DELETED.value},
            "FilterExpression": "#status <> :deleted",
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if status is not None:
            request["FilterExpression"] = "#status = :status"
            request["ExpressionAttributeValues"] = {":tenant": tenant_id, ":status": status.value}
        if start_after:
            request["ExclusiveStartKey"] = start_after
        resp = self._table.query(**request)
        return [_from_dynamo(item) for item in resp.get("Items", [])], resp.get("LastEvaluatedKey")

    @translate_client_errors
    def mark_deleted(self, job_id: str, now: datetime | None = None) -> bool:
        """Replace the job with a tombstone; False if there is no job.

        The tombstone keeps only what a late event needs to be refused (the id, the tenant that
        owned it, DELETED) and what the tenant index sorts on; no file name, hash, key or output.
        DynamoDB's TTL removes it after :data:`TOMBSTONE_TTL` (``expires_at``, epoch seconds).
        """
        found = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        if not found:
            return False
        moment = now or datetime.now(UTC)
        stamp = iso_timestamp(moment)
        tombstone = {
            "job_id": job_id,
            "status": JobStatus.DELETED.value,
            "created_at": found.get("created_at") or stamp,
            "updated_at": stamp,
            "deleted_at": stamp,
            "expires_at": int((moment + TOMBSTONE_TTL).timestamp()),
        }
        if found.get("tenant_id"):
            tombstone["tenant_id"] = found["tenant_id"]
        return _applied(self._table.put_item, Item=tombstone, ConditionExpression="attribute_exists(job_id)")

    @translate_client_errors
    def with_content(self, sha256: str) -> list[dict[str, Any]]:
        """Every job of the same audio (the content index, all pages), for a deletion's heirs."""
        pages = every_item(
            self._table.query,
            IndexName=CONTENT_INDEX,
            KeyConditionExpression="sha256 = :h",
            ExpressionAttributeValues={":h": sha256},
        )
        return [_from_dynamo(item) for item in pages]

    @translate_client_errors
    def take_over_outputs(self, job_id: str, outputs: dict[str, str]) -> bool:
        """A COMPLETED duplicate now owns copies of its original's outputs: no longer a duplicate."""
        return _applied(
            self._table.update_item,
            Key={"job_id": job_id},
            UpdateExpression="SET outputs = :o, updated_at = :now REMOVE duplicate_of",
            ConditionExpression="#status = :done",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":o": outputs, ":done": JobStatus.COMPLETED.value, ":now": utc_now()},
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

    def _set_where(
        self,
        job_id: str,
        fields: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        remove: Sequence[str] = (),
    ) -> bool:
        """SET ``fields`` (and ``updated_at``) and REMOVE ``remove`` if ``condition`` holds, with its
        ``values``; False if not.

        ``#status`` and ``#key`` in a condition name those attributes (reserved words in DynamoDB)."""
        expression, set_names, set_values = _set_fields(fields, remove)
        names = {name: attr for name, attr in (("#status", "status"), ("#key", "key")) if name in condition}
        return _applied(
            self._table.update_item,
            Key={"job_id": job_id},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={**set_names, **names},
            ExpressionAttributeValues={**set_values, **values},
        )

    def _update_unless_terminal(
        self, job_id: str, fields: dict[str, Any], remove: Sequence[str] = ()
    ) -> bool:
        return self._set_where(
            job_id,
            fields,
            "attribute_exists(job_id) AND NOT #status IN (:done, :failed, :deleted)",
            {
                ":done": JobStatus.COMPLETED.value,
                ":failed": JobStatus.FAILED.value,
                ":deleted": JobStatus.DELETED.value,
            },
            remove,
        )

    @translate_client_errors
    def mark_processing(
        self, job_id: str, *, duration: float, chunks_total: int, extra: Mapping[str, Any] | None = None
    ) -> bool:
        """``extra``: more facts the chunk step learnt (e.g. ``channels``). A run starts clean:
        a chunk error recorded by an earlier run is removed."""
        return self._update_unless_terminal(
            job_id,
            {
                "status": JobStatus.PROCESSING.value,
                "started_at": utc_now(),
                "duration": duration,
                "chunks_total": chunks_total,
                "chunks_done": 0,
                "progress": 0,
                **(extra or {}),
            },
            remove=RUN_SCOPED_FIELDS,
        )

    @translate_client_errors
    def set_warnings(self, job_id: str, warnings: list[str]) -> None:
        """What the chunk step noticed about the audio (a truncated file); aggregate adds its own."""
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET warnings = :w, updated_at = :now",
            ExpressionAttributeValues={":w": warnings, ":now": utc_now()},
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
        counters = _chunk_counters(_from_dynamo(resp["Attributes"]))
        # Parallel workers finish out of order: only ever raise the percentage.
        _applied(
            self._table.update_item,
            Key={"job_id": job_id},
            UpdateExpression="SET progress = :p",
            ConditionExpression="attribute_not_exists(progress) OR progress < :p",
            ExpressionAttributeValues={":p": counters["progress"]},
        )
        return counters

    @translate_client_errors
    def count_chunks_sent_back(self, job_id: str, *, file_chunks: int, sent_back: int) -> dict[str, Any]:
        """Chunks the language vote sends back to be decoded again join the job's work:
        ``chunks_total`` becomes the file's chunks plus them (set, not added, so a retried step
        counts them once) and the percentage steps back to match, so that a progress bar does not
        sit at 100% while they run. The Map that counted the first pass has ended: no worker
        raises the percentage meanwhile. Returns the counters as :meth:`record_chunk_done` does."""
        resp = self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET chunks_total = :total, updated_at = :now",
            ExpressionAttributeValues={":total": file_chunks + sent_back, ":now": utc_now()},
            ReturnValues="ALL_NEW",
        )
        counters = _chunk_counters(_from_dynamo(resp["Attributes"]))
        self._table.update_item(
            Key={"job_id": job_id},
            UpdateExpression="SET progress = :p",
            ExpressionAttributeValues={":p": counters["progress"]},
        )
        return counters

    @translate_client_errors
    def mark_completed(self, job_id: str, fields: dict[str, Any]) -> bool:
        """The job's outputs are written; a chunk error that a retry recovered from goes with it."""
        return self._update_unless_terminal(
            job_id,
            {**fields, "status": JobStatus.COMPLETED.value, "progress": 100, "completed_at": utc_now()},
            remove=RUN_SCOPED_FIELDS,
        )

    @translate_client_errors
    def set_speaker_names(self, job_id: str, speakers: list[dict[str, Any]], outputs: dict[str, str]) -> bool:
        """Record a COMPLETED job's speaker names and its re-rendered outputs (False if not COMPLETED)."""
        fields = {"speakers": speakers, "outputs": outputs}
        return self._set_where(job_id, fields, "#status = :done", {":done": JobStatus.COMPLETED.value})

    @translate_client_errors
    def record_chunk_error(self, job_id: str, error: dict[str, str]) -> bool:
        """A chunk's own failure (``{Error, Cause}``) while the job runs: MarkFailed reads it when
        the Distributed Map fails without naming it (transcriber/stages/chunk_failures.py)."""
        return self._update_unless_terminal(job_id, {"chunk_error": error})

    @translate_client_errors
    def note_announced(self, job_id: str) -> bool:
        """The events ingest sends for a job it recorded went out: clear the record's
        :data:`ANNOUNCEMENT_PENDING` mark (transcriber/stages/ingest.py)."""
        return self._set_where(job_id, {}, "attribute_exists(job_id)", {}, remove=(ANNOUNCEMENT_PENDING,))

    @translate_client_errors
    def note_failure_announced(self, job_id: str) -> bool:
        """JobFailed went out for this FAILED job: a retry or a second report does not repeat it."""
        fields = {FAILURE_ANNOUNCED: True}
        return self._set_where(job_id, fields, "#status = :failed", {":failed": JobStatus.FAILED.value})

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

    @translate_client_errors
    def requeue(
        self, job_id: str, *, expected_status: JobStatus, expected_updated_at: str | None = None
    ) -> int | None:
        """Move a job back to PENDING for a new run and count the attempt; returns the new count.

        Conditional: only while the job is still ``expected_status`` (and, when given, still has
        ``expected_updated_at``), so of two callers that race, one wins and the other gets None.
        The previous run's failure is cleared; ``chunks_done`` and ``progress`` restart when the
        new run's chunk step marks the job PROCESSING. ``queued_at`` is when this run was queued,
        from which the job's duration is measured (not from ``created_at``).
        """
        condition = "attribute_exists(job_id) AND #status = :expected"
        values: dict[str, Any] = {
            ":expected": expected_status.value,
            ":pending": JobStatus.PENDING.value,
            ":one": 1,
            ":now": utc_now(),
        }
        if expected_updated_at is not None:
            condition += " AND updated_at = :seen"
            values[":seen"] = expected_updated_at
        try:
            resp = self._table.update_item(
                Key={"job_id": job_id},
                UpdateExpression=(
                    "SET #status = :pending, updated_at = :now, requeued_at = :now, queued_at = :now "
                    "ADD attempts :one "
                    f"REMOVE reason_code, error_message, failed_at, {', '.join(RUN_SCOPED_FIELDS)}"
                ),
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as err:
            if _is_condition_failure(err):
                return None
            raise
        return int(resp["Attributes"]["attempts"])

    @translate_client_errors
    def not_updated_since(self, status: JobStatus, before: datetime) -> Iterator[str]:
        """Ids of the jobs in ``status`` whose record has not changed since ``before``, oldest first.

        Through the (status, updated_at) index, a page at a time; the index is eventually
        consistent, so callers read each job again before acting on it.
        """
        yield from self._ids_by_status(status, "updated_at < :before", {":before": before})

    @translate_client_errors
    def updated_between(self, status: JobStatus, since: datetime, before: datetime) -> Iterator[str]:
        """Ids of the jobs in ``status`` whose record last changed between ``since`` and ``before``,
        through the (status, updated_at) index (eventually consistent: read each job again)."""
        yield from self._ids_by_status(
            status, "updated_at BETWEEN :since AND :before", {":since": since, ":before": before}
        )

    def _ids_by_status(self, status: JobStatus, when: str, moments: dict[str, datetime]) -> Iterator[str]:
        """The (status, updated_at) index, a page at a time: the ids of ``status``'s jobs whose
        ``updated_at`` meets ``when`` (a key condition on the ``moments`` named in it)."""
        for item in every_item(
            self._table.query,
            IndexName=STATUS_INDEX,
            KeyConditionExpression=f"#status = :status AND {when}",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": status.value,
                **{name: iso_timestamp(moment) for name, moment in moments.items()},
            },
        ):
            yield str(item["job_id"])


def _chunk_counters(item: Mapping[str, Any]) -> dict[str, Any]:
    """A job's chunk counters and percentage (floor), with its source object for events."""
    total = max(int(item.get("chunks_total") or 1), 1)
    done = min(int(item.get("chunks_done") or 0), total)
    return {
        "chunks_done": done,
        "chunks_total": total,
        "progress": int(100 * done / total),
        "bucket": item.get("bucket"),
        "key": item.get("key"),
    }
