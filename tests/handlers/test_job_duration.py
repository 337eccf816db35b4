"""On moto: a run's ``queued_at`` is set where it is queued (ingest, and every requeue), and the
aggregate step measures the job's duration from it, not from when the upload URL was issued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.ingest import handler as ingest
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked
from transcriber.adapters.jobs_table import JobRepository
from transcriber.domain.jobs import JobStatus, iso_timestamp, parse_timestamp

THREE_DAYS_AGO = iso_timestamp(datetime.now(UTC) - timedelta(days=3))


def _record(aws: Aws, job_id: str) -> dict[str, Any]:
    return dict(aws.table.get_item(Key={"job_id": job_id})["Item"])


def test_an_api_job_is_queued_when_its_upload_arrives_not_when_it_was_created(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    job_id = "a" * 32
    key = f"tenants/acme/jobs/{job_id}/talk.flac"
    JobRepository("jobs").create(
        {"job_id": job_id, "tenant_id": "acme", "status": "AWAITING_UPLOAD", "bucket": "uploads", "key": key,
         "options": {}, "created_at": THREE_DAYS_AGO}
    )  # fmt: skip
    aws.s3.put_object(Bucket="uploads", Key=key, Body=sample_flac.read_bytes())
    ingest.handler(aws.s3_event("uploads", key), context)
    record = _record(aws, job_id)
    assert record["created_at"] == THREE_DAYS_AGO
    assert parse_timestamp(record["queued_at"]) > datetime.now(UTC) - timedelta(minutes=1)


def test_a_requeue_queues_the_run_again(aws: Aws) -> None:
    job_id = "b" * 32
    aws.table.put_item(
        Item={"job_id": job_id, "status": "FAILED", "bucket": "uploads", "key": "k.flac",
              "created_at": THREE_DAYS_AGO, "queued_at": THREE_DAYS_AGO, "updated_at": THREE_DAYS_AGO}
    )  # fmt: skip
    assert JobRepository("jobs").requeue(job_id, expected_status=JobStatus.FAILED) == 1
    assert parse_timestamp(_record(aws, job_id)["queued_at"]) > datetime.now(UTC) - timedelta(minutes=1)


def test_the_jobs_duration_counts_from_its_run_not_from_its_creation(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "30")
    aws.s3.put_object(Bucket="uploads", Key="a.flac", Body=sample_flac.read_bytes())
    job = {"job_id": "job1", "bucket": "uploads", "key": "a.flac"}
    queued = iso_timestamp(datetime.now(UTC))
    aws.table.put_item(Item={**job, "status": "PENDING", "created_at": THREE_DAYS_AGO, "queued_at": queued})
    prepared = chunked(chunk.handler(job, context))
    for ref in prepared["chunks"]:
        transcribe.handler({"job_id": "job1", "chunk": ref}, context)
    aggregate.handler({**job, "duration": prepared["duration"], "manifest": prepared["manifest"]}, context)
    completed = _record(aws, "job1")
    assert completed["status"] == "COMPLETED"
    assert 0 <= float(completed["processing_time_s"]) < 600  # minutes at most, not three days
