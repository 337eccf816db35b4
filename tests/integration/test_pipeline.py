"""End to end on the local stack: a file dropped into the input bucket comes back transcribed."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from localrun.pipeline import LocalPipeline
from tests.conftest import ffmpeg
from tests.integration.conftest import EventTap
from transcriber.domain.formats import parse_srt, parse_vtt
from transcriber.domain.jobs import job_id_for
from transcriber.domain.options import JobOptions


@pytest.fixture(scope="module")
def completed(pipeline: LocalPipeline, event_tap: EventTap, sample_flac: Path) -> dict:
    # Transcribed afresh even if another test module already sent the sample (content reuse).
    submission = pipeline.submit(sample_flac, options=JobOptions(dedupe=False))
    job = pipeline.wait(submission.job_id, timeout_s=300)
    return {
        "submission": submission,
        "job": job,
        "outputs": pipeline.read_outputs(job) if job["status"] == "COMPLETED" else {},
    }


def test_job_record_is_completed_with_its_facts(completed: dict, sample_flac: Path) -> None:
    job = completed["job"]
    assert job["status"] == "COMPLETED", job
    assert job["bucket"] == completed["submission"].bucket and job["key"] == completed["submission"].key
    assert job["size"] == sample_flac.stat().st_size
    assert len(job["sha256"]) == 64
    assert job["duration"] == pytest.approx(22.56, abs=0.1)
    assert job["language"] == "en" and job["language_source"] == "detected"
    assert job["language_confidence"] > 0.5
    assert job["chunks_total"] >= 3  # 22.6 s with chunks of at most 8 s
    assert job["chunks_done"] == job["chunks_total"] and job["progress"] == 100
    assert job["segments"] >= 3
    assert job["processing_time_s"] > 0
    assert set(job["outputs"]) == {"json", "srt", "vtt", "txt"}


def test_the_four_outputs_agree_and_parse(completed: dict) -> None:
    job, outputs = completed["job"], completed["outputs"]
    import json

    document = json.loads(outputs["json"])
    assert document["job_id"] == job["job_id"]
    assert document["chunks"] == job["chunks_total"]
    assert document["language"] == "en"
    segments = document["segments"]
    assert [s["id"] for s in segments] == list(range(1, len(segments) + 1))
    srt = parse_srt(outputs["srt"])
    vtt = parse_vtt(outputs["vtt"])
    assert srt == vtt and len(srt) >= len(segments)  # the same cues; long segments give several
    # The cues carry exactly the transcript's words, in order, inside the segments' time span.
    assert " ".join(text for _, _, text in srt).split() == document["transcript"].split()
    for (start, end, _), (next_start, _, _) in pairwise(srt):
        assert start <= end <= next_start
    assert srt[0][0] >= segments[0]["start"] - 0.001 and srt[-1][1] <= segments[-1]["end"] + 0.001
    for block in outputs["srt"].strip().split("\n\n"):
        lines = block.splitlines()[2:]
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
    assert outputs["txt"].split() == document["transcript"].split()
    # Whisper hears the synthetic speech of samples/sample.txt through the whole pipeline.
    words = document["transcript"].lower()
    for phrase in ("transcription pipeline", "speech synthesizer", "transcribed in parallel", "plain text"):
        assert phrase in words, words


def test_timestamps_increase_and_stay_within_the_audio(completed: dict) -> None:
    import json

    document = json.loads(completed["outputs"]["json"])
    starts = [s["start"] for s in document["segments"]]
    assert starts == sorted(starts)
    for seg in document["segments"]:
        assert 0 <= seg["start"] <= seg["end"] <= document["duration"] + 1e-3
    # Later chunks keep their true offsets: speech is found in the last third of the file too.
    assert max(s["end"] for s in document["segments"]) > 0.66 * document["duration"]


def test_map_ran_chunks_in_parallel(completed: dict, pipeline: LocalPipeline) -> None:
    peak, workers = pipeline.aws.runtime.stats.busiest("TranscribeFunction")
    assert workers == 2  # two warm workers, each reused (the model loads once per worker)
    assert peak == 2  # chunks really were transcribed at the same time


def test_events_tell_downstream_what_happened(completed: dict, event_tap: EventTap) -> None:
    job = completed["job"]
    events = event_tap.until(job["job_id"], "Transcription Job Completed")
    kinds = [e["detail-type"] for e in events]
    assert kinds.count("Transcription Job Created") == 1
    assert kinds.count("Transcription Job Completed") == 1
    done = next(e for e in events if e["detail-type"] == "Transcription Job Completed")
    assert done["detail"]["outputs"] == job["outputs"]
    assert done["source"] == "audio.transcriber"


def test_a_repeated_upload_event_starts_no_second_job(completed: dict, pipeline: LocalPipeline) -> None:
    """S3 delivers at least once: the same event again changes nothing."""
    submission = completed["submission"]
    s3 = pipeline.aws.client("s3")
    head = s3.head_object(Bucket=submission.bucket, Key=submission.key)
    sfn = pipeline.aws.client("stepfunctions")
    before = sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    lam = pipeline.aws.client("lambda")
    ingest = next(
        f["FunctionName"] for f in lam.list_functions()["Functions"] if "IngestFunction" in f["FunctionName"]
    )
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": submission.bucket},
                    "object": {
                        "key": submission.key,
                        "size": head["ContentLength"],
                        "eTag": head["ETag"].strip('"'),
                    },
                },
            }
        ]
    }
    import json

    lam.invoke(FunctionName=ingest, Payload=json.dumps(event))
    after = sfn.list_executions(stateMachineArn=pipeline.stack.state_machine_arn)["executions"]
    assert len(after) == len(before)
    job = pipeline.job(submission.job_id)
    assert job is not None and job["status"] == "COMPLETED"


def test_a_text_file_named_mp3_fails_with_a_clear_reason(
    pipeline: LocalPipeline, event_tap: EventTap, tmp_path: Path
) -> None:
    fake = tmp_path / "notes.mp3"
    fake.write_text("These are meeting notes, not audio.\n" * 20)
    submission = pipeline.submit(fake)
    job = pipeline.wait(submission.job_id, timeout_s=60)
    assert job["status"] == "FAILED"
    assert job["reason_code"] == "UNSUPPORTED_FORMAT"
    assert "mp3" in job["error_message"].lower() or "audio" in job["error_message"].lower()
    kinds = [e["detail-type"] for e in event_tap.until(submission.job_id, "Transcription Job Failed")]
    assert kinds == ["Transcription Job Failed"]


def test_corrupt_audio_fails_in_the_state_machine_with_its_reason(
    pipeline: LocalPipeline, tmp_path: Path
) -> None:
    """A file that sniffs as FLAC but does not decode gets past ingest and fails in the chunk step."""
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(range(256)) * 64)
    submission = pipeline.submit(broken)
    job = pipeline.wait(submission.job_id, timeout_s=120)
    assert job["status"] == "FAILED"
    assert job["reason_code"] in {"CORRUPT_AUDIO", "NO_AUDIO_STREAM"}
    assert pipeline.workflow().status(submission.job_id) == "FAILED"


@pytest.mark.parametrize("fmt", ["mp3", "ogg", "m4a"])
def test_other_containers_go_through(
    pipeline: LocalPipeline, sample_flac: Path, tmp_path: Path, fmt: str
) -> None:
    converted = tmp_path / f"sample.{fmt}"
    ffmpeg("-i", str(sample_flac), "-t", "8", "-ac", "2", "-ar", "44100", str(converted))
    submission = pipeline.submit(converted)
    job = pipeline.wait(submission.job_id, timeout_s=180)
    assert job["status"] == "COMPLETED", job
    assert job["duration"] == pytest.approx(8.0, abs=0.2)
    # One chunk: no separate vote; the engine detected the language while transcribing it.
    assert job["chunks_total"] == 1 and job["language"] == "en" and job["language_source"] == "detected"


def test_per_job_options_are_honoured_end_to_end(
    completed: dict, pipeline: LocalPipeline, sample_flac: Path
) -> None:
    import json

    options = JobOptions(language="en", beam_size=1, word_timestamps=False, max_chunk_seconds=20)
    submission = pipeline.submit(sample_flac, options=options)
    job = pipeline.wait(submission.job_id, timeout_s=300)
    assert job["status"] == "COMPLETED", job
    assert job["options"] == options.to_dict()
    assert job["language"] == "en" and job["language_source"] == "requested"
    # 22.6 s in chunks of at most 20 s: fewer than with the stack's own 8 s.
    assert 2 <= job["chunks_total"] < completed["job"]["chunks_total"]
    document = json.loads(pipeline.read_outputs(job)["json"])
    assert document["segments"] and all("words" not in s for s in document["segments"])
    assert "transcription pipeline" in document["transcript"].lower()


def test_a_language_the_engine_does_not_know_fails_at_intake(
    pipeline: LocalPipeline, sample_flac: Path
) -> None:
    # Options set on the object by any S3 client, not only through JobOptions (which would refuse).
    s3, bucket = pipeline.aws.client("s3"), pipeline.stack.input_bucket
    put = s3.put_object(
        Bucket=bucket,
        Key="elvish.flac",
        Body=sample_flac.read_bytes(),
        Metadata={"transcribe-language": "elvish"},
    )
    job = pipeline.wait(job_id_for(bucket, "elvish.flac", put["ETag"]), timeout_s=60)
    assert job["status"] == "FAILED" and job["reason_code"] == "INVALID_OPTIONS"
    assert "ISO 639-1" in job["error_message"]


def test_the_same_audio_uploaded_again_reuses_the_transcript(
    completed: dict, pipeline: LocalPipeline, sample_flac: Path
) -> None:
    def transcribe_invocations() -> int:
        runs = pipeline.aws.runtime.stats.runs
        return sum(len(calls) for name, calls in runs.items() if "TranscribeFunction" in name)

    transcribed = transcribe_invocations()
    submission = pipeline.submit(sample_flac, key="again/the same talk.flac")
    job = pipeline.wait(submission.job_id, timeout_s=60)
    assert job["status"] == "COMPLETED" and job["key"] == "again/the same talk.flac"
    original = completed["job"]
    assert job["duplicate_of"] == original["job_id"] != job["job_id"]
    assert job["outputs"] == original["outputs"] and job["language"] == original["language"]
    assert transcribe_invocations() == transcribed  # no language detection, no chunk transcribed
