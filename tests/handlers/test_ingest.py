from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.ingest import handler as ingest
from tests.handlers.conftest import Aws, FakeContext, refuse_the_first_event
from tests.handlers.test_job_events import assert_valid
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import job_id_for
from transcriber.domain.options import JobOptions
from transcriber.domain.retention import Retention


def _upload(aws: Aws, key: str, body: bytes) -> dict:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=body)
    return aws.s3_event("uploads", key)


def test_a_valid_upload_becomes_a_pending_job_and_one_execution(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    key = "uploads/team meeting ünïcode+1.flac"
    event = _upload(aws, key, sample_flac.read_bytes())
    result = ingest.handler(event, context)
    (job_result,) = result["jobs"]
    head = aws.s3.head_object(Bucket="uploads", Key=key)
    assert job_result["job_id"] == job_id_for("uploads", key, head["ETag"], None)
    job = aws.table.get_item(Key={"job_id": job_result["job_id"]})["Item"]
    assert job["status"] == "PENDING"
    assert job["key"] == key  # the URL-encoded key from the event was decoded
    assert job["size"] == sample_flac.stat().st_size
    assert job["format"] == "flac"
    import hashlib

    assert job["sha256"] == hashlib.sha256(sample_flac.read_bytes()).hexdigest()
    executions = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [job_result["job_id"]]
    events = aws.events()
    assert [e["detail-type"] for e in events] == ["Transcription Job Created"]
    assert events[0]["detail"]["job_id"] == job_result["job_id"]


def test_the_same_event_delivered_again_changes_nothing(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    event = _upload(aws, "a.flac", sample_flac.read_bytes())
    for _ in range(3):
        ingest.handler(event, context)
    assert aws.table.scan()["Count"] == 1
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 1
    assert [e["detail-type"] for e in aws.events()] == ["Transcription Job Created"]


@pytest.mark.parametrize(
    ("key", "body", "reason"),
    [
        ("notes.mp3", b"These are meeting notes, not audio.\n" * 10, "UNSUPPORTED_FORMAT"),
        ("playlist.mp3", b"#EXTM3U\n#EXTINF:10,\nhttp://example.com/a.mp3\n", "UNSUPPORTED_FORMAT"),
        ("empty.wav", b"", "EMPTY_FILE"),
        ("report.pdf", b"%PDF-1.7 not audio", "UNSUPPORTED_FORMAT"),
        ("no-extension", b"RIFF", "UNSUPPORTED_FORMAT"),
    ],
)
def test_bad_uploads_fail_at_once_with_a_reason(
    aws: Aws, context: FakeContext, key: str, body: bytes, reason: str
) -> None:
    (result,) = ingest.handler(_upload(aws, key, body), context)["jobs"]
    assert result["status"] == "FAILED" and result["reason_code"] == reason
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert job["status"] == "FAILED" and job["reason_code"] == reason and job["error_message"]
    assert aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"] == []
    (event,) = aws.events()
    assert event["detail-type"] == "Transcription Job Failed"
    assert event["detail"]["reason_code"] == reason


def test_a_file_over_the_size_limit_is_refused(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    (result,) = ingest.handler(_upload(aws, "big.flac", sample_flac.read_bytes()), context)["jobs"]
    assert result["reason_code"] == "TOO_LARGE"
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert "limit" in job["error_message"]


def test_options_in_the_object_metadata_go_to_the_job_and_the_execution(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    options = JobOptions(language="de", beam_size=2, max_chunk_seconds=20)
    aws.s3.put_object(
        Bucket="uploads", Key="de.flac", Body=sample_flac.read_bytes(), Metadata=options.to_metadata()
    )
    (result,) = ingest.handler(aws.s3_event("uploads", "de.flac"), context)["jobs"]
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert job["options"] == {"language": "de", "beam_size": 2, "max_chunk_seconds": 20}
    (execution,) = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    started = aws.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"])["options"] == options.to_dict()


def test_invalid_options_fail_the_job_before_any_work(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    aws.s3.put_object(
        Bucket="uploads", Key="x.flac", Body=sample_flac.read_bytes(), Metadata={"transcribe-beam-size": "99"}
    )
    (result,) = ingest.handler(aws.s3_event("uploads", "x.flac"), context)["jobs"]
    assert result["status"] == "FAILED" and result["reason_code"] == "INVALID_OPTIONS"
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert "beam_size must be a whole number from 1 to 10" in job["error_message"]
    assert aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"] == []


def test_ten_deliveries_at_once_give_one_job_and_one_execution(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    event = _upload(aws, "burst.flac", sample_flac.read_bytes())

    def deliver(_: int) -> str:
        try:
            return str(ingest.handler(event, context)["jobs"][0]["job_id"])
        except IdempotencyAlreadyInProgressError:
            return "retry later"  # Lambda retries this delivery; by then the first has answered

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(deliver, range(10)))
    retried = [ingest.handler(event, context)["jobs"][0]["job_id"] for a in answers if a == "retry later"]
    job_ids = {a for a in answers if a != "retry later"} | set(retried)
    assert len(job_ids) == 1
    assert aws.table.scan()["Count"] == 1
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 1
    assert [e["detail-type"] for e in aws.events()] == ["Transcription Job Created"]
    records = boto3.resource("dynamodb").Table("idempotency").scan()["Items"]
    assert len(records) == 1 and records[0]["status"] == "COMPLETED"


def _complete(aws: Aws, job_id: str, **fields: object) -> None:
    JobRepository("jobs").mark_completed(
        job_id,
        {
            "outputs": {"json": "s3://results/transcripts/x/transcript.json"},
            "language": "en",
            "duration": 22.5,
            "segments": 6,
            **fields,
        },
    )


def test_the_same_audio_again_reuses_the_result_without_transcribing(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    (first,) = ingest.handler(_upload(aws, "monday/talk.flac", sample_flac.read_bytes()), context)["jobs"]
    _complete(aws, first["job_id"])
    aws.events()
    (second,) = ingest.handler(_upload(aws, "tuesday/copy.flac", sample_flac.read_bytes()), context)["jobs"]
    assert second["job_id"] != first["job_id"]
    assert second == {"job_id": second["job_id"], "status": "COMPLETED", "duplicate_of": first["job_id"]}
    job = aws.table.get_item(Key={"job_id": second["job_id"]})["Item"]
    assert job["status"] == "COMPLETED" and job["duplicate_of"] == first["job_id"]
    assert job["outputs"] == {"json": "s3://results/transcripts/x/transcript.json"}
    assert job["key"] == "tuesday/copy.flac" and int(job["progress"]) == 100
    # No second execution; downstream hears created and completed for the new job.
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 1
    assert [e["detail-type"] for e in aws.events()] == [
        "Transcription Job Created",
        "Transcription Job Completed",
    ]


@pytest.mark.parametrize(
    "metadata",
    [
        {"transcribe-dedupe": "false"},  # the user asked for a fresh transcription
        {"transcribe-language": "de"},  # other options, another transcript
    ],
)
def test_reuse_only_for_the_same_options_and_when_wanted(
    aws: Aws, context: FakeContext, sample_flac: Path, metadata: dict[str, str]
) -> None:
    (first,) = ingest.handler(_upload(aws, "a.flac", sample_flac.read_bytes()), context)["jobs"]
    _complete(aws, first["job_id"])
    aws.s3.put_object(Bucket="uploads", Key="b.flac", Body=sample_flac.read_bytes(), Metadata=metadata)
    (second,) = ingest.handler(aws.s3_event("uploads", "b.flac"), context)["jobs"]
    assert second["status"] == "PENDING" and second["started"] is True
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 2


def test_no_reuse_outside_the_window(
    aws: Aws, context: FakeContext, sample_flac: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (first,) = ingest.handler(_upload(aws, "old.flac", sample_flac.read_bytes()), context)["jobs"]
    _complete(aws, first["job_id"])
    aws.table.update_item(
        Key={"job_id": first["job_id"]},
        UpdateExpression="SET created_at = :old",
        ExpressionAttributeValues={":old": "2026-01-01T00:00:00.000Z"},
    )
    (second,) = ingest.handler(_upload(aws, "new.flac", sample_flac.read_bytes()), context)["jobs"]
    assert second["status"] == "PENDING"
    monkeypatch.setenv("DEDUP_WINDOW_HOURS", "0")  # 0 turns reuse off altogether
    _complete(aws, second["job_id"])
    (third,) = ingest.handler(_upload(aws, "newer.flac", sample_flac.read_bytes()), context)["jobs"]
    assert third["status"] == "PENDING"


def _reserve(job_id: str, **fields: object) -> str:
    """The record the API's create leaves for an upload it awaits; returns the upload's key."""
    key = f"tenants/acme/jobs/{job_id}/talk.flac"
    JobRepository("jobs").create(
        {"job_id": job_id, "tenant_id": "acme", "status": "AWAITING_UPLOAD", "bucket": "uploads", "key": key}
        | fields
    )
    return key


def test_an_upload_for_a_job_the_api_created_completes_that_job(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    jobs = JobRepository("jobs")
    job_id = "f" * 32
    key = _reserve(job_id, options={"language": "de"}, callback_url="https://hooks.example.com/t")
    event = _upload(aws, key, sample_flac.read_bytes())
    for _ in range(2):  # a repeated delivery changes nothing
        (result,) = ingest.handler(event, context)["jobs"]
        assert result["job_id"] == job_id
    job = jobs.get(job_id)
    assert job is not None
    assert (
        job["status"] == "PENDING"
        and job["tenant_id"] == "acme"
        and job["size"] == sample_flac.stat().st_size
    )
    assert job["options"] == {"language": "de"}  # from the reservation, not the object's metadata
    assert job["callback_url"] == "https://hooks.example.com/t"
    (execution,) = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    assert execution["name"] == job_id
    started = aws.sfn.describe_execution(executionArn=execution["executionArn"])
    assert json.loads(started["input"])["options"] == {"language": "de"}
    assert aws.table.scan()["Count"] == 1


def test_a_reserved_job_keeps_its_first_upload_and_other_keys_name_their_tenant(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    jobs = JobRepository("jobs")
    key = _reserve("e" * 32)
    ingest.handler(_upload(aws, key, sample_flac.read_bytes()), context)
    # A second PUT to the same URL (new content, new ETag) starts nothing new.
    ingest.handler(_upload(aws, key, sample_flac.read_bytes() + b"\0"), context)
    assert len(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]) == 1
    # A file dropped into the bucket belongs to the tenant its key names, or to the default one.
    (named,) = ingest.handler(_upload(aws, "tenants/globex/in/a.flac", sample_flac.read_bytes()), context)[
        "jobs"
    ]
    (plain,) = ingest.handler(_upload(aws, "inbox/b.flac", sample_flac.read_bytes()), context)["jobs"]
    named_job, plain_job = jobs.get(named["job_id"]), jobs.get(plain["job_id"])
    assert named_job is not None and named_job["tenant_id"] == "globex"
    assert plain_job is not None and plain_job["tenant_id"] == "default"
    # A key that looks like a reservation but names no existing job is an ordinary upload.
    ghost = f"tenants/acme/jobs/{'d' * 32}/x.flac"
    (ordinary,) = ingest.handler(_upload(aws, ghost, sample_flac.read_bytes()), context)["jobs"]
    assert ordinary["job_id"] != "d" * 32


@pytest.mark.parametrize(
    ("case", "announced"),
    [
        ("new job", ["Transcription Job Created"]),
        ("rejected", ["Transcription Job Failed"]),
        ("same audio again", ["Transcription Job Created", "Transcription Job Completed"]),
        ("reserved by the API", ["Transcription Job Created"]),
    ],
)
def test_a_job_whose_events_were_refused_is_announced_by_the_retry(
    aws: Aws,
    context: FakeContext,
    sample_flac: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    announced: list[str],
) -> None:
    """The job was recorded, then its events were refused and the invocation failed: Lambda's
    retry finds the job recorded and sends them (once; a later repeat adds nothing), and the job
    still gets exactly one execution."""
    executions_before = 0
    if case == "same audio again":
        (first,) = ingest.handler(_upload(aws, "monday/talk.flac", sample_flac.read_bytes()), context)["jobs"]
        outputs = {
            fmt: f"s3://results/transcripts/x/transcript.{fmt}" for fmt in ("json", "srt", "vtt", "txt")
        }
        _complete(aws, first["job_id"], outputs=outputs)
        aws.events()
        executions_before = 1
    key = {"rejected": "notes.mp3", "reserved by the API": None}.get(case, "tuesday/talk.flac")
    key = key or _reserve("c" * 32)
    body = b"These are meeting notes, not audio.\n" * 10 if case == "rejected" else sample_flac.read_bytes()
    event = _upload(aws, key, body)
    refuse_the_first_event(monkeypatch)
    with pytest.raises(RetryableError):
        ingest.handler(event, context)
    recorded = aws.table.scan()["Items"]
    assert [job["announcement_pending"] for job in recorded if job["key"] == key] == [True]
    assert aws.events() == []
    for _ in range(2):  # Lambda's retry of the failed invocation, then a repeated delivery
        (result,) = ingest.handler(event, context)["jobs"]
    events = aws.events()
    assert [e["detail-type"] for e in events] == announced
    assert {e["detail"]["job_id"] for e in events} == {result["job_id"]}
    for published in events:
        assert_valid(published)
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert "announcement_pending" not in job
    executions = aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"]
    starts = 0 if case in ("rejected", "same audio again") else 1
    assert len(executions) == executions_before + starts


def test_an_announced_job_carries_no_mark(aws: Aws, context: FakeContext, sample_flac: Path) -> None:
    (result,) = ingest.handler(_upload(aws, "a.flac", sample_flac.read_bytes()), context)["jobs"]
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert job["status"] == "PENDING" and "announcement_pending" not in job


@pytest.mark.parametrize(
    ("retention", "expected"),
    [
        (Retention(audio_days=0, transcript_days=30), {"audio_days": 0, "transcript_days": 30}),
        (Retention(audio_days=7), {"audio_days": 7}),  # an unset limit is not stored
    ],
)
def test_a_file_dropped_into_the_bucket_gets_its_tenants_retention(
    aws: Aws, context: FakeContext, sample_flac: Path, retention: Retention, expected: dict[str, Any]
) -> None:
    """As a job the API creates: the tenant's retention travels with the job (aggregate then
    deletes the audio after the transcript, the sweeper expires it), whether the tenant's file
    came through the API or was dropped under ``tenants/<id>/``."""
    TenantRepository("tenants").ensure_tenant("acme", retention=retention)
    event = _upload(aws, "tenants/acme/inbox/call.flac", sample_flac.read_bytes())
    (result,) = ingest.handler(event, context)["jobs"]
    job = JobRepository("jobs").get(result["job_id"])
    assert job is not None and job["tenant_id"] == "acme" and job["retention"] == expected
    assert bool(job.get("audio_expires_at")) == bool(retention.audio_days)
    # A tenant the table does not know keeps its files, as before.
    (other,) = ingest.handler(
        _upload(aws, "tenants/globex/inbox/call.flac", sample_flac.read_bytes()), context
    )["jobs"]
    unknown = JobRepository("jobs").get(other["job_id"])
    assert unknown is not None and "retention" not in unknown


def test_a_dropped_file_that_reuses_a_transcript_completes_under_its_tenants_retention(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    """As aggregate does for a transcribed one: the duplicate gets its transcript's expiry, and
    its upload goes where the tenant keeps no audio once transcribed."""
    TenantRepository("tenants").ensure_tenant("acme", retention=Retention(audio_days=0, transcript_days=30))
    (first,) = ingest.handler(_upload(aws, "tenants/acme/monday.flac", sample_flac.read_bytes()), context)[
        "jobs"
    ]
    _complete(aws, first["job_id"])
    (second,) = ingest.handler(_upload(aws, "tenants/acme/tuesday.flac", sample_flac.read_bytes()), context)[
        "jobs"
    ]
    assert second["duplicate_of"] == first["job_id"]
    job = JobRepository("jobs").get(second["job_id"])
    assert job is not None and job["audio_deleted_at"] and job["transcript_expires_at"]
    assert (
        aws.s3.list_object_versions(Bucket="uploads", Prefix="tenants/acme/tuesday.flac").get("Versions")
        is None
    )
