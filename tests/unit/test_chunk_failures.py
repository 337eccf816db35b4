"""A Distributed Map that fails reports States.ExceedToleratedFailureThreshold, not the chunk's
error: MarkFailed must still record the chunk's own reason (permanent or retryable) for the user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from aws_lambda_powertools import Metrics

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.errors import EngineError, TransientEngineError, service_failure_message
from transcriber.domain.messages import FailRequest, JobFailed, StepError
from transcriber.stages.chunk_failures import MAP_FAILURE_THRESHOLD, record_chunk_failure
from transcriber.stages.fail import mark_failed
from transcriber.stages.ports import StagePorts

JOB_ID = "0123456789abcdef0123456789abcdef"
MAP_FAILED = StepError(
    Error=MAP_FAILURE_THRESHOLD, Cause="The specified tolerated failure threshold was exceeded"
)


@pytest.fixture(autouse=True)
def _metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "StageTests")
    yield
    Metrics().clear_metrics()


class Recorder:
    """The job record's three calls, and the event bus, in memory."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {"job_id": JOB_ID, "status": "PROCESSING"}
        self.failed: dict[str, tuple[str, str]] = {}
        self.sent: list[Any] = []

    def record_chunk_error(self, job_id: str, error: dict[str, str]) -> bool:
        self.record["chunk_error"] = error
        return True

    def get(self, job_id: str) -> dict[str, Any] | None:
        return dict(self.record) if job_id == JOB_ID else None

    def mark_failed(self, job_id: str, *, reason_code: str, message: str) -> bool:
        self.failed[job_id] = (reason_code, message)
        self.record.update(status="FAILED", reason_code=reason_code)
        return True

    def note_failure_announced(self, job_id: str) -> bool:
        self.record["failure_announced"] = True
        return True

    def emit(self, event: Any) -> None:
        self.sent.append(event)


def _ports(recorder: Recorder) -> StagePorts:
    return StagePorts(
        store=cast(ObjectStore, None),
        jobs=cast(JobRepository, recorder),
        events=cast(EventPublisher, recorder),
        results_bucket="results",
    )


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (EngineError("the model cannot decode this chunk"), "ENGINE_ERROR"),
        (TransientEngineError("the engine was throttled"), "ENGINE_TRANSIENT"),  # retries ran out
    ],
)
def test_the_failed_chunks_own_error_reaches_the_job(error: Exception, reason: str) -> None:
    recorder = Recorder()
    ports = _ports(recorder)
    record_chunk_failure(JOB_ID, 7, error, ports=ports)
    answer = mark_failed(FailRequest(job_id=JOB_ID, bucket="b", key="k", error=MAP_FAILED), ports=ports)
    assert answer.reason_code == reason
    assert recorder.failed[JOB_ID] == (reason, str(error))
    (event,) = recorder.sent
    assert isinstance(event, JobFailed) and (event.reason_code, event.message) == (reason, str(error))


def test_a_chunk_that_failed_without_a_word_still_gets_a_reason() -> None:
    recorder = Recorder()
    answer = mark_failed(FailRequest(job_id=JOB_ID, error=MAP_FAILED), ports=_ports(recorder))
    # No chunk said why (its function timed out or ran out of memory): a reason all the same.
    assert answer.reason_code == "CHUNK_FAILED"
    assert recorder.failed[JOB_ID] == ("CHUNK_FAILED", service_failure_message("CHUNK_FAILED", job_id=JOB_ID))


def test_other_step_errors_are_described_as_before() -> None:
    recorder = Recorder()
    ports = _ports(recorder)
    record_chunk_failure(JOB_ID, 0, EngineError("unrelated"), ports=ports)
    answer = mark_failed(FailRequest(job_id=JOB_ID, error=StepError(Error="States.Timeout")), ports=ports)
    assert answer.reason_code == "TIMEOUT"  # only the Map's threshold error looks for a chunk's
