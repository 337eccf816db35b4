"""Channel identification through the real chunk, transcribe and aggregate handlers (moto, pocketsphinx)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.aggregate import handler as aggregate
from functions.chunk import handler as chunk
from functions.transcribe import handler as transcribe
from tests.conftest import ffmpeg
from tests.handlers.conftest import Aws, FakeContext, chunked
from transcriber.domain.channels import MONO_NOTE


def start_job(aws: Aws, path: Path, key: str) -> dict:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=path.read_bytes())
    aws.table.put_item(Item={"job_id": "job1", "status": "PENDING", "bucket": "uploads", "key": key})
    return {"job_id": "job1", "bucket": "uploads", "key": key, "options": {"channel_identification": True}}


def run_job(job: dict, context: FakeContext) -> dict:
    prepared = chunked(chunk.handler(job, context))
    for ref in prepared["chunks"]:
        transcribe.handler({"job_id": "job1", "chunk": ref, "language": "en"}, context)
    request = {**job, "duration": prepared["duration"], "manifest": prepared["manifest"]}
    aggregate.handler({k: v for k, v in request.items() if k != "options"}, context)
    return prepared


@pytest.fixture
def stereo_sample(sample_flac: Path, tmp_path: Path) -> Path:
    """The sample on the left channel; the right channel holds the same speech 12 s later, so each
    channel's chunks start at different times."""
    out = tmp_path / "stereo.flac"
    ffmpeg(
        "-i", str(sample_flac),
        "-filter_complex",
        "[0:a]asplit[a][b];[b]adelay=12000[c];[a]apad[d];[d][c]amerge=inputs=2,atrim=0:35[out]",
        "-map", "[out]", "-ac", "2", str(out),
    )  # fmt: skip
    return out


def test_a_stereo_upload_is_chunked_per_channel_and_merged_with_labels(
    aws: Aws, context: FakeContext, stereo_sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CHUNK_SECONDS", "8")
    prepared = run_job(start_job(aws, stereo_sample, "in/call.flac"), context)
    chunks = prepared["chunks"]
    assert {c["channel"] for c in chunks} == {0, 1}
    assert sorted(c["index"] for c in chunks) == list(range(len(chunks)))
    assert min(c["offset"] for c in chunks if c["channel"] == 1) >= 11.0
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "COMPLETED" and int(job["channels"]) == 2 and "channel_note" not in job
    body = aws.s3.get_object(Bucket="results", Key="transcripts/job1/transcript.json")["Body"].read()
    document = json.loads(body)
    segments = document["segments"]
    assert {(s["channel"], s["speaker"]) for s in segments} == {(0, "ch_0"), (1, "ch_1")}
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert min(s["start"] for s in segments if s["channel"] == 1) >= 11.0
    assert [entry["label"] for entry in document["speakers"]] == ["ch_0", "ch_1"]


def test_a_mono_upload_with_channel_identification_is_one_channel_and_noted(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    prepared = run_job(start_job(aws, sample_flac, "in/sample.flac"), context)
    assert {c["channel"] for c in prepared["chunks"]} == {0}
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "COMPLETED"
    assert int(job["channels"]) == 1 and job["channel_note"] == MONO_NOTE
    body = aws.s3.get_object(Bucket="results", Key="transcripts/job1/transcript.json")["Body"].read()
    assert {s["speaker"] for s in json.loads(body)["segments"]} == {"ch_0"}
