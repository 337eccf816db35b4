"""Retention holds for every job, on moto: a job completed by reusing an earlier transcript expires
like a transcribed one, a transcript being expired is never reused, and one job whose expiry fails
(or a failing sweep) does not keep the others past their deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.ingest import handler as ingest
from functions.sweeper import handler as sweeper
from tests.handlers.conftest import Aws, FakeContext, fails_once, refuse_the_first_event
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.retention_queue import RetentionQueue
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import iso_timestamp, parse_timestamp
from transcriber.domain.retention import UNCONFIRMED_GRACE, Retention
from transcriber.stages import expire
from transcriber.stages.expire import expire_retained


def _ingest(aws: Aws, context: FakeContext, key: str, body: bytes) -> dict[str, Any]:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=body)
    (result,) = ingest.handler(aws.s3_event("uploads", key), context)["jobs"]
    return dict(result)


def _original(aws: Aws, context: FakeContext, audio: bytes, **fields: Any) -> str:
    """A transcribed job of tenant acme, its outputs in the results bucket."""
    job_id = _ingest(aws, context, "tenants/acme/monday.flac", audio)["job_id"]
    output = f"transcripts/{job_id}/transcript.json"
    aws.s3.put_object(Bucket="results", Key=output, Body=b"{}")
    JobRepository("jobs").mark_completed(
        job_id, {"outputs": {"json": f"s3://results/{output}"}, "language": "en", **fields}
    )
    aws.events()
    return str(job_id)


def _expire(now: datetime, store: ObjectStore | None = None) -> dict[str, Any]:
    """The sweeper's expiry, as its handler wires it, at ``now``."""
    return expire_retained(
        queue=RetentionQueue("jobs"), store=store or ObjectStore(), heirs=JobRepository("jobs"),
        events=EventPublisher("jobs-bus"), results_bucket="results", now=now,
    )  # fmt: skip


def _record(aws: Aws, job_id: str) -> dict[str, Any] | None:
    item = aws.table.get_item(Key={"job_id": job_id}).get("Item")
    return dict(item) if item else None


def test_a_duplicate_gets_its_tenants_retention_and_is_expired_like_any_job(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    aws.s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})  # as prod
    audio = sample_flac.read_bytes()
    original = _original(aws, context, audio)  # a plain upload: no retention, kept
    # The API's job for a tenant that keeps no audio once transcribed and transcripts for a day.
    job_id = "d" * 32
    key = f"tenants/acme/jobs/{job_id}/talk.flac"
    JobRepository("jobs").create(
        {"job_id": job_id, "tenant_id": "acme", "status": "AWAITING_UPLOAD", "bucket": "uploads", "key": key,
         "options": {}, **Retention(audio_days=0, transcript_days=1).upload_fields(datetime.now(UTC))}
    )  # fmt: skip
    aws.s3.put_object(Bucket="uploads", Key=key, Body=audio)  # an earlier version of the same upload
    result = _ingest(aws, context, key, audio)
    assert result == {"job_id": job_id, "status": "COMPLETED", "duplicate_of": original}

    job = _record(aws, job_id)
    assert job is not None and job["duplicate_of"] == original
    completed = parse_timestamp(job["completed_at"])
    assert job["transcript_expires_at"] == iso_timestamp(completed + timedelta(days=1))
    assert int(job["expires_at"]) > completed.timestamp() + 86400
    assert (job["retention_due"], job["retention_due_at"]) == ("due", job["transcript_expires_at"])
    assert job["audio_deleted_at"]
    versions = aws.s3.list_object_versions(Bucket="uploads", Prefix=key)  # every version gone
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert [e["detail-type"] for e in aws.events()] == [
        "Transcription Job Created",
        "Transcription Job Completed",
    ]

    # Not due yet; then, a day later, the sweeper's expiry removes it like any job.
    assert _expire(datetime.now(UTC)) == {"audio_deleted": 0, "jobs_deleted": 0}
    assert _expire(completed + timedelta(days=1, minutes=5)) == {"audio_deleted": 0, "jobs_deleted": 1}
    assert _record(aws, job_id) is None
    (deleted,) = aws.events()
    assert deleted["detail-type"] == "Transcription Job Deleted" and deleted["detail"]["job_id"] == job_id
    # The original's outputs, which the duplicate pointed to, are its own: they stay.
    kept = _record(aws, original)
    assert kept is not None and kept["status"] == "COMPLETED"
    assert aws.s3.get_object(Bucket="results", Key=f"transcripts/{original}/transcript.json")


class _StoreWithHook(ObjectStore):
    """The object store, running ``hook`` just before the outputs under ``prefix`` are deleted."""

    def __init__(self, prefix: str, hook: Callable[[], Any]) -> None:
        super().__init__()
        self._prefix, self._hook = prefix, hook

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        if prefix == self._prefix:
            self._hook()
        return super().delete_prefix(bucket, prefix)


def _expired_original(aws: Aws, context: FakeContext, audio: bytes) -> str:
    """A job whose one-day transcript retention ended an hour ago."""
    done = datetime.now(UTC) - timedelta(days=1, hours=1)
    return _original(aws, context, audio, **Retention(transcript_days=1).completion_fields(done))


def _assert_transcribed_afresh(aws: Aws, result: dict[str, Any], original: str) -> None:
    assert result["status"] == "PENDING" and result["started"] is True
    executions = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    assert result["job_id"] in {e["name"] for e in executions}
    assert _record(aws, original) is None
    assert not [j for j in aws.table.scan()["Items"] if j.get("duplicate_of") == original]


def test_an_upload_arriving_while_its_transcript_expires_is_transcribed_afresh(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    audio = sample_flac.read_bytes()
    original = _expired_original(aws, context, audio)
    arrived: list[dict[str, Any]] = []
    # The same audio arrives after the sweeper handed the outputs over, before they are deleted.
    store = _StoreWithHook(
        f"transcripts/{original}/",
        lambda: arrived.append(_ingest(aws, context, "tenants/acme/b.flac", audio)),
    )
    assert _expire(datetime.now(UTC), store) == {"audio_deleted": 0, "jobs_deleted": 1}
    (result,) = arrived
    _assert_transcribed_afresh(aws, result, original)


def test_an_upload_after_a_failed_expiry_is_transcribed_afresh(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The expiry deleted the outputs, then its announcement failed: the job is still COMPLETED
    until the next sweep, and an upload of the same audio meanwhile must not point to nothing."""
    audio = sample_flac.read_bytes()
    original = _expired_original(aws, context, audio)
    with monkeypatch.context() as refusing:
        refusing.setattr(
            EventPublisher, "emit", lambda self, event: (_ for _ in ()).throw(RetryableError("x"))
        )
        with pytest.raises(RetryableError):
            _expire(datetime.now(UTC))
    assert _record(aws, original) is not None
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix=f"transcripts/{original}/")
    result = _ingest(aws, context, "tenants/acme/b.flac", audio)
    assert _expire(datetime.now(UTC)) == {"audio_deleted": 0, "jobs_deleted": 1}  # the next sweep
    _assert_transcribed_afresh(aws, result, original)


def _due_job(aws: Aws, job_id: str, now: datetime) -> None:
    """A completed job whose one-day transcript retention ended two days ago."""
    key = f"tenants/acme/{job_id}.flac"
    aws.s3.put_object(Bucket="uploads", Key=key, Body=b"audio")
    aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.json", Body=b"{}")
    fields = Retention(transcript_days=1).completion_fields(now - timedelta(days=3))
    aws.table.put_item(
        Item={"job_id": job_id, "status": "COMPLETED", "tenant_id": "acme", "bucket": "uploads", "key": key}
        | fields
    )


def test_one_job_whose_deletion_fails_does_not_stop_the_others(aws: Aws) -> None:
    now = datetime.now(UTC)
    for job_id in ("first", "broken", "last"):
        _due_job(aws, job_id, now)

    def refuse() -> None:
        raise RetryableError("S3 throttled")

    expire.metrics.clear_metrics()
    with pytest.raises(RetryableError, match="1 job"):
        _expire(now, _StoreWithHook("transcripts/broken/", refuse))
    assert expire.metrics.metric_set["RetentionExpiryFailed"]["Value"] == [1.0]
    assert _record(aws, "first") is None and _record(aws, "last") is None
    broken = _record(aws, "broken")
    # Still due for the next sweep, and DynamoDB's TTL holds the record while the sweeper retries.
    assert broken is not None and broken["retention_due"] == "due"
    assert int(broken["expires_at"]) >= int((now + UNCONFIRMED_GRACE).timestamp())
    assert aws.s3.get_object(Bucket="results", Key="transcripts/broken/transcript.json")
    deleted = [e["detail"]["job_id"] for e in aws.events() if e["detail-type"] == "Transcription Job Deleted"]
    assert sorted(deleted) == ["first", "last"]

    assert _expire(now) == {"audio_deleted": 0, "jobs_deleted": 1}  # the next sweep
    assert _record(aws, "broken") is None
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix="transcripts/")


def test_retention_is_applied_even_when_the_sweep_fails(
    aws: Aws, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _due_job(aws, "due", datetime.now(UTC))

    def failing_sweep(**_: Any) -> Any:
        raise RuntimeError("Step Functions unreachable")

    monkeypatch.setattr(sweeper, "sweep", failing_sweep)
    with pytest.raises(RuntimeError, match="unreachable"):  # the invocation still fails
        sweeper.handler({}, context)
    assert _record(aws, "due") is None
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix="transcripts/")


# A job completed at ingest (reusing a result) where the tenant keeps no audio once transcribed -----


def test_a_duplicate_whose_save_is_throttled_keeps_its_upload_for_the_retry(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job is recorded before its audio goes: a failed save leaves the upload for Lambda's
    retry, which completes the job (before, the upload was gone and every retry failed)."""
    audio = sample_flac.read_bytes()
    original = _original(aws, context, audio)
    job_id = "e" * 32
    key = f"tenants/acme/jobs/{job_id}/talk.flac"
    JobRepository("jobs").create(
        {"job_id": job_id, "tenant_id": "acme", "status": "AWAITING_UPLOAD", "bucket": "uploads", "key": key,
         "options": {}, **Retention(audio_days=0).upload_fields(datetime.now(UTC))}
    )  # fmt: skip
    monkeypatch.setattr(JobRepository, "claim_upload", fails_once(JobRepository.claim_upload))
    aws.s3.put_object(Bucket="uploads", Key=key, Body=audio)
    event = aws.s3_event("uploads", key)
    with pytest.raises(RetryableError):
        ingest.handler(event, context)
    assert aws.s3.head_object(Bucket="uploads", Key=key)  # still there for the retry
    (result,) = ingest.handler(event, context)["jobs"]  # Lambda's retry
    assert result == {"job_id": job_id, "status": "COMPLETED", "duplicate_of": original}
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="uploads", Prefix=key)
    assert [e["detail-type"] for e in aws.events()] == [
        "Transcription Job Created",
        "Transcription Job Completed",
    ]


def test_a_retry_that_finds_the_duplicate_recorded_and_its_upload_gone_finishes_it(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dropped file: the first try recorded the job and deleted the audio, then EventBridge
    refused its events. The retry reads nothing (there is nothing left to read) and announces it."""
    TenantRepository("tenants").ensure_tenant("acme", retention=Retention(audio_days=0))
    audio = sample_flac.read_bytes()
    original = _original(aws, context, audio)
    key = "tenants/acme/inbox/tuesday.flac"
    aws.s3.put_object(Bucket="uploads", Key=key, Body=audio)
    event = aws.s3_event("uploads", key)
    refuse_the_first_event(monkeypatch)
    with pytest.raises(RetryableError):
        ingest.handler(event, context)
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="uploads", Prefix=key)
    (result,) = ingest.handler(event, context)["jobs"]  # Lambda's retry
    assert result == {"job_id": result["job_id"], "status": "COMPLETED", "duplicate_of": original}
    job = _record(aws, result["job_id"])
    assert job is not None and job["status"] == "COMPLETED" and "announcement_pending" not in job
    assert [e["detail-type"] for e in aws.events()] == [
        "Transcription Job Created",
        "Transcription Job Completed",
    ]
