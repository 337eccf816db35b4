"""The sweeper's side of retention (transcriber/stages/expire.py) on moto: audio past its deadline
is deleted, a transcript past its deadline takes the job's data and record with it, and jobs
without a deadline are never touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from tests.handlers.conftest import Aws, GlobalIndex, create_jobs_table
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.retention_queue import RetentionQueue
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.jobs import CONTENT_INDEX, iso_timestamp
from transcriber.domain.retention import RETENTION_INDEX, Retention
from transcriber.stages.expire import expire_retained

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _table() -> Any:
    return create_jobs_table(
        boto3.resource("dynamodb"),
        "jobs-with-retention",
        GlobalIndex(RETENTION_INDEX, "retention_due", "retention_due_at", "KEYS_ONLY"),
        GlobalIndex(CONTENT_INDEX, "sha256", "created_at"),
    )


def _job(aws: Aws, table: Any, job_id: str, **fields: Any) -> None:
    key = f"tenants/acme/{job_id}.flac"
    aws.s3.put_object(Bucket="uploads", Key=key, Body=b"audio")
    aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.json", Body=b"{}")
    # A converted WAV left behind (a job that stopped before its aggregate step deleted it).
    aws.s3.put_object(Bucket="results", Key=f"work/{job_id}/audio.wav", Body=b"RIFF")
    table.put_item(Item={"job_id": job_id, "status": "COMPLETED", "bucket": "uploads", "key": key, **fields})


def test_deadlines_delete_audio_then_everything(aws: Aws) -> None:
    aws.s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})  # as prod
    table = _table()
    uploaded = NOW - timedelta(days=3)
    # Audio kept 2 days, transcripts 30: the audio is due, the transcript is not.
    created = Retention(2, 30).upload_fields(uploaded)
    _job(aws, table, "audio-due", **{**created, **Retention(2, 30).completion_fields(uploaded, created)})
    # Transcripts kept 1 day, completed 3 days ago: everything goes.
    _job(aws, table, "all-due", tenant_id="acme", **Retention(None, 1).completion_fields(uploaded))
    _job(aws, table, "kept", **Retention().upload_fields(uploaded))
    queue = RetentionQueue("jobs-with-retention")
    bus = EventPublisher("jobs-bus")
    report = expire_retained(
        queue=queue, store=ObjectStore(), heirs=JobRepository("jobs-with-retention"), events=bus,
        results_bucket="results", now=NOW,
    )  # fmt: skip
    assert report == {"audio_deleted": 1, "jobs_deleted": 1}

    audio = {o["Key"] for o in aws.s3.list_objects_v2(Bucket="uploads").get("Contents", [])}
    assert audio == {"tenants/acme/kept.flac"}
    versions = aws.s3.list_object_versions(Bucket="uploads")  # no earlier version behind a marker
    assert {v["Key"] for v in versions.get("Versions", [])} == {"tenants/acme/kept.flac"}
    assert not versions.get("DeleteMarkers")
    results = {o["Key"] for o in aws.s3.list_objects_v2(Bucket="results").get("Contents", [])}
    assert results == {
        "transcripts/audio-due/transcript.json",
        "transcripts/kept/transcript.json",
        "work/kept/audio.wav",
    }
    assert "Item" not in table.get_item(Key={"job_id": "all-due"})
    rescheduled = table.get_item(Key={"job_id": "audio-due"})["Item"]
    assert rescheduled["audio_deleted_at"] == iso_timestamp(NOW)
    assert rescheduled["retention_due_at"] == rescheduled["transcript_expires_at"]  # next: the transcript
    # A second sweep finds nothing new to do.
    again = expire_retained(
        queue=queue, store=ObjectStore(), heirs=JobRepository("jobs-with-retention"), events=bus,
        results_bucket="results", now=NOW,
    )  # fmt: skip
    assert again == {"audio_deleted": 0, "jobs_deleted": 0}
    # The job whose retention ended is announced deleted, once: the search index drops its text.
    deleted = [e["detail"] for e in aws.events() if e["detail-type"] == "Transcription Job Deleted"]
    assert [(d["job_id"], d["tenant_id"]) for d in deleted] == [("all-due", "acme")]


def test_a_duplicate_keeps_its_transcript_when_its_original_expires(aws: Aws) -> None:
    """A job completed as a duplicate points to its original's outputs: when the original's
    retention ends, the duplicate gets its own copy first, as on a DELETE."""
    table = _table()
    completed = NOW - timedelta(days=3)
    content = {"sha256": "ab" * 32, "tenant_id": "acme", "created_at": iso_timestamp(completed)}
    outputs = {"json": "s3://results/transcripts/original/transcript.json"}
    _job(
        aws, table, "original", **content, outputs=outputs, **Retention(None, 1).completion_fields(completed)
    )
    _job(aws, table, "duplicate", **content, outputs=outputs, duplicate_of="original")
    bus = EventPublisher("jobs-bus")
    report = expire_retained(
        queue=RetentionQueue("jobs-with-retention"), store=ObjectStore(),
        heirs=JobRepository("jobs-with-retention"), events=bus, results_bucket="results", now=NOW,
    )  # fmt: skip
    assert report == {"audio_deleted": 0, "jobs_deleted": 1}
    heir = table.get_item(Key={"job_id": "duplicate"})["Item"]
    assert heir["outputs"] == {"json": "s3://results/transcripts/duplicate/transcript.json"}
    assert "duplicate_of" not in heir
    assert aws.s3.get_object(Bucket="results", Key="transcripts/duplicate/transcript.json")["Body"].read()
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix="transcripts/original/")
