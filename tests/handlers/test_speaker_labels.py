"""Speaker labels through the real handlers on moto: chunk -> transcribe (embeddings in S3) ->
the diarize action -> aggregate (labels applied), and the failures that must fail the job."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.fail import handler as fail
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked
from tests.speaker_audio import two_speaker_conversation, who_spoke
from transcriber.domain.errors import DiarizationError

OPTIONS = {"speaker_labels": True, "max_chunk_seconds": 20}


@pytest.fixture
def conversation_job(aws: Aws) -> tuple[dict[str, Any], Any]:
    conversation = two_speaker_conversation()
    aws.s3.put_object(Bucket="uploads", Key="in/talk.wav", Body=conversation.wav)
    aws.table.put_item(
        Item={
            "job_id": "job1",
            "status": "PENDING",
            "bucket": "uploads",
            "key": "in/talk.wav",
            "created_at": "2026-11-24T12:00:00.000Z",
        }
    )
    return {"job_id": "job1", "bucket": "uploads", "key": "in/talk.wav", "options": OPTIONS}, conversation


@pytest.fixture
def chunked_job(
    context: FakeContext, conversation_job: tuple[dict[str, Any], Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The conversation's job and what the chunk handler made of it (its manifest read back)."""
    job, _ = conversation_job
    return job, chunked(chunk.handler(job, context))


def _body(aws: Aws, key: str) -> str:
    return str(aws.s3.get_object(Bucket="results", Key=key)["Body"].read().decode())


def test_speakers_are_labelled_across_chunks_and_match_who_spoke(
    aws: Aws, context: FakeContext, conversation_job: tuple[dict[str, Any], Any]
) -> None:
    job, conversation = conversation_job
    prepared = chunked(chunk.handler(job, context))
    assert len(prepared["chunks"]) >= 2  # one clustering must join the chunks' labels
    for ref in prepared["chunks"]:
        out = transcribe.handler({"job_id": "job1", "chunk": ref, "options": OPTIONS}, context)
        assert out["reused"] is False
        head = aws.s3.head_object(Bucket="results", Key=f"work/job1/speakers/chunk-{ref['index']:04d}.npz")
        assert head["ContentLength"] > 0
    speakers = transcribe.handler(
        {"action": "diarize", "job_id": "job1", "manifest": prepared["manifest"], "options": OPTIONS}, context
    )
    assert speakers == {"key": "work/job1/speakers/turns.json", "speakers": 2}
    assert len(json.dumps(speakers)) < 200  # the state carries a reference, never embeddings

    aggregate.handler(
        {
            **job,
            "duration": prepared["duration"],
            "manifest": prepared["manifest"],
            "language": {"language": "en"},
        },
        context,
    )
    document = json.loads(_body(aws, "transcripts/job1/transcript.json"))
    assert [s["label"] for s in document["speakers"]] == ["spk_0", "spk_1"]
    assert all(s["name"] is None and s["seconds"] > 3 for s in document["speakers"])
    mapping: dict[str, set[str]] = {}
    for segment in document["segments"]:
        assert segment["speaker"] in ("spk_0", "spk_1")
        assert {w["speaker"] for w in segment.get("words", [])} <= {segment["speaker"]}  # split at changes
        truth = who_spoke(conversation.turns, segment["start"], segment["end"])
        if truth:
            mapping.setdefault(segment["speaker"], set()).add(truth)
    assert mapping == {"spk_0": {"A"}, "spk_1": {"B"}}  # one label per person, the right one
    assert "spk_0:" in _body(aws, "transcripts/job1/transcript.srt")
    assert "<v spk_1>" in _body(aws, "transcripts/job1/transcript.vtt")
    assert _body(aws, "transcripts/job1/transcript.txt").startswith("spk_0:")
    record = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert record["status"] == "COMPLETED" and [s["label"] for s in record["speakers"]] == ["spk_0", "spk_1"]


def test_a_retried_chunk_computes_only_the_missing_embeddings(
    aws: Aws, context: FakeContext, conversation_job: tuple[dict[str, Any], Any]
) -> None:
    job, _ = conversation_job
    ref = chunked(chunk.handler(job, context))["chunks"][0]
    transcribe.handler({"job_id": "job1", "chunk": ref}, context)  # transcribed without speakers
    done = int(aws.table.get_item(Key={"job_id": "job1"})["Item"]["chunks_done"])
    out = transcribe.handler({"job_id": "job1", "chunk": ref, "options": OPTIONS}, context)
    assert out["reused"] is True
    assert aws.s3.head_object(Bucket="results", Key="work/job1/speakers/chunk-0000.npz")
    assert int(aws.table.get_item(Key={"job_id": "job1"})["Item"]["chunks_done"]) == done  # counted once


def test_missing_embeddings_fail_the_job_as_diarization_failed(
    aws: Aws, context: FakeContext, chunked_job: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    job, prepared = chunked_job
    request = {"action": "diarize", "job_id": "job1", "manifest": prepared["manifest"], "options": OPTIONS}
    with pytest.raises(DiarizationError, match="missing"):
        transcribe.handler(request, context)
    # What the state machine's Catch hands to MarkFailed: the error's name and message.
    fail.handler({**job, "error": {"Error": "DiarizationError", "Cause": "embeddings missing"}}, context)
    record = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert record["status"] == "FAILED" and record["reason_code"] == "DIARIZATION_FAILED"


def test_aggregate_refuses_to_drop_labels_it_was_asked_for(
    aws: Aws, context: FakeContext, chunked_job: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    job, prepared = chunked_job
    for ref in prepared["chunks"]:
        transcribe.handler({"job_id": "job1", "chunk": ref}, context)
    request = {**job, "duration": prepared["duration"], "manifest": prepared["manifest"]}
    with pytest.raises(DiarizationError, match="no speaker turns"):
        aggregate.handler(request, context)
    # Without speaker labels the record and outputs are as they always were.
    aggregate.handler({**request, "options": {}}, context)
    record = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert record["status"] == "COMPLETED" and "speakers" not in record
    document = json.loads(_body(aws, "transcripts/job1/transcript.json"))
    assert "speakers" not in document and all("speaker" not in s for s in document["segments"])


def test_a_corrupt_embeddings_file_fails_the_job_as_diarization_failed(
    aws: Aws, context: FakeContext, chunked_job: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, prepared = chunked_job
    for ref in prepared["chunks"]:
        key = f"work/job1/speakers/chunk-{ref['index']:04d}.npz"
        aws.s3.put_object(Bucket="results", Key=key, Body=b"not an npz")
    request = {"action": "diarize", "job_id": "job1", "manifest": prepared["manifest"], "options": OPTIONS}
    with pytest.raises(DiarizationError, match="could not be computed"):
        transcribe.handler(request, context)
