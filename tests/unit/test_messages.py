"""The typed messages: the committed event schemas are generated from them, and the step
payloads keep the JSON the state machine in infra/ already exchanges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.event_schemas import event_schema, event_schema_files
from transcriber.domain.jobs import EVENT_SOURCE, JOB_EVENT_TYPES
from transcriber.domain.messages import (
    JOB_EVENTS,
    AggregateRequest,
    ChunkRef,
    ChunkRequest,
    FailRequest,
    Job,
    JobCompleted,
    JobCreated,
    JobEvent,
    JobFailed,
    JobProgress,
    JobStarted,
    TranscribeRequest,
)
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import JobOptions

EVENTS_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"
JOB_ID = "0123456789abcdef0123456789abcdef"


def test_committed_event_schemas_are_generated_from_the_models() -> None:
    committed = {path.name: path.read_text() for path in EVENTS_DIR.glob("*.schema.json")}
    assert committed == event_schema_files(), "run: python -m transcriber.domain.event_schemas"
    assert {event.detail_type for event in JOB_EVENTS} == set(JOB_EVENT_TYPES)


def _samples() -> list[JobEvent]:
    source = {"job_id": JOB_ID, "bucket": "uploads", "key": "talk.flac"}
    outputs = {
        fmt: f"s3://results/transcripts/{JOB_ID}/transcript.{fmt}" for fmt in ("json", "srt", "vtt", "txt")
    }
    return [
        JobCreated(**source, size=10, sha256="ab" * 32),
        JobCreated(**source, status="COMPLETED", size=10, sha256="ab" * 32),
        JobStarted(**source, duration=22.6, chunks_total=3),
        JobProgress(**source, progress=33, chunks_done=1, chunks_total=3),
        JobCompleted(**source, language=None, duration=22.6, segments=4, outputs=outputs),
        JobFailed(job_id=JOB_ID, bucket=None, key=None, reason_code="TIMEOUT", message="too slow"),
    ]


@pytest.mark.parametrize("event", _samples(), ids=lambda e: type(e).__name__)
def test_events_built_from_the_models_match_their_schema(event: JobEvent) -> None:
    envelope = {"source": EVENT_SOURCE, "detail-type": event.detail_type, "detail": event.to_wire()}
    jsonschema.Draft202012Validator(event_schema(type(event))).validate(envelope)


def test_schemas_still_refuse_what_the_contract_forbids() -> None:
    validator = jsonschema.Draft202012Validator(event_schema(JobProgress))
    good = JobProgress(job_id=JOB_ID, bucket="uploads", key="k", progress=10, chunks_done=1, chunks_total=10)
    envelope: dict[str, Any] = {
        "source": EVENT_SOURCE,
        "detail-type": JobProgress.detail_type,
        "detail": good.to_wire(),
    }
    for broken in (
        {"job_id": "not-hex"},
        {"progress": 0},
        {"transcript": "text"},
        {"occurred_at": "yesterday"},
    ):
        bad = {**envelope, "detail": {**envelope["detail"], **broken}}
        assert not validator.is_valid(bad), broken


def test_event_details_keep_their_wire_shape() -> None:
    detail = JobFailed(job_id=JOB_ID, bucket="b", key="k", reason_code="STALLED", message="m").to_wire()
    assert set(detail) == {"occurred_at", "job_id", "status", "bucket", "key", "reason_code", "message"}
    assert detail["status"] == "FAILED"
    started = JobStarted(job_id=JOB_ID, bucket="b", key="k", duration=1.5, chunks_total=1).to_wire()
    assert (started["status"], started["progress"]) == ("PROCESSING", 0)


def test_the_execution_input_carries_only_chosen_options() -> None:
    job = Job.model_validate(
        {
            "job_id": JOB_ID,
            "status": "FAILED",
            "bucket": "b",
            "key": "k",
            "options": {"language": "de"},
            "x": 1,
        }
    )
    assert job.execution_input().to_wire() == {
        "job_id": JOB_ID,
        "bucket": "b",
        "key": "k",
        "options": {"language": "de"},
    }
    assert job.attempts == 0 and job.model_dump()["x"] == 1  # unknown fields of the record are kept
    assert ChunkRequest.model_validate({"job_id": JOB_ID, "bucket": "b", "key": "k"}).options == JobOptions()


def test_step_payloads_parse_as_the_state_machine_sends_them() -> None:
    chunk: dict[str, Any] = {
        "index": 2,
        "offset": 16.0,
        "duration": 8.0,
        "overlap": 0.5,
        "key": "work/j/chunks/chunk-0002.wav",
    }
    assert ChunkRef.model_validate(chunk).to_wire() == chunk
    assert ChunkRef.of(ChunkSpec(2, 16.0, 8.0, 0.5), chunk["key"]).to_wire() == chunk
    item = TranscribeRequest.model_validate(
        {"job_id": JOB_ID, "chunk": chunk, "language": "", "options": {"beam_size": 1}}
    )
    assert (item.language, item.options.beam_size, item.chunk.spec().index) == ("", 1, 2)
    aggregate = AggregateRequest.model_validate(
        {
            "job_id": JOB_ID,
            "bucket": "b",
            "key": "k",
            "duration": 24,
            "language": {"language": "", "source": "detected", "samples": 1},
            "manifest": {"bucket": "results", "key": "work/j/chunk-manifest.json"},
        }
    )
    assert aggregate.language.source == "detected" and aggregate.language.confidence is None
    assert aggregate.manifest.key == "work/j/chunk-manifest.json"
    failed = FailRequest.model_validate(
        {"job_id": JOB_ID, "bucket": "b", "key": "k", "error": {"Error": "X", "Cause": None}}
    )
    assert (failed.error.error, failed.error.cause) == ("X", "")
    assert FailRequest.model_validate({"job_id": JOB_ID}).error.error == "States.TaskFailed"


def test_invalid_options_in_a_step_payload_keep_their_reason() -> None:
    with pytest.raises(InvalidOptionsError):
        ChunkRequest.model_validate(
            {"job_id": JOB_ID, "bucket": "b", "key": "k", "options": {"beam_size": 99}}
        )
