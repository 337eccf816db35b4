"""The job events each stage emits (against the schemas in docs/events/), and the fail handler's
second entry point: Step Functions executions that end FAILED, TIMED_OUT or ABORTED.

moto cannot run an EventBridge rule with a Lambda target, so the rule itself is checked in the
template (tests/infra) and its handler here, with the event shape EventBridge delivers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from functions.chunk import handler as chunk
from functions.fail import handler as fail
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked, refuse_the_first_event
from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import JOB_EVENT_TYPES, crosses_progress_step
from transcriber.domain.search import EVENT_JOB_DELETED

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
JOB_ID = "0123456789abcdef0123456789abcdef"


def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    out = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        out[schema["properties"]["detail-type"]["const"]] = jsonschema.Draft202012Validator(schema)
    return out


def assert_valid(event: dict[str, Any]) -> None:
    _validators()[event["detail-type"]].validate(event)


def test_there_is_one_schema_per_event_type() -> None:
    assert set(_validators()) == {*JOB_EVENT_TYPES, EVENT_JOB_DELETED}


@pytest.mark.parametrize(("total", "expected"), [(1, 1), (3, 3), (10, 10), (25, 10), (100, 10), (1000, 10)])
def test_progress_is_reported_at_most_once_per_ten_percent(total: int, expected: int) -> None:
    crossings = [done for done in range(1, total + 1) if crosses_progress_step(done, total)]
    assert len(crossings) == expected
    assert crossings[-1] == total  # the last chunk always reports 100%
    bands = [100 * done // total // 10 for done in crossings]
    assert bands == sorted(set(bands))  # each band once, in order


def test_progress_ignores_counts_out_of_range() -> None:
    assert not crosses_progress_step(0, 10)
    assert not crosses_progress_step(11, 10)
    assert not crosses_progress_step(1, 0)


@pytest.fixture
def pending_job(aws: Aws, sample_flac: Path) -> dict[str, Any]:
    aws.s3.put_object(Bucket="uploads", Key="in/sample.flac", Body=sample_flac.read_bytes())
    aws.table.put_item(
        Item={
            "job_id": JOB_ID,
            "status": "PENDING",
            "bucket": "uploads",
            "key": "in/sample.flac",
            "created_at": "2026-11-24T12:00:00.000Z",
        }
    )
    return {"job_id": JOB_ID, "bucket": "uploads", "key": "in/sample.flac"}


def test_chunk_then_transcribe_emit_started_and_progress(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "8")
    prepared = chunked(chunk.handler(pending_job, context))
    (started,) = aws.events()
    assert_valid(started)
    assert started["detail-type"] == "Transcription Job Started"
    assert started["detail"]["chunks_total"] == len(prepared["chunks"])

    for item in prepared["chunks"]:
        transcribe.handler({"job_id": JOB_ID, "chunk": item}, context)
    progress = aws.events()
    for event in progress:
        assert_valid(event)
    assert {e["detail-type"] for e in progress} == {"Transcription Job Progress"}
    total = len(prepared["chunks"])
    assert len(progress) == sum(crosses_progress_step(d, total) for d in range(1, total + 1))
    assert [e["detail"]["chunks_done"] for e in progress] == sorted(
        e["detail"]["chunks_done"] for e in progress
    )
    last = progress[-1]["detail"]
    assert last["progress"] == 100 and last["chunks_done"] == total
    assert last["bucket"] == "uploads" and last["key"] == "in/sample.flac"


def _execution_event(status: str, **detail: Any) -> dict[str, Any]:
    """The event EventBridge delivers for an execution status change (default bus)."""
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline"
    return {
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-24T12:00:00Z",
        "region": "us-east-1",
        "resources": [f"{arn.replace(':stateMachine:', ':execution:')}:{JOB_ID}"],
        "detail": {
            "executionArn": f"{arn.replace(':stateMachine:', ':execution:')}:{JOB_ID}",
            "stateMachineArn": arn,
            "name": JOB_ID,
            "status": status,
            "startDate": 1764000000000,
            "stopDate": 1764021600000,
            "input": json.dumps({"job_id": JOB_ID, "bucket": "uploads", "key": "in/sample.flac"}),
            "output": None,
            "error": None,
            "cause": None,
            **detail,
        },
    }


def _set_status(aws: Aws, status: str) -> None:
    aws.table.update_item(
        Key={"job_id": JOB_ID},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": status},
    )


@pytest.mark.parametrize(
    ("status", "detail", "reason"),
    [
        ("TIMED_OUT", {}, "TIMEOUT"),
        ("ABORTED", {}, "ABORTED"),
        ("FAILED", {"error": "States.Runtime", "cause": "An error occurred"}, "INTERNAL_ERROR"),
    ],
)
def test_an_execution_that_ends_abnormally_fails_its_job(
    aws: Aws,
    context: FakeContext,
    pending_job: dict[str, Any],
    status: str,
    detail: dict[str, Any],
    reason: str,
) -> None:
    _set_status(aws, "PROCESSING")
    out = fail.handler(_execution_event(status, **detail), context)
    assert out == {"job_id": JOB_ID, "status": "FAILED", "reason_code": reason}
    job = aws.table.get_item(Key={"job_id": JOB_ID})["Item"]
    assert job["status"] == "FAILED" and job["reason_code"] == reason
    # What the user reads: what happened, that a retry may help; never the raw cause.
    assert "retry" in job["error_message"] and "An error occurred" not in job["error_message"]
    (event,) = aws.events()
    assert_valid(event)
    assert event["detail"]["bucket"] == "uploads" and event["detail"]["key"] == "in/sample.flac"


def test_a_retried_execution_that_times_out_fails_its_job(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any]
) -> None:
    """A retry's execution is named <job_id>-r<n>: the job id comes from the execution's input."""
    event = _execution_event("TIMED_OUT", name=f"{JOB_ID}-r1")
    out = fail.handler(event, context)
    assert out == {"job_id": JOB_ID, "status": "FAILED", "reason_code": "TIMEOUT"}
    assert aws.table.get_item(Key={"job_id": JOB_ID})["Item"]["status"] == "FAILED"


def test_a_failure_the_catch_already_recorded_is_not_reported_again(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any]
) -> None:
    """The Catch path ends the execution FAILED too, so the rule fires for it as well."""
    error = {"Error": "CorruptAudioError", "Cause": "ffmpeg could not decode it"}
    fail.handler({**pending_job, "error": error}, context)
    fail.handler(_execution_event("FAILED", error="TranscriptionFailed", cause="See the job record"), context)
    job = aws.table.get_item(Key={"job_id": JOB_ID})["Item"]
    assert job["reason_code"] == "CORRUPT_AUDIO"  # the first, precise reason stays
    events = aws.events()
    assert [e["detail-type"] for e in events] == ["Transcription Job Failed"]
    assert_valid(events[0])


def test_a_failure_whose_announcement_failed_is_announced_by_the_retry(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """MarkFailed recorded the job FAILED, then EventBridge refused the event: the retried step
    announces it (the callback_url hears of the failure), once, and the execution's own
    status-change report after it adds nothing."""
    refuse_the_first_event(monkeypatch)
    error = {"Error": "CorruptAudioError", "Cause": "ffmpeg could not decode it"}
    with pytest.raises(RetryableError):
        fail.handler({**pending_job, "error": error}, context)
    assert aws.table.get_item(Key={"job_id": JOB_ID})["Item"]["status"] == "FAILED"
    fail.handler({**pending_job, "error": error}, context)  # Step Functions' retry of MarkFailed
    fail.handler({**pending_job, "error": error}, context)  # a repeat
    fail.handler(_execution_event("FAILED", error="TranscriptionFailed", cause="See the job record"), context)
    events = aws.events()
    assert [e["detail-type"] for e in events] == ["Transcription Job Failed"]
    assert events[0]["detail"]["reason_code"] == "CORRUPT_AUDIO"


def test_a_completed_job_stays_completed_when_a_late_abort_arrives(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any]
) -> None:
    _set_status(aws, "COMPLETED")
    fail.handler(_execution_event("ABORTED"), context)
    assert aws.table.get_item(Key={"job_id": JOB_ID})["Item"]["status"] == "COMPLETED"
    assert aws.events() == []


def test_an_unreadable_execution_input_still_fails_the_job(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any]
) -> None:
    fail.handler(_execution_event("TIMED_OUT", input="not json"), context)
    assert aws.table.get_item(Key={"job_id": JOB_ID})["Item"]["status"] == "FAILED"
    (event,) = aws.events()
    assert_valid(event)
    assert event["detail"]["bucket"] is None


def test_failures_are_counted_by_reason(
    aws: Aws, context: FakeContext, pending_job: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    fail.handler(_execution_event("TIMED_OUT"), context)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    by_reason = next(m for m in emf if "JobsFailedByReason" in m)
    (directive,) = by_reason["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "AudioTranscriberTests"
    assert sorted(directive["Dimensions"][0]) == ["reason_code", "service"]
    assert by_reason["reason_code"] == "TIMEOUT"
    # The total keeps its own dimensions, so the dashboard and alarms read one series.
    total = next(m for m in emf if "JobsFailed" in m)
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
