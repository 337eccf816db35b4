from __future__ import annotations

import re

import pytest

from transcriber.domain.errors import (
    CorruptAudioError,
    PermanentError,
    RetryableError,
    TransientEngineError,
    reason_for_error_name,
)
from transcriber.domain.jobs import (
    JobStatus,
    audio_key,
    extension_of,
    job_id_for,
    output_key,
    partial_key,
    safe_stem,
)


def test_job_id_is_stable_for_the_same_object_version() -> None:
    first = job_id_for("in", "uploads/a.mp3", '"abc"', None)
    assert first == job_id_for("in", "uploads/a.mp3", "abc", None)  # quotes around ETags do not matter
    assert re.fullmatch(r"[0-9a-f]{32}", first)  # a valid Step Functions execution name


@pytest.mark.parametrize(
    "other",
    [
        ("in", "uploads/b.mp3", "abc", None),
        ("in", "uploads/a.mp3", "def", None),
        ("in", "uploads/a.mp3", "abc", "v2"),
        ("other", "uploads/a.mp3", "abc", None),
    ],
)
def test_job_id_differs_for_another_object_or_version(other: tuple[str, str, str, str | None]) -> None:
    assert job_id_for("in", "uploads/a.mp3", "abc", None) != job_id_for(*other)


def test_object_layout_keeps_work_and_results_apart() -> None:
    assert audio_key("j1") == "work/j1/audio.wav"
    assert audio_key("j1", 1) == "work/j1/audio-channel-1.wav"
    assert partial_key("j1", 3) == "work/j1/partials/chunk-0003.json"
    assert output_key("j1", "srt") == "transcripts/j1/transcript.srt"


@pytest.mark.parametrize(
    ("key", "ext"),
    [
        ("a/b/Talk.MP3", "mp3"),
        ("noext", ""),
        ("dir.with.dots/file", ""),
        (".hidden", ""),
        ("x.tar.flac", "flac"),
    ],
)
def test_extension_of(key: str, ext: str) -> None:
    assert extension_of(key) == ext


@pytest.mark.parametrize(
    ("key", "stem"),
    [
        ("uploads/../../etc/passwd.wav", "passwd"),
        ("a/Café talk (1).mp3", "Caf_talk_1"),
        ("a/....", "audio"),
        ("a/" + "x" * 300 + ".wav", "x" * 80),
    ],
)
def test_safe_stem_never_keeps_path_tricks(key: str, stem: str) -> None:
    assert safe_stem(key) == stem


def test_terminal_states() -> None:
    assert JobStatus.COMPLETED.is_terminal and JobStatus.FAILED.is_terminal
    assert not JobStatus.PENDING.is_terminal and not JobStatus.PROCESSING.is_terminal


def test_error_classes_carry_reason_codes_and_retryability() -> None:
    assert CorruptAudioError("x").reason_code == "CORRUPT_AUDIO"
    assert not CorruptAudioError("x").retryable
    assert isinstance(CorruptAudioError("x"), PermanentError)
    assert TransientEngineError("x").retryable and isinstance(TransientEngineError("x"), RetryableError)
    assert PermanentError("x", reason_code="CUSTOM").reason_code == "CUSTOM"


#: error name (a raised class's, or the state machine's own) -> the job's reason code
REASON_BY_ERROR_NAME = {
    "CorruptAudioError": "CORRUPT_AUDIO",
    "TooLongError": "TOO_LONG",
    "States.Timeout": "TIMEOUT",
    "KeyError": "INTERNAL_ERROR",
    "States.Aborted": "ABORTED",
    "UnsupportedFormatError": "UNSUPPORTED_FORMAT",
}


@pytest.mark.parametrize(("name", "reason"), REASON_BY_ERROR_NAME.items())
def test_reason_for_error_name(name: str, reason: str) -> None:
    assert reason_for_error_name(name) == reason
