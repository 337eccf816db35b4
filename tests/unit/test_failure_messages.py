"""What a failed job tells its user: the errors written for users keep their message; anything
else (an SDK error naming a bucket, a bug, a Lambda timeout) gets its reason's generic message,
with a reference and the way to retry, and never the raw text."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from aws_lambda_powertools import Metrics

from transcriber.domain.errors import Fault, fault_of, reason_for_error_name
from transcriber.domain.malware import MalwareDetectedError
from transcriber.domain.messages import StepError
from transcriber.domain.recovery import INPUT_REASON_CODES, STALLED, UPLOAD_NOT_RECEIVED
from transcriber.observability import count_failure
from transcriber.stages.deleted import JobDeletedError
from transcriber.stages.fail import describe_failure

JOB_ID = "0123456789abcdef0123456789abcdef"
REQUEST_ID = "5f0c3b1e-6d2a-4c1b-9a47-0e3f2d1c9b88"


@pytest.fixture(autouse=True)
def _metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StageTests")
    yield
    Metrics().clear_metrics()


def _lambda_cause(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "requestId": REQUEST_ID})


@pytest.mark.parametrize(
    ("error_type", "raw", "reason"),
    [
        (
            "ClientError",
            "An error occurred (AccessDenied) when calling the GetObject operation on s3://uploads-1234/in/a.wav",
            "INTERNAL_ERROR",
        ),
        ("ValueError", "invalid literal for int() with base 10: 'x'", "INTERNAL_ERROR"),
        (
            "RetryableError",
            "s3://work-bucket/work/abc/audio.wav: asked for bytes 0-9, got 4",
            "TRANSIENT_ERROR",
        ),
    ],
)
def test_an_error_not_written_for_users_gets_a_generic_message(
    error_type: str, raw: str, reason: str
) -> None:
    code, message = describe_failure(
        StepError(Error=error_type, Cause=_lambda_cause(error_type, raw)), job_id=JOB_ID
    )
    assert code == reason
    assert raw not in message and "s3://" not in message
    assert f"transcriber retry {JOB_ID}" in message  # what to do
    assert REQUEST_ID in message  # what support finds the logs by


def test_a_lambda_timeout_is_a_timeout_with_advice() -> None:
    cause = json.dumps({"errorMessage": f"{REQUEST_ID} Task timed out after 900.00 seconds"})
    code, message = describe_failure(StepError(Error="Sandbox.Timedout", Cause=cause), job_id=JOB_ID)
    assert code == "TIMEOUT"
    assert "ran out of time" in message and "retry" in message and "shorter files" in message
    assert reason_for_error_name("States.Timeout") == "TIMEOUT"


def test_errors_written_for_users_keep_their_message() -> None:
    said = "The audio could not be decoded: the file ends in the middle of its data."
    cause = _lambda_cause("CorruptAudioError", said)
    assert describe_failure(StepError(Error="CorruptAudioError", Cause=cause), job_id=JOB_ID) == (
        "CORRUPT_AUDIO",
        said,
    )


def test_the_fault_of_each_reason() -> None:
    user_side = (
        UPLOAD_NOT_RECEIVED,
        JobDeletedError.reason_code,
        MalwareDetectedError.reason_code,
        "SIZE_MISMATCH",
    )
    for reason in (*INPUT_REASON_CODES, *user_side):
        assert fault_of(reason) is Fault.INPUT, reason
    for reason in ("INTERNAL_ERROR", "TRANSIENT_ERROR", "TIMEOUT", "ENGINE_ERROR", "CHUNK_FAILED", STALLED):
        assert fault_of(reason) is Fault.SERVICE, reason


@pytest.mark.parametrize(("reason", "fault"), [("CORRUPT_AUDIO", "input"), ("TRANSIENT_ERROR", "service")])
def test_each_failure_is_counted_by_its_fault(
    reason: str, fault: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "transcriber-fail")
    count_failure(Metrics(), reason)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (by_fault,) = (m for m in emf if "JobsFailedByFault" in m)
    assert sorted(by_fault["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]) == ["fault", "service"]
    assert (by_fault["fault"], by_fault["service"]) == (fault, "transcriber-fail")
