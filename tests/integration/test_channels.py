"""Channel identification through the local stack: a stereo call comes back labelled by channel.

The stereo file is built here from two recordings of different people in ../shared/eval (read in
place, never copied into the repo): one on the left channel, the other on the right, starting
while the first still speaks (an interruption), so the two channels overlap in time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from localrun.pipeline import LocalPipeline
from tests.conftest import ffmpeg
from transcriber.domain.channels import MONO_NOTE
from transcriber.domain.options import JobOptions

EVAL = Path(__file__).resolve().parents[3] / "shared" / "eval" / "librispeech"
EVAL = EVAL if EVAL.is_dir() else Path("/work/shared/eval/librispeech")
LEFT = (
    EVAL / "1089-134686-0000.flac"
)  # 10.4 s: "he hoped there would be stew for dinner turnips and carrots..."
RIGHT = EVAL / "1221-135766-0002.wav"  # 4.8 s: "yet these thoughts affected hester prynne less with hope..."
RIGHT_DELAY_S = 7.0

pytestmark = pytest.mark.skipif(not (LEFT.exists() and RIGHT.exists()), reason="no ../shared/eval recordings")


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="module")
def stereo_call(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("channels") / "call.flac"
    ffmpeg(
        "-i", str(LEFT), "-i", str(RIGHT),
        "-filter_complex",
        f"[1:a]adelay={int(RIGHT_DELAY_S * 1000)},apad[r];[0:a]apad[l];[l][r]amerge=inputs=2,atrim=0:14[out]",
        "-map", "[out]", "-ac", "2", "-ar", "16000", str(out),
    )  # fmt: skip
    return out


def test_a_stereo_call_comes_back_labelled_by_channel(pipeline: LocalPipeline, stereo_call: Path) -> None:
    submitted = pipeline.submit(stereo_call, options=JobOptions(channel_identification=True))
    job = pipeline.wait(submitted.job_id, timeout_s=300)
    assert job["status"] == "COMPLETED", job
    assert int(job["channels"]) == 2 and "channel_note" not in job
    document = json.loads(pipeline.read_outputs(job)["json"])
    segments = document["segments"]
    assert {s["speaker"] for s in segments} == {"ch_0", "ch_1"}
    assert all(s["speaker"] == f"ch_{s['channel']}" for s in segments)
    assert all(w["speaker"] == s["speaker"] for s in segments for w in s.get("words", []))
    left = words(" ".join(s["text"] for s in segments if s["channel"] == 0))
    right = words(" ".join(s["text"] for s in segments if s["channel"] == 1))
    assert {"stew", "dinner", "carrots", "potatoes"} <= left
    assert {"thoughts", "affected", "hope"} <= right
    assert not {"stew", "dinner", "carrots"} & right and not {"thoughts", "affected", "apprehension"} & left
    # Interleaved in time order: the right channel's interruption sits among the left's segments.
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts)
    first_right = next(s for s in segments if s["channel"] == 1)
    assert first_right["start"] >= RIGHT_DELAY_S - 0.5
    assert [entry["label"] for entry in document["speakers"]] == ["ch_0", "ch_1"]
    srt = pipeline.read_outputs(job)["srt"]
    assert "ch_1: " in srt


def test_a_mono_file_gives_one_channel_and_says_so(pipeline: LocalPipeline) -> None:
    submitted = pipeline.submit(RIGHT, options=JobOptions(channel_identification=True))
    job = pipeline.wait(submitted.job_id, timeout_s=300)
    assert job["status"] == "COMPLETED", job
    assert int(job["channels"]) == 1 and job["channel_note"] == MONO_NOTE
    document = json.loads(pipeline.read_outputs(job)["json"])
    assert {s["speaker"] for s in document["segments"]} == {"ch_0"}
    assert {"thoughts", "affected", "hope"} <= words(document["transcript"])


def test_speaker_labels_with_channel_identification_label_each_channel_by_its_own_voice(
    pipeline: LocalPipeline, stereo_call: Path
) -> None:
    """Both options: every word gets a speaker label from its own channel's voice, even while the
    two channels overlap in time (7-10.4 s), and keeps its channel."""
    options = JobOptions(channel_identification=True, speaker_labels=True, min_speakers=2, max_speakers=2)
    job = pipeline.wait(pipeline.submit(stereo_call, options=options).job_id, timeout_s=300)
    assert job["status"] == "COMPLETED", job
    assert int(job["channels"]) == 2
    segments = json.loads(pipeline.read_outputs(job)["json"])["segments"]
    by_channel = {
        channel: {w["speaker"] for s in segments if s["channel"] == channel for w in s["words"]}
        for channel in (0, 1)
    }
    assert all(len(labels) == 1 for labels in by_channel.values()), by_channel
    assert by_channel[0] != by_channel[1] and by_channel[0] | by_channel[1] == {"spk_0", "spk_1"}
    assert all(s["speaker"] in by_channel[s["channel"]] for s in segments)
    overlapping = [s for s in segments if s["channel"] == 0 and s["end"] > RIGHT_DELAY_S]
    assert overlapping and all(s["speaker"] == next(iter(by_channel[0])) for s in overlapping)
    assert {"thoughts", "affected", "hope"} <= words(
        " ".join(s["text"] for s in segments if s["channel"] == 1)
    )
