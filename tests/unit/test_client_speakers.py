"""Speaker options and renames in the SDK and the ``transcriber`` CLI, against the fake API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client import Client
from client.cli import main
from tests.unit.fake_api import API_KEY, FakeApi

SPEAKERS = [
    {"label": "spk_0", "name": "Alice", "seconds": 3.0},
    {"label": "spk_1", "name": None, "seconds": 2.0},
]


def test_submit_sends_the_speaker_options_only_when_given(
    cli_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"fake audio" * 100)
    assert main(["submit", str(audio), "--speaker-labels", "--min-speakers", "2", "--max-speakers", "3"]) == 0
    job_id = capsys.readouterr().out.strip()
    assert cli_api.jobs[job_id].options == {"speaker_labels": True, "min_speakers": 2, "max_speakers": 3}
    assert main(["submit", str(audio)]) == 0
    assert cli_api.jobs[capsys.readouterr().out.strip()].options == {}


def test_speakers_rename_puts_the_names_and_prints_the_speakers(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = cli_api.add_job()
    cli_api.inject(
        200,
        method="PUT",
        path_prefix=f"/v1/transcriptions/{job_id}/speakers",
        body={"job_id": job_id, "speakers": SPEAKERS},
    )
    assert main(["speakers", "rename", job_id, "spk_0=Alice", "spk_1=Bob Smith"]) == 0
    (put,) = cli_api.calls("PUT", f"/v1/transcriptions/{job_id}/speakers")
    assert json.loads(put.body) == {"spk_0": "Alice", "spk_1": "Bob Smith"}
    assert "spk_0\tAlice\t3.0 s" in capsys.readouterr().out
    assert main(["speakers", "rename", job_id, "Alice"]) == 2  # not LABEL=NAME: a usage error
    assert "spk_0=Alice" in capsys.readouterr().err


def test_sdk_rename_and_speaker_filter(cli_api: FakeApi) -> None:
    job_id = cli_api.add_job()
    client = Client(cli_api.base_url, api_key=API_KEY)
    cli_api.inject(200, method="PUT", body={"job_id": job_id, "speakers": SPEAKERS})
    assert client.rename_speakers(job_id, {"spk_0": "Alice"}) == SPEAKERS
    segments = {
        "job_id": job_id,
        "count": 1,
        "segments": [{"start": 1, "end": 2, "text": "hi", "speaker": "spk_1"}],
    }
    cli_api.inject(200, method="GET", path_prefix=f"/v1/transcriptions/{job_id}/segments", body=segments)
    (segment,) = client.segments(job_id, speaker="spk_1")
    assert segment.speaker == "spk_1"
    assert cli_api.calls("GET", f"/v1/transcriptions/{job_id}/segments")[-1].query == {"speaker": "spk_1"}
