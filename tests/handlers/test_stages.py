"""chunk -> transcribe -> aggregate, and the failure step, each called as Step Functions calls it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.fail import handler as fail
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked
from transcriber.domain.chunking import write_chunk_wav
from transcriber.domain.errors import CorruptAudioError, InvalidOptionsError
from transcriber.domain.formats import parse_srt, parse_vtt
from transcriber.domain.messages import ChunkRequest
from transcriber.stages.deleted import JobDeletedError


@pytest.fixture
def pending_job(aws: Aws, sample_flac: Path) -> dict:
    aws.s3.put_object(Bucket="uploads", Key="in/sample.flac", Body=sample_flac.read_bytes())
    aws.table.put_item(
        Item={
            "job_id": "job1",
            "status": "PENDING",
            "bucket": "uploads",
            "key": "in/sample.flac",
            "created_at": "2026-11-24T12:00:00.000Z",
        }
    )
    return {"job_id": "job1", "bucket": "uploads", "key": "in/sample.flac"}


def test_chunk_stores_the_audio_once_and_returns_only_references(
    aws: Aws, context: FakeContext, pending_job: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "8")
    out = chunked(chunk.handler(pending_job, context))
    assert out["duration"] == pytest.approx(22.56, abs=0.05)
    chunks = out["chunks"]
    assert len(chunks) >= 3
    assert len(json.dumps(out)) < 2000  # references, not audio
    assert sorted(c["index"] for c in chunks) == list(range(len(chunks)))
    durations = [c["duration"] for c in chunks]
    assert durations == sorted(durations, reverse=True)  # longest first: the Map's workers finish together
    # One stored WAV (and the manifest), not a copy of every chunk: each chunk is a byte range of it.
    stored = {o["Key"] for o in aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/")["Contents"]}
    assert stored == {"work/job1/audio.wav", out["manifest"]["key"]}
    audio = aws.s3.get_object(Bucket="results", Key="work/job1/audio.wav")["Body"].read()
    assert audio[:4] == b"RIFF"
    for c in chunks:
        assert c["duration"] <= 8.0 + 1e-6 and c["key"] == "work/job1/audio.wav"
        first, stop = c["byte_range"]
        assert first >= 44 and stop <= len(audio)
        assert (stop - first) / 32_000 == pytest.approx(c["duration"], abs=0.001)  # 16 kHz, 16-bit mono
    offsets = [c["offset"] for c in sorted(chunks, key=lambda c: c["index"])]
    assert offsets == sorted(offsets) and offsets[0] < 1.0
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "PROCESSING" and int(job["chunks_total"]) == len(chunks)


def test_transcribe_then_aggregate_complete_the_job(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    prepared = chunked(chunk.handler(pending_job, context))
    refs = [transcribe.handler({"job_id": "job1", "chunk": c}, context) for c in prepared["chunks"]]
    assert all(not r["reused"] for r in refs)
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert int(job["chunks_done"]) == len(refs) and int(job["progress"]) == 100
    # A retried iteration finds its checkpoint and does not transcribe again.
    again = transcribe.handler({"job_id": "job1", "chunk": prepared["chunks"][0]}, context)
    assert again["reused"] is True

    result = aggregate.handler(
        {**pending_job, "duration": prepared["duration"], "manifest": prepared["manifest"]}, context
    )
    assert result["status"] == "COMPLETED"
    # The converted WAV the chunks were read from is not kept once the transcript exists.
    assert prepared["chunks"][0]["key"] == "work/job1/audio.wav"
    work = [o["Key"] for o in aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/")["Contents"]]
    assert work and not [key for key in work if key.startswith("work/job1/audio")]
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "COMPLETED" and job["language"] == "en"
    assert set(job["outputs"]) == {"json", "srt", "vtt", "txt"}
    srt = aws.s3.get_object(Bucket="results", Key="transcripts/job1/transcript.srt")["Body"].read().decode()
    vtt = aws.s3.get_object(Bucket="results", Key="transcripts/job1/transcript.vtt")["Body"].read().decode()
    cues = parse_srt(srt)
    assert cues == parse_vtt(vtt) and len(cues) >= int(job["segments"]) > 0
    # chunk and transcribe also report "started" and "progress" (tests/handlers/test_job_events.py).
    events = aws.events()
    kinds = [e["detail-type"] for e in events]
    assert kinds[0] == "Transcription Job Started" and kinds.count("Transcription Job Completed") == 1
    event = events[-1]
    assert event["detail-type"] == "Transcription Job Completed"
    assert "transcript" not in event["detail"]  # events stay small: no transcript text


def test_a_chunk_step_for_a_job_deleted_meanwhile_leaves_nothing_in_work(
    aws: Aws, context: FakeContext, pending_job: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner deletes the job while the chunk step writes (here: as the manifest is written, the
    step's last write): the step finds the tombstone afterwards and removes the WAV and the manifest."""
    from transcriber.stages import chunk as chunk_stage

    real_write = chunk_stage.write_manifest

    def delete_then_write(*args: Any, **kwargs: Any) -> Any:
        aws.table.update_item(
            Key={"job_id": "job1"},
            UpdateExpression="SET #s = :d",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":d": "DELETED"},
        )
        return real_write(*args, **kwargs)

    monkeypatch.setattr(chunk_stage, "write_manifest", delete_then_write)
    with pytest.raises(JobDeletedError):
        chunk.handler(pending_job, context)
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/")


def test_a_decode_that_outlasts_the_function_fails_with_its_own_reason(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    """ffmpeg gets the function's time left less what the step needs after it: a decode that
    cannot finish in time is a CORRUPT_AUDIO failure the user can act on, not a Lambda timeout."""
    from transcriber import wiring
    from transcriber.env import ChunkEnv
    from transcriber.stages.chunk import chunk_audio

    env = ChunkEnv()
    request = ChunkRequest.model_validate(pending_job)
    with pytest.raises(CorruptAudioError, match=r"took longer than 0\.001 s") as failed:
        chunk_audio(
            request,
            ports=wiring.ports(env),
            config=env.chunking(),
            max_duration_s=3600,
            decode_budget_s=0.001,
        )
    assert failed.value.reason_code == "CORRUPT_AUDIO"
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/")


def test_a_chunk_stored_as_its_own_wav_is_still_transcribed(
    aws: Aws, context: FakeContext, pending_job: dict, tmp_path: Path
) -> None:
    """A manifest written before the audio was stored whole (an execution in flight across the
    deploy) names a WAV per chunk and no byte range: transcribe reads that object as before."""
    prepared = chunked(chunk.handler(pending_job, context))
    ref = prepared["chunks"][0]
    first, stop = ref.pop("byte_range")
    audio = aws.s3.get_object(Bucket="results", Key=ref["key"])["Body"].read()
    own = write_chunk_wav(tmp_path / "chunk.wav", audio[first:stop])
    ref["key"] = "work/job1/chunks/chunk-0000.wav"
    aws.s3.put_object(Bucket="results", Key=ref["key"], Body=own.read_bytes())
    aws.s3.delete_object(Bucket="results", Key="work/job1/audio.wav")  # only the chunk's own WAV is left
    assert transcribe.handler({"job_id": "job1", "chunk": ref}, context)["reused"] is False
    partial = json.loads(
        aws.s3.get_object(Bucket="results", Key="work/job1/partials/chunk-0000.json")["Body"].read()
    )
    assert partial["segments"] and partial["language"] == "en"


def test_fail_marks_the_job_failed_once_with_the_reason(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    error = {
        "Error": "CorruptAudioError",
        "Cause": json.dumps({"errorType": "CorruptAudioError", "errorMessage": "ffmpeg could not decode it"}),
    }
    out = fail.handler({**pending_job, "error": error}, context)
    assert out["reason_code"] == "CORRUPT_AUDIO"
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "FAILED" and job["error_message"] == "ffmpeg could not decode it"
    fail.handler({**pending_job, "error": error}, context)  # a repeat sends no second event
    assert [e["detail-type"] for e in aws.events()] == ["Transcription Job Failed"]


def test_a_completed_job_is_not_moved_to_failed(aws: Aws, context: FakeContext, pending_job: dict) -> None:
    aws.table.update_item(
        Key={"job_id": "job1"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "COMPLETED"},
    )
    fail.handler({**pending_job, "error": {"Error": "States.Timeout", "Cause": ""}}, context)
    assert aws.table.get_item(Key={"job_id": "job1"})["Item"]["status"] == "COMPLETED"
    assert aws.events() == []


def test_options_reach_chunking_detection_and_the_engine(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    options = {"max_chunk_seconds": 20, "word_timestamps": False}
    prepared = chunked(chunk.handler({**pending_job, "options": options}, context))
    assert len(prepared["chunks"]) >= 2 and all(c["duration"] <= 20.0 + 1e-6 for c in prepared["chunks"])
    # No language named: each chunk is decoded in the one it detects (pocketsphinx hears English only).
    # An execution started before the vote moved after the fan-out still asks DetectLanguage:
    # it is told to do the same.
    detect = transcribe.handler(
        {"action": "detect_language", "job_id": "job1", "manifest": prepared["manifest"]}, context
    )
    assert detect == {"language": "", "source": "detected", "confidence": None, "samples": 0}
    refs = [
        transcribe.handler({"job_id": "job1", "chunk": c, "language": "", "options": options}, context)
        for c in prepared["chunks"]
    ]
    partial = json.loads(aws.s3.get_object(Bucket="results", Key=refs[0]["key"])["Body"].read())
    assert partial["segments"] and all("words" not in s for s in partial["segments"])
    aggregate.handler(
        {
            **pending_job,
            "duration": prepared["duration"],
            "language": detect,
            "manifest": prepared["manifest"],
        },
        context,
    )
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["language"] == "en" and job["language_source"] == "detected"
    assert float(job["language_confidence"]) == 1.0  # every chunk voted English


def test_chunks_heard_in_another_language_are_decoded_again_before_the_job_completes(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    """The aggregate step votes over the chunks' own detections; a chunk the vote overrules goes
    back (REDO) and is decoded in the job's language, replacing its result. It joins the job's
    work while it runs: chunks_total grows and the percentage steps back below 100."""
    prepared = chunked(chunk.handler({**pending_job, "options": {"max_chunk_seconds": 10}}, context))
    chunks = sorted(prepared["chunks"], key=lambda c: c["index"])
    assert len(chunks) >= 3
    for c in chunks:
        transcribe.handler({"job_id": "job1", "chunk": c, "language": ""}, context)
    # One chunk heard as German (what Whisper may make of a quiet or accented stretch).
    key = f"work/job1/partials/chunk-{chunks[1]['index']:04d}.json"
    stored = json.loads(aws.s3.get_object(Bucket="results", Key=key)["Body"].read())
    assert stored["language"] == "en" and stored["detection"]["probabilities"] == {"en": 1.0}
    german = {**stored, "language": "de", "detection": {"probabilities": {"de": 0.8}, "speech_seconds": 2.0}}
    aws.s3.put_object(Bucket="results", Key=key, Body=json.dumps(german).encode())
    request = {
        **pending_job,
        "duration": prepared["duration"],
        "language": {"language": "", "source": "detected", "samples": 0},
        "manifest": prepared["manifest"],
        "redo_allowed": True,
    }
    aws.events()  # the first pass's progress events

    answer = aggregate.handler(request, context)

    assert answer["status"] == "REDO" and answer["outputs"] == {}
    redo = answer["redo"]
    assert redo["chunks"] == 1 and redo["language"]["language"] == "en"
    assert redo["language"]["samples"] == len(chunks) and redo["language"]["source"] == "detected"
    sent_back = json.loads(aws.s3.get_object(Bucket="results", Key=redo["manifest"]["key"])["Body"].read())
    assert [c["index"] for c in sent_back] == [chunks[1]["index"]]
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    total = len(chunks) + 1
    assert job["status"] == "PROCESSING"
    assert (int(job["chunks_done"]), int(job["chunks_total"])) == (len(chunks), total)
    assert int(job["progress"]) == 100 * len(chunks) // total < 100
    [stepped_back] = [e["detail"] for e in aws.events() if e["detail-type"] == "Transcription Job Progress"]
    assert (stepped_back["progress"], stepped_back["chunks_total"]) == (100 * len(chunks) // total, total)
    assert aggregate.handler(request, context)["status"] == "REDO"  # the step retried: counted once
    assert int(aws.table.get_item(Key={"job_id": "job1"})["Item"]["chunks_total"]) == total

    # RedoChunks: the chunk again, in the voted language; its old result is replaced, not reused.
    again = transcribe.handler({"job_id": "job1", "chunk": sent_back[0], "language": "en"}, context)
    assert again["reused"] is False
    assert json.loads(aws.s3.get_object(Bucket="results", Key=key)["Body"].read())["language"] == "en"
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert (int(job["chunks_done"]), int(job["chunks_total"]), int(job["progress"])) == (total, total, 100)
    assert transcribe.handler({"job_id": "job1", "chunk": sent_back[0], "language": "en"}, context)["reused"]
    assert int(aws.table.get_item(Key={"job_id": "job1"})["Item"]["chunks_done"]) == total  # a retry: once
    done = aggregate.handler({**request, "language": redo["language"]}, context)

    assert done["status"] == "COMPLETED"
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "COMPLETED" and job["language"] == "en" and job["language_source"] == "detected"
    assert 0.5 < float(job["language_confidence"]) < 1.0
    assert int(job["chunks_done"]) == int(job["chunks_total"]) == len(chunks)  # the file's chunks again
    assert job.get("warnings", []) == []


def test_an_execution_that_cannot_send_chunks_back_completes_with_a_warning(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    """An execution started before the state machine had RedoChunks (a deploy in between) asks
    without ``redo_allowed``: the job completes, the overruled chunk keeps the language it was
    heard in, and the record says so and how to get one language throughout."""
    prepared = chunked(chunk.handler({**pending_job, "options": {"max_chunk_seconds": 10}}, context))
    chunks = sorted(prepared["chunks"], key=lambda c: c["index"])
    for c in chunks:
        transcribe.handler({"job_id": "job1", "chunk": c, "language": ""}, context)
    key = f"work/job1/partials/chunk-{chunks[1]['index']:04d}.json"
    stored = json.loads(aws.s3.get_object(Bucket="results", Key=key)["Body"].read())
    german = {**stored, "language": "de", "detection": {"probabilities": {"de": 0.8}, "speech_seconds": 2.0}}
    aws.s3.put_object(Bucket="results", Key=key, Body=json.dumps(german).encode())

    answer = aggregate.handler(
        {
            **pending_job,
            "duration": prepared["duration"],
            "language": {"language": "", "source": "detected", "samples": 0},
            "manifest": prepared["manifest"],
        },
        context,
    )

    assert answer["status"] == "COMPLETED" and answer.get("redo") is None
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "COMPLETED" and job["language"] == "en"
    [warning] = job["warnings"]
    assert "1 part(s)" in warning and "'en'" in warning and "language option" in warning
    assert json.loads(aws.s3.get_object(Bucket="results", Key=key)["Body"].read())["language"] == "de"


def test_chunks_that_kept_no_detection_leave_the_language_to_the_merge(
    aws: Aws, context: FakeContext, pending_job: dict
) -> None:
    """A job started before chunks kept their detection (a deploy in between) still completes as
    detected, in the chunks' language, and sends nothing back."""
    prepared = chunked(chunk.handler(pending_job, context))
    for c in prepared["chunks"]:
        transcribe.handler({"job_id": "job1", "chunk": c, "language": "en"}, context)  # stores no detection
    detect = {"language": "", "source": "detected", "samples": 0}
    answer = aggregate.handler(
        {
            **pending_job,
            "duration": prepared["duration"],
            "language": detect,
            "manifest": prepared["manifest"],
        },
        context,
    )
    assert answer["status"] == "COMPLETED"
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["language"] == "en" and job["language_source"] == "detected"


def test_a_language_the_engine_cannot_transcribe_is_a_permanent_error(
    context: FakeContext, pending_job: dict
) -> None:
    prepared = chunked(chunk.handler(pending_job, context))
    with pytest.raises(InvalidOptionsError, match="English only"):
        transcribe.handler({"job_id": "job1", "chunk": prepared["chunks"][0], "language": "de"}, context)
