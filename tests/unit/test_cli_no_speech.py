"""The CLI says when a completed job heard no speech, rather than printing an empty transcript."""

from __future__ import annotations

import argparse

import pytest

from client import Transcription
from client.cli.output import _print_done, print_job

SILENT = {
    "job_id": "f" * 32, "status": "COMPLETED", "language": "en", "duration": 1200.0,
    "warnings": ["no speech detected"],
    "transcript": {"text": "", "language": "en", "duration": 1200.0, "segments": []},
}  # fmt: skip


def test_status_and_wait_say_no_speech_detected(capsys: pytest.CaptureFixture[str]) -> None:
    job = Transcription.from_dict(SILENT)
    assert job.warnings == ["no speech detected"]
    print_job(job)
    assert "warnings  no speech detected" in capsys.readouterr().out
    _print_done(job, argparse.Namespace(quiet=True, json=False))
    assert "Warning: no speech detected." in capsys.readouterr().err


def test_a_job_with_speech_has_no_warning() -> None:
    assert Transcription.from_dict({**SILENT, "warnings": []}).warnings == []
    assert Transcription.from_dict({"job_id": "a", "status": "PENDING"}).warnings == []
