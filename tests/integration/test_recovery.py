"""Recovery on the local stack: a FAILED job retried, and the sweeper's requeue and STALLED failure.

Each job is first transcribed for real, then put back into the state a crash or a lost event
leaves behind: one chunk's partial transcript and the outputs gone, the record FAILED (for a
retry) or PROCESSING and unchanged for an hour with no execution running (for the sweeper). The
new run must transcribe that one chunk only, which the execution history shows: each Map
iteration's result says whether it reused a stored transcript.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import EventTap
from transcriber.domain.jobs import OUTPUT_FORMATS, iso_timestamp, output_key, partial_key
from transcriber.domain.options import JobOptions
from transcriber.domain.recovery import RETRY_BUDGET, STALLED, RetryRefusedError

LOST_CHUNK = 1


def _completed(pipeline: LocalPipeline, sample: Path, key: str) -> dict[str, Any]:
    submission = pipeline.submit(sample, key=key, options=JobOptions(dedupe=False))
    job = pipeline.wait(submission.job_id, timeout_s=300)
    assert job["status"] == "COMPLETED", job
    assert job["chunks_total"] >= 3  # 22.6 s in chunks of at most 8 s (tests/integration/conftest.py)
    return job


def _lose_a_chunk_and_the_outputs(pipeline: LocalPipeline, job: dict[str, Any], **record: Any) -> None:
    """What a run that died midway leaves: a missing partial, no outputs, a record that is stuck."""
    s3 = pipeline.aws.client("s3")
    bucket = pipeline.stack.results_bucket
    s3.delete_object(Bucket=bucket, Key=partial_key(job["job_id"], LOST_CHUNK))
    for fmt in OUTPUT_FORMATS:
        s3.delete_object(Bucket=bucket, Key=output_key(job["job_id"], fmt))
    names = {f"#n{i}": name for i, name in enumerate(record)}
    values = {f":v{i}": value for i, value in enumerate(record.values())}
    sets = ", ".join(f"#n{i} = :v{i}" for i in range(len(record)))
    pipeline.aws.resource("dynamodb").Table(pipeline.stack.jobs_table).update_item(
        Key={"job_id": job["job_id"]},
        UpdateExpression=f"SET {sets} REMOVE outputs, completed_at",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def _chunk_results(pipeline: LocalPipeline, execution: str) -> list[dict[str, Any]]:
    """The transcribe step's outcome for every chunk of one execution, from the transcribe
    function's logs: the Map's children are Express workflows, whose steps the parent's history
    does not show (in AWS as here), so their logs are where a chunk's outcome is read."""
    sfn = pipeline.aws.client("stepfunctions")
    started = sfn.describe_execution(executionArn=pipeline.workflow().execution_arn(execution))["startDate"]
    outcomes = {"Chunk transcribed": False, "Chunk already transcribed; reusing the checkpoint": True}
    results = []
    for log in (pipeline.aws.runtime.work_dir / "logs").glob("*TranscribeFunction*.log"):
        for line in log.read_text(errors="replace").splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            if record.get("message") in outcomes and execution.startswith(str(record.get("job_id"))):
                when = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z")
                if when >= started:
                    results.append({"index": record["chunk"], "reused": outcomes[record["message"]]})
    return sorted(results, key=lambda r: int(r["index"]))


def _assert_resumed(pipeline: LocalPipeline, job: dict[str, Any], execution: str) -> None:
    results = _chunk_results(pipeline, execution)
    assert [r["index"] for r in results] == list(range(job["chunks_total"]))
    # Only the chunk whose transcript was lost went through the engine again.
    assert [r["index"] for r in results if not r["reused"]] == [LOST_CHUNK]
    done = pipeline.job(job["job_id"])
    assert done is not None and done["status"] == "COMPLETED"
    assert done["chunks_done"] == done["chunks_total"] and done["progress"] == 100
    words = json.loads(pipeline.read_outputs(done)["json"])["transcript"].lower()
    assert "transcription pipeline" in words and "plain text" in words, words


def test_a_failed_job_retried_completes_transcribing_only_the_missing_chunk(
    pipeline: LocalPipeline, sample_flac: Path
) -> None:
    job = _completed(pipeline, sample_flac, "recovery/retried.flac")
    _lose_a_chunk_and_the_outputs(
        pipeline, job, status="FAILED", reason_code="INTERNAL_ERROR", error_message="worker lost"
    )

    requeued = pipeline.retry(job["job_id"])
    assert (requeued.attempt, requeued.execution) == (1, f"{job['job_id']}-r1")
    finished = pipeline.wait(job["job_id"], timeout_s=300)
    assert finished["status"] == "COMPLETED" and finished["attempts"] == 1, finished
    assert "reason_code" not in finished and "error_message" not in finished
    _assert_resumed(pipeline, finished, requeued.execution)
    with pytest.raises(RetryRefusedError, match="Only a FAILED job"):
        pipeline.retry(job["job_id"])


def test_the_sweeper_requeues_a_stalled_job_which_then_completes(
    pipeline: LocalPipeline, sample_flac: Path
) -> None:
    job = _completed(pipeline, sample_flac, "recovery/stalled.flac")
    an_hour_ago = iso_timestamp(datetime.now(UTC) - timedelta(hours=1))
    _lose_a_chunk_and_the_outputs(pipeline, job, status="PROCESSING", updated_at=an_hour_ago)

    report = pipeline.sweep()  # the first execution is over (SUCCEEDED): nothing is running
    (requeued,) = [r for r in report["requeued"] if r["job_id"] == job["job_id"]]
    assert requeued == {"job_id": job["job_id"], "attempt": 1, "execution": f"{job['job_id']}-r1"}
    finished = pipeline.wait(job["job_id"], timeout_s=300)
    assert finished["status"] == "COMPLETED" and finished["attempts"] == 1, finished
    _assert_resumed(pipeline, finished, requeued["execution"])
    # Swept again: the job is done, nothing happens to it.
    again = pipeline.sweep()
    assert job["job_id"] not in [r["job_id"] for r in again["requeued"]] + again["failed"]


def test_the_sweeper_fails_a_stalled_job_over_the_budget_with_its_reason(
    pipeline: LocalPipeline, event_tap: EventTap
) -> None:
    job_id = uuid.uuid4().hex
    an_hour_ago = iso_timestamp(datetime.now(UTC) - timedelta(hours=1))
    pipeline.aws.resource("dynamodb").Table(pipeline.stack.jobs_table).put_item(
        Item={
            "job_id": job_id,
            "status": "PROCESSING",
            "bucket": pipeline.stack.input_bucket,
            "key": "recovery/spent.flac",
            "options": {},
            "attempts": RETRY_BUDGET,
            "created_at": an_hour_ago,
            "updated_at": an_hour_ago,
        }
    )
    report = pipeline.sweep()
    assert job_id in report["failed"]
    job = pipeline.job(job_id)
    assert job is not None and job["status"] == "FAILED" and job["reason_code"] == STALLED
    assert "Upload the file again" in job["error_message"]
    (event,) = event_tap.for_job(job_id)
    assert event["detail-type"] == "Transcription Job Failed"
    assert event["detail"]["reason_code"] == STALLED and event["detail"]["key"] == "recovery/spent.flac"
    with pytest.raises(RetryRefusedError, match="already retried 3 times"):
        pipeline.retry(job_id)
