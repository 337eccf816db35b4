"""Resuming a failed job and sweeping stalled ones, with the real handlers on moto.

The resumed job's engine calls are counted: a retry transcribes only the chunks whose partial
transcript is not stored yet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.fail import handler as fail
from functions.sweeper import handler as sweeper
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked, refuse_the_first_event
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.workflow import Workflow
from transcriber.domain.jobs import iso_timestamp, partial_key
from transcriber.domain.recovery import RETRY_BUDGET, STALE_AFTER, STALLED, RetryRefusedError, retry_job
from transcriber.domain.speech import DEFAULT_DECODING, DecodeOptions

JOB_ID = "0123456789abcdef0123456789abcdef"
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


class CountingEngine:
    """The real engine, with its transcribe calls counted."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.transcribed: list[str] = []

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> Any:
        self.transcribed.append(str(wav_path))
        return self._real.transcribe(wav_path, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def counting_engine(monkeypatch: pytest.MonkeyPatch) -> CountingEngine:
    spy = CountingEngine(transcribe.engine)
    monkeypatch.setattr(transcribe, "engine", spy)
    return spy


@pytest.fixture
def job(aws: Aws, sample_flac: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "8")  # the 22.6 s sample in at least three chunks
    aws.s3.put_object(Bucket="uploads", Key="in/sample.flac", Body=sample_flac.read_bytes())
    record = {
        "job_id": JOB_ID,
        "status": "PENDING",
        "bucket": "uploads",
        "key": "in/sample.flac",
        "options": {"beam_size": 1},
    }
    JobRepository("jobs").create(record)
    return {k: record[k] for k in ("job_id", "bucket", "key", "options")}


def _job(aws: Aws, job_id: str = JOB_ID) -> dict[str, Any]:
    return dict(aws.table.get_item(Key={"job_id": job_id}, ConsistentRead=True)["Item"])


def _execution(aws: Aws, name: str) -> dict[str, Any]:
    arn = aws.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
    return dict(aws.sfn.describe_execution(executionArn=arn))


def test_a_retried_job_transcribes_only_the_chunks_without_a_stored_result(
    aws: Aws, context: FakeContext, job: dict[str, Any], counting_engine: CountingEngine
) -> None:
    # The first run: chunked, two chunks transcribed, then the job fails.
    first = chunked(chunk.handler(job, context))
    chunks = first["chunks"]
    assert len(chunks) >= 3
    done_before = [chunks[0], chunks[-1]]
    for c in done_before:
        transcribe.handler({"job_id": JOB_ID, "chunk": c}, context)
    assert len(counting_engine.transcribed) == 2
    error = {"Error": "States.Timeout", "Cause": "The Map state timed out."}
    fail.handler({**job, "error": error}, context)
    assert _job(aws)["status"] == "FAILED"

    requeued = retry_job(JOB_ID, jobs=JobRepository("jobs"), executions=Workflow(aws.state_machine_arn))
    assert (requeued.attempt, requeued.execution) == (1, f"{JOB_ID}-r1")
    record = _job(aws)
    assert record["status"] == "PENDING" and record["attempts"] == 1
    assert "reason_code" not in record and "error_message" not in record
    # The new run starts with the job's own input, as ingest started the first one.
    execution = _execution(aws, f"{JOB_ID}-r1")
    assert json.loads(execution["input"]) == job

    # The second run, as the state machine drives it: chunk again, every chunk through the Map.
    counting_engine.transcribed.clear()
    second = chunked(chunk.handler(json.loads(execution["input"]), context))
    assert [c["key"] for c in second["chunks"]] == [c["key"] for c in chunks]
    record = _job(aws)
    assert record["status"] == "PROCESSING" and record["chunks_done"] == 0 and record["progress"] == 0
    stored = {
        c["index"]
        for c in second["chunks"]
        if "Contents" in aws.s3.list_objects_v2(Bucket="results", Prefix=partial_key(JOB_ID, c["index"]))
    }
    assert stored == {c["index"] for c in done_before}
    refs = [transcribe.handler({"job_id": JOB_ID, "chunk": c}, context) for c in second["chunks"]]

    missing = len(second["chunks"]) - len(stored)
    assert len(counting_engine.transcribed) == missing
    assert sorted(r["index"] for r in refs if r["reused"]) == sorted(stored)
    assert _job(aws)["chunks_done"] == missing

    result = aggregate.handler(
        {**job, "duration": second["duration"], "manifest": second["manifest"]}, context
    )
    assert result["status"] == "COMPLETED"
    record = _job(aws)
    assert record["status"] == "COMPLETED" and record["chunks_done"] == len(chunks)
    assert record["progress"] == 100 and record["attempts"] == 1
    # A completed job is not retried.
    with pytest.raises(RetryRefusedError, match="Only a FAILED job"):
        retry_job(JOB_ID, jobs=JobRepository("jobs"), executions=Workflow(aws.state_machine_arn))


def test_a_job_is_retried_at_most_the_budget(aws: Aws, job: dict[str, Any]) -> None:
    jobs, workflow = JobRepository("jobs"), Workflow(aws.state_machine_arn)
    for attempt in range(1, RETRY_BUDGET + 1):
        jobs.mark_failed(JOB_ID, reason_code="INTERNAL_ERROR", message="boom")
        assert retry_job(JOB_ID, jobs=jobs, executions=workflow).attempt == attempt
        assert _execution(aws, f"{JOB_ID}-r{attempt}")["status"] == "RUNNING"
    jobs.mark_failed(JOB_ID, reason_code="INTERNAL_ERROR", message="boom")
    with pytest.raises(RetryRefusedError, match="already retried 3 times"):
        retry_job(JOB_ID, jobs=jobs, executions=workflow)
    assert _job(aws)["status"] == "FAILED"


def test_the_repository_requeues_only_from_the_expected_state(aws: Aws, job: dict[str, Any]) -> None:
    from transcriber.domain.jobs import JobStatus

    jobs = JobRepository("jobs")
    assert jobs.requeue(JOB_ID, expected_status=JobStatus.FAILED) is None  # it is PENDING
    assert jobs.requeue("f" * 32, expected_status=JobStatus.FAILED) is None  # no such job
    seen = _job(aws)["updated_at"]
    assert jobs.requeue(JOB_ID, expected_status=JobStatus.PENDING, expected_updated_at="2000") is None
    assert jobs.requeue(JOB_ID, expected_status=JobStatus.PENDING, expected_updated_at=seen) == 1
    assert _job(aws)["updated_at"] > seen


def test_a_recorded_chunk_error_lasts_one_run_and_not_past_the_job(aws: Aws, job: dict[str, Any]) -> None:
    """A chunk error kept for MarkFailed (stages/chunk_failures.py) is gone once a run completes,
    and a new run starts without the last run's: neither can name a chunk that did not fail it."""
    from transcriber.domain.jobs import JobStatus

    jobs = JobRepository("jobs")
    error = {"Error": "TransientEngineError", "Cause": '{"chunk": 2}'}
    assert jobs.mark_processing(JOB_ID, duration=22.6, chunks_total=3)
    assert jobs.record_chunk_error(JOB_ID, error)
    assert _job(aws)["chunk_error"] == error
    assert jobs.mark_processing(JOB_ID, duration=22.6, chunks_total=3)  # the next run
    assert "chunk_error" not in _job(aws)
    assert jobs.record_chunk_error(JOB_ID, error)  # a retry recovers from this one ...
    assert jobs.mark_completed(JOB_ID, {"outputs": {"json": "s3://results/x.json"}})
    record = _job(aws)
    assert (record["status"], record["outputs"]) == ("COMPLETED", {"json": "s3://results/x.json"})
    assert "chunk_error" not in record
    # A failed job's error goes with its requeue, with its reason and the note that its failure
    # was announced: the next run's failure is announced again.
    aws.table.update_item(
        Key={"job_id": JOB_ID},
        UpdateExpression="SET #s = :failed, chunk_error = :e, reason_code = :r",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":failed": "FAILED", ":e": error, ":r": "CHUNK_FAILED"},
    )
    assert jobs.note_failure_announced(JOB_ID) and _job(aws)["failure_announced"] is True
    assert jobs.requeue(JOB_ID, expected_status=JobStatus.FAILED) == 1
    assert not {"chunk_error", "reason_code", "failure_announced"} & set(_job(aws))
    assert not jobs.note_failure_announced(JOB_ID)  # only a FAILED job's failure is announced


# The sweeper ---------------------------------------------------------------------------------


def _stale(aws: Aws, job_id: str, status: str, **fields: Any) -> None:
    long_ago = iso_timestamp(datetime.now(UTC) - STALE_AFTER - timedelta(minutes=5))
    aws.table.put_item(
        Item={
            "job_id": job_id,
            "status": status,
            "bucket": "uploads",
            "key": f"in/{job_id}.flac",
            "options": {},
            "created_at": long_ago,
            "updated_at": long_ago,
            **fields,
        }
    )


def test_the_sweeper_requeues_stalled_jobs_and_fails_those_over_the_budget(
    aws: Aws, context: FakeContext
) -> None:
    stalled, never_started, spent, running, fresh = ("a" * 32, "b" * 32, "c" * 32, "d" * 32, "e" * 32)
    _stale(aws, stalled, "PROCESSING", attempts=1, chunks_total=3, chunks_done=1)
    _stale(aws, never_started, "PENDING")
    _stale(aws, spent, "PROCESSING", attempts=RETRY_BUDGET)
    _stale(aws, running, "PROCESSING")
    aws.sfn.start_execution(stateMachineArn=aws.state_machine_arn, name=running, input="{}")
    JobRepository("jobs").create({"job_id": fresh, "status": "PENDING", "bucket": "uploads", "key": "k"})
    _stale(aws, "f" * 32, "COMPLETED")

    report = sweeper.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, context)

    assert sorted((r["job_id"], r["execution"]) for r in report["requeued"]) == [
        (stalled, f"{stalled}-r2"),
        (never_started, f"{never_started}-r1"),
    ]
    assert report["failed"] == [spent] and report["examined"] == 4
    for job_id, attempts in ((stalled, 2), (never_started, 1)):
        record = _job(aws, job_id)
        assert record["status"] == "PENDING" and record["attempts"] == attempts
        started = _execution(aws, f"{job_id}-r{attempts}")
        assert json.loads(started["input"]) == {
            "job_id": job_id,
            "bucket": "uploads",
            "key": f"in/{job_id}.flac",
            "options": {},
        }
    failed = _job(aws, spent)
    assert failed["status"] == "FAILED" and failed["reason_code"] == STALLED
    assert "Upload the file again" in failed["error_message"]
    assert _job(aws, running)["status"] == "PROCESSING" and _job(aws, fresh)["status"] == "PENDING"

    # The failed job is announced like any other, by the contract's schema; requeues say nothing.
    (event,) = aws.events()
    assert event["detail-type"] == "Transcription Job Failed"
    assert event["detail"]["job_id"] == spent and event["detail"]["reason_code"] == STALLED
    schema = json.loads((SCHEMAS / "job-failed.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(event)

    # Swept again at once: the requeued jobs are fresh, the spent one is FAILED; nothing changes.
    again = sweeper.handler({}, context)
    assert again == {"examined": 1, "requeued": [], "failed": []}  # only the running job is stale
    assert aws.events() == []


def test_a_sweep_failure_whose_announcement_is_refused_is_announced_by_the_next_sweep(
    aws: Aws, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EventBridge refuses the first JobFailed: the other job is still announced, and the next
    sweep sends the refused one (before, it was never sent and no sweep looked at it again)."""
    first, second = "1" * 32, "2" * 32
    _stale(aws, first, "PROCESSING", attempts=RETRY_BUDGET)
    _stale(aws, second, "PROCESSING", attempts=RETRY_BUDGET)
    refuse_the_first_event(monkeypatch)
    report = sweeper.handler({}, context)
    assert sorted(report["failed"]) == [first, second] and len(report["unannounced"]) == 1
    (refused,) = report["unannounced"]
    (announced,) = aws.events()
    assert announced["detail"]["job_id"] != refused
    assert "failure_announced" not in _job(aws, refused)

    again = sweeper.handler({}, context)
    assert again == {"examined": 0, "requeued": [], "failed": []}
    (event,) = aws.events()
    assert event["detail-type"] == "Transcription Job Failed"
    assert event["detail"]["job_id"] == refused and event["detail"]["reason_code"] == STALLED
    assert _job(aws, refused)["failure_announced"] is True
    sweeper.handler({}, context)
    assert aws.events() == []  # announced once
