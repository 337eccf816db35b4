"""A tenant's retention enforced by the aggregate stage: with ``audio: after-transcript`` the upload
is gone once the transcript is written, and a transcript retention stamps its expiry (and the
record's DynamoDB TTL) on the completed job."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked
from transcriber.domain.retention import Retention


def _complete(aws: Aws, context: FakeContext, sample_flac: Path, retention: Retention) -> dict:
    aws.s3.put_object(Bucket="uploads", Key="tenants/acme/a.flac", Body=sample_flac.read_bytes())
    job = {"job_id": "job1", "bucket": "uploads", "key": "tenants/acme/a.flac"}
    aws.table.put_item(
        Item={
            **job,
            "status": "PENDING",
            "created_at": "2026-12-04T12:00:00.000Z",
            "retention": retention.to_record(),
        }
    )
    prepared = chunked(chunk.handler(job, context))
    for ref in prepared["chunks"]:
        transcribe.handler({"job_id": "job1", "chunk": ref}, context)
    aggregate.handler({**job, "duration": prepared["duration"], "manifest": prepared["manifest"]}, context)
    return dict(aws.table.get_item(Key={"job_id": "job1"})["Item"])


def test_audio_is_deleted_as_soon_as_the_transcript_exists(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "30")
    aws.s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})  # as prod
    job = _complete(aws, context, sample_flac, Retention(audio_days=0, transcript_days=7))
    assert job["status"] == "COMPLETED" and job["audio_deleted_at"]
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="uploads")
    # Not hidden behind a delete marker: no version of the upload is left.
    versions = aws.s3.list_object_versions(Bucket="uploads")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert aws.s3.get_object(Bucket="results", Key="transcripts/job1/transcript.json")["Body"].read()
    assert job["transcript_expires_at"] > job["completed_at"] and int(job["expires_at"]) > 0


def test_by_default_the_audio_stays(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "30")
    job = _complete(aws, context, sample_flac, Retention())
    assert job["status"] == "COMPLETED" and "audio_deleted_at" not in job and "expires_at" not in job
    assert [o["Key"] for o in aws.s3.list_objects_v2(Bucket="uploads")["Contents"]] == ["tenants/acme/a.flac"]
