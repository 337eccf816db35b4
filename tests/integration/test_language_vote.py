"""A job that names no language: each chunk is decoded in the language it detects, the aggregate
step votes, and a chunk heard in another language goes through RedoChunks on the real state
machine before the job completes in one language.

The input is built here from ../shared/eval (read in place, never copied into the repo): three
English LibriSpeech readings, then the opening of a German reading, with pauses between them, so
that at this stack's 8-second chunks the German stretch is a chunk of its own and outvoted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localrun.pipeline import LocalPipeline
from tests.conftest import ffmpeg
from tests.integration.conftest import EventTap
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_PROGRESS, partial_key
from transcriber.domain.options import JobOptions
from transcriber.stages.manifest import manifest_key

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval"
EVAL = EVAL if EVAL.is_dir() else Path("/work/shared/eval")
ENGLISH = [
    EVAL / "librispeech" / name
    for name in ("1089-134686-0000.flac", "1221-135766-0002.wav", "1089-134686-0001.flac")
]
GERMAN = EVAL / "longform" / "aeneas_de.mp3"
GERMAN_S = 7.0

pytestmark = pytest.mark.skipif(
    not all(p.exists() for p in [*ENGLISH, GERMAN]), reason="no ../shared/eval recordings"
)


@pytest.fixture(scope="module")
def english_then_german(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The file, and the second at which the German starts."""
    folder = tmp_path_factory.mktemp("languages")
    pieces: list[Path] = []
    for index, source in enumerate([*ENGLISH, GERMAN]):
        piece = folder / f"{index}.wav"
        trim = ["-t", str(GERMAN_S)] if source == GERMAN else []
        ffmpeg("-i", str(source), *trim, "-af", "apad=pad_dur=1.5", "-ac", "1", "-ar", "16000", str(piece))
        pieces.append(piece)
    listing = folder / "pieces.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in pieces))
    out = folder / "english-then-german.wav"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    german_start = sum(_seconds(p) for p in pieces[:-1])
    return out, german_start


def _seconds(wav: Path) -> float:
    import wave

    with wave.open(str(wav), "rb") as f:
        return f.getnframes() / f.getframerate()


def test_a_chunk_heard_in_another_language_is_decoded_again_in_the_jobs(
    pipeline: LocalPipeline, event_tap: EventTap, english_then_german: tuple[Path, float]
) -> None:
    audio, german_start = english_then_german
    submitted = pipeline.submit(audio, options=JobOptions(dedupe=False))
    job = pipeline.wait(submitted.job_id, timeout_s=300)
    events = event_tap.until(submitted.job_id, EVENT_JOB_COMPLETED)
    assert job["status"] == "COMPLETED", job
    assert job["language"] == "en" and job["language_source"] == "detected"
    assert 0.5 < float(job["language_confidence"]) < 1.0  # the German chunk voted against
    assert int(job["chunks_total"]) >= 4

    s3, bucket, job_id = pipeline.aws.client("s3"), pipeline.stack.results_bucket, submitted.job_id
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key(job_id))["Body"].read())
    german = [c["index"] for c in manifest if c["offset"] >= german_start - 0.5]
    assert german, manifest
    sent_back = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key(job_id, redo=True))["Body"].read())
    assert set(german) <= {c["index"] for c in sent_back}
    for chunk in manifest:
        stored = json.loads(
            s3.get_object(Bucket=bucket, Key=partial_key(job_id, chunk["index"]))["Body"].read()
        )
        assert stored["language"] == "en", chunk
        # decoded again with the language given: no detection of its own any more
        assert ("detection" in stored) is (chunk["index"] not in {c["index"] for c in sent_back}), chunk
    assert int(job["chunks_done"]) == int(job["chunks_total"]) == len(manifest)

    # The chunks sent back joined the job's work: the percentage stepped back below 100 and rose
    # to 100 again as they were decoded, and never passed it.
    progress = [
        (e["detail"]["progress"], e["detail"]["chunks_done"], e["detail"]["chunks_total"])
        for e in sorted(events, key=lambda e: e["detail"]["occurred_at"])
        if e["detail-type"] == EVENT_JOB_PROGRESS
    ]
    grown = len(manifest) + len(sent_back)
    first_pass = [p for p in progress if p[2] == len(manifest)]
    second_pass = [p for p in progress if p[2] == grown]
    assert progress == first_pass + second_pass, progress
    assert first_pass[-1] == (100, len(manifest), len(manifest))
    assert second_pass[0] == (100 * len(manifest) // grown, len(manifest), grown)
    assert second_pass[-1] == (100, grown, grown)
