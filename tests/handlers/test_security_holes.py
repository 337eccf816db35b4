"""Regression tests for the data holes of issue 20 (1, 2, 3) on moto: the real ingest handler,
the API's service and the stages' guard against writing for a deleted job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.ingest import handler as ingest
from tests.handlers.conftest import Aws, FakeContext, api_service
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.api import problems
from transcriber.api.models import CreateTranscription
from transcriber.api.service import TranscriptionService
from transcriber.domain.tenants import Tenant
from transcriber.stages.deleted import JobDeletedError, refuse_if_deleted
from transcriber.stages.ports import StagePorts

ACME = Tenant(tenant_id="acme", webhook_secret="whsec_x", jobs_per_day=10, requests_per_minute=10)
OTHER = Tenant(tenant_id="other", webhook_secret="whsec_y", jobs_per_day=10, requests_per_minute=10)


def _create(service: TranscriptionService, size: int, tenant: Tenant = ACME) -> dict[str, Any]:
    return service.create(tenant, CreateTranscription(filename="talk.flac", size=size))


def _created_job(size: int) -> tuple[TranscriptionService, dict[str, Any], str]:
    """A job created through the service: the service, its answer and the key its upload URL writes."""
    service = api_service()
    created = _create(service, size)
    job = service.jobs.get(created["job_id"])
    assert job is not None
    return service, created, str(job["key"])


def _put_and_ingest(aws: Aws, context: FakeContext, key: str, body: bytes) -> dict[str, Any]:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=body)
    (result,) = ingest.handler(aws.s3_event("uploads", key), context)["jobs"]
    return dict(result)


def _keys(aws: Aws, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def _executions(aws: Aws) -> list[str]:
    return [e["name"] for e in aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]]


# 1. The upload URL enforces the declared size --------------------------------------------------


def test_the_upload_url_is_sigv4_with_the_length_signed(aws: Aws) -> None:
    created = _create(api_service(), 1000)
    query = parse_qs(urlsplit(created["upload_url"]).query)
    # Real S3 refuses a PUT whose Content-Length differs from a signed one (moto checks no signature).
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "content-length" in query["X-Amz-SignedHeaders"][0].split(";")
    assert "Signature" not in query and "AWSAccessKeyId" not in query


def test_an_upload_of_another_size_than_declared_fails_and_is_deleted(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    service, created, key = _created_job(1000)
    result = _put_and_ingest(aws, context, key, sample_flac.read_bytes())
    assert result["status"] == "FAILED" and result["reason_code"] == "SIZE_MISMATCH"
    failed = service.get(ACME, created["job_id"])
    assert failed["status"] == "FAILED" and failed["reason_code"] == "SIZE_MISMATCH"
    assert "1000" in failed["error_message"]
    assert _keys(aws, "uploads") == [] and _executions(aws) == []


def test_an_upload_of_the_declared_size_still_starts(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    _, created, key = _created_job(sample_flac.stat().st_size)
    result = _put_and_ingest(aws, context, key, sample_flac.read_bytes())
    assert result["status"] == "PENDING"
    assert _executions(aws) == [created["job_id"]]


# 2. DELETE leaves nothing ----------------------------------------------------------------------


def test_an_upload_after_delete_creates_no_job_and_is_removed(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    service, created, key = _created_job(sample_flac.stat().st_size)
    service.delete(ACME, created["job_id"])
    result = _put_and_ingest(aws, context, key, sample_flac.read_bytes())
    assert result["status"] == "DELETED" and not result["started"]
    assert _keys(aws, "uploads") == [] and _executions(aws) == []
    assert aws.table.scan()["Count"] == 1  # only the tombstone: no new job from the stray upload


def test_the_tombstone_keeps_only_what_idempotency_needs_and_expires(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    service, created, key = _created_job(sample_flac.stat().st_size)
    _put_and_ingest(aws, context, key, sample_flac.read_bytes())
    aws.s3.put_object(Bucket="results", Key=f"work/{created['job_id']}/partials/00000.json", Body=b"{}")
    service.delete(ACME, created["job_id"])
    item = aws.table.get_item(Key={"job_id": created["job_id"]})["Item"]
    assert set(item) <= {
        "job_id", "tenant_id", "status", "created_at", "updated_at", "deleted_at", "expires_at",
    }  # fmt: skip
    assert item["status"] == "DELETED"
    assert time.time() < int(item["expires_at"]) <= time.time() + 40 * 86400
    assert _keys(aws, "uploads") == [] and _keys(aws, "results") == []


def _ports() -> StagePorts:
    return StagePorts(
        store=ObjectStore(),
        jobs=JobRepository("jobs"),
        events=EventPublisher("jobs-bus"),
        results_bucket="results",
    )


def test_a_stage_writing_after_the_delete_removes_what_it_wrote(aws: Aws) -> None:
    service = api_service()
    created = _create(service, 1000)
    job_id = created["job_id"]
    refuse_if_deleted(job_id, _ports())  # a live job: nothing happens
    service.delete(ACME, job_id)
    # An in-flight worker's checkpoint lands after the delete cleaned up.
    aws.s3.put_object(Bucket="results", Key=f"work/{job_id}/partials/00003.json", Body=b"{}")
    aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.json", Body=b"{}")
    with pytest.raises(JobDeletedError) as raised:  # as aggregate calls it, after writing outputs
        refuse_if_deleted(job_id, _ports(), "work", "transcripts")
    assert raised.value.reason_code == "JOB_DELETED"
    assert _keys(aws, "results") == []


# 3. Deleting an original keeps its duplicates whole ---------------------------------------------


def _completed_original(aws: Aws, context: FakeContext, audio: bytes) -> str:
    (first,) = ingest.handler(_upload_event(aws, "tenants/acme/monday/talk.flac", audio), context)["jobs"]
    job_id = first["job_id"]
    document = {"transcript": "hello world", "segments": [{"start": 0, "end": 1, "text": "hello world"}]}
    outputs = {}
    for fmt, body in (("json", json.dumps(document)), ("txt", "hello world\n")):
        aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.{fmt}", Body=body.encode())
        outputs[fmt] = f"s3://results/transcripts/{job_id}/transcript.{fmt}"
    JobRepository("jobs").mark_completed(job_id, {"outputs": outputs, "language": "en", "duration": 1.0})
    return str(job_id)


def _upload_event(aws: Aws, key: str, body: bytes) -> dict[str, Any]:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=body)
    return aws.s3_event("uploads", key)


def test_deleting_an_original_keeps_its_duplicates_whole(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    audio = sample_flac.read_bytes()
    original = _completed_original(aws, context, audio)
    (dup,) = ingest.handler(_upload_event(aws, "tenants/acme/tuesday/copy.flac", audio), context)["jobs"]
    assert dup["duplicate_of"] == original
    service = api_service()
    with pytest.raises(problems.NotFound):  # another tenant can neither delete nor see it
        service.delete(OTHER, original)
    service.delete(ACME, original)
    assert _keys(aws, "results", f"transcripts/{original}/") == []
    view = service.get(ACME, dup["job_id"])
    assert view["status"] == "COMPLETED" and view["transcript"]["text"] == "hello world"
    assert service.download(ACME, dup["job_id"], "txt").body == "hello world\n"
    assert service.segments(ACME, dup["job_id"], "hello")["count"] == 1
    with pytest.raises(problems.Conflict):  # like any COMPLETED job: nothing to retry
        service.retry(ACME, dup["job_id"])
    # The duplicate now owns its copy: deleting it leaves nothing either.
    service.delete(ACME, dup["job_id"])
    assert _keys(aws, "results") == []


def test_delete_leaves_no_earlier_version_in_a_versioned_input_bucket(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    aws.s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})  # as prod
    service, created, key = _created_job(sample_flac.stat().st_size)
    aws.s3.put_object(Bucket="uploads", Key=key, Body=b"an earlier PUT to the same URL")
    _put_and_ingest(aws, context, key, sample_flac.read_bytes())
    service.delete(ACME, created["job_id"])
    listed = aws.s3.list_object_versions(Bucket="uploads")
    assert listed.get("Versions", []) == [] and listed.get("DeleteMarkers", []) == []
