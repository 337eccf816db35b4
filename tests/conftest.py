"""Shared fixtures: audio the tests make themselves, from the project's own bundled sample."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "samples" / "sample.flac"
SAMPLE_TEXT = (REPO_ROOT / "samples" / "sample.txt").read_text()


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
    )


def write_empty_wav(path: Path) -> Path:
    """A valid 16 kHz mono 16-bit WAV header with no samples at all."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
    return path


@pytest.fixture(scope="session")
def sample_flac() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def sample_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as 16 kHz mono 16-bit WAV: what the engines receive."""
    out = tmp_path_factory.mktemp("audio") / "sample.wav"
    ffmpeg("-i", str(SAMPLE), "-ac", "1", "-ar", "16000", "-sample_fmt", "s16", str(out))
    return out
