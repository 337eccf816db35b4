"""The stages are plain Python over ports: here with in-memory fakes, no moto and no AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

import pytest
from aws_lambda_powertools import Metrics
from pydantic import ValidationError

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.messages import FailRequest, JobEvent, StepError
from transcriber.env import IngestEnv
from transcriber.stages.fail import from_execution_status, mark_failed
from transcriber.stages.ports import StagePorts

JOB_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_metrics_left_behind() -> Iterator[None]:
    """The stages add to Powertools' shared metric set; a later handler test must not flush them."""
    yield
    Metrics().clear_metrics()


class FakeJobs:
    def __init__(self) -> None:
        self.failed: dict[str, tuple[str, str]] = {}
        self.announced: set[str] = set()

    def mark_failed(self, job_id: str, *, reason_code: str, message: str) -> bool:
        if job_id in self.failed:
            return False  # already ended: the table's condition refuses a second end
        self.failed[job_id] = (reason_code, message)
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        if job_id not in self.failed:
            return None
        reason_code, _ = self.failed[job_id]
        announced = job_id in self.announced
        return {
            "job_id": job_id,
            "status": "FAILED",
            "reason_code": reason_code,
            "failure_announced": announced,
        }

    def note_failure_announced(self, job_id: str) -> bool:
        self.announced.add(job_id)
        return True


class FakeEvents:
    def __init__(self) -> None:
        self.sent: list[JobEvent] = []

    def emit(self, event: JobEvent) -> None:
        self.sent.append(event)


def _ports(jobs: FakeJobs, events: FakeEvents) -> StagePorts:
    return StagePorts(
        store=cast(ObjectStore, None),
        jobs=cast(JobRepository, jobs),
        events=cast(EventPublisher, events),
        results_bucket="results",
    )


def test_a_failed_step_ends_the_job_once_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StageTests")
    jobs, events = FakeJobs(), FakeEvents()
    cause = json.dumps({"errorType": "CorruptAudioError", "errorMessage": "The audio could not be decoded."})
    request = FailRequest(
        job_id=JOB_ID, bucket="uploads", key="a.flac", error=StepError(Error="CorruptAudioError", Cause=cause)
    )
    answer = mark_failed(request, ports=_ports(jobs, events))
    assert answer.to_wire() == {"job_id": JOB_ID, "status": "FAILED", "reason_code": "CORRUPT_AUDIO"}
    assert jobs.failed[JOB_ID] == ("CORRUPT_AUDIO", "The audio could not be decoded.")
    assert [e.to_wire()["message"] for e in events.sent] == ["The audio could not be decoded."]
    mark_failed(request, ports=_ports(jobs, events))
    assert len(events.sent) == 1  # a repeated Catch announces nothing new


def test_an_aborted_execution_is_described_from_its_input() -> None:
    detail = {
        "name": f"{JOB_ID}-r1",
        "status": "ABORTED",
        "input": json.dumps({"job_id": JOB_ID, "bucket": "uploads", "key": "a.flac", "options": {}}),
    }
    request = from_execution_status(detail)
    assert (request.job_id, request.bucket, request.key) == (JOB_ID, "uploads", "a.flac")
    assert (request.error.error, request.error.cause) == ("States.Aborted", "The execution ended ABORTED.")
    unreadable = from_execution_status({"name": JOB_ID, "status": "TIMED_OUT", "input": "not json"})
    assert (unreadable.job_id, unreadable.bucket, unreadable.error.error) == (JOB_ID, None, "States.Timeout")


def test_a_function_without_its_variables_fails_at_init_naming_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "JOBS_TABLE", "RESULTS_BUCKET", "EVENT_BUS_NAME", "STATE_MACHINE_ARN", "IDEMPOTENCY_TABLE",
        "TENANTS_TABLE",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBS_TABLE", "jobs")
    monkeypatch.setenv("RESULTS_BUCKET", "results")
    monkeypatch.setenv("EVENT_BUS_NAME", "")  # empty is missing, not a bus named ""
    with pytest.raises(ValidationError) as caught:
        IngestEnv()
    named = {error["loc"][0] for error in caught.value.errors()}
    assert named == {"EVENT_BUS_NAME", "STATE_MACHINE_ARN", "IDEMPOTENCY_TABLE", "TENANTS_TABLE"}


def test_ingest_settings_keep_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    values: dict[str, Any] = {
        "JOBS_TABLE": "jobs",
        "RESULTS_BUCKET": "results",
        "EVENT_BUS_NAME": "bus",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline",
        "IDEMPOTENCY_TABLE": "idempotency",
        "TENANTS_TABLE": "tenants",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MAX_UPLOAD_BYTES", raising=False)
    monkeypatch.delenv("DEDUP_WINDOW_HOURS", raising=False)
    env = IngestEnv()
    assert (env.max_upload_bytes, env.dedup_window_hours) == (500 * 1024 * 1024, 24.0)
