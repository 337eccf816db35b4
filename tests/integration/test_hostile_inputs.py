"""A corpus of bad and odd uploads, each dropped into the real local stack.

Every one must reach a terminal state (nothing stuck, nothing lost) with the reason code a user
can act on; odd object keys must never turn into local paths.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localrun.pipeline import LocalPipeline
from tests.conftest import SAMPLE, ffmpeg, write_empty_wav

Maker = Callable[[Path], Path]


def _bytes(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def _from_sample(name: str, transform: Callable[[bytes], bytes]) -> Maker:
    return _bytes(name, transform(SAMPLE.read_bytes()))


def _ffmpeg(name: str, *args: str) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        ffmpeg(*args, str(path))
        return path

    return make


def _wav_header_only(folder: Path) -> Path:
    return write_empty_wav(folder / "header-only.wav")


def _wav_lying_about_its_size(folder: Path) -> Path:
    """A RIFF header that promises a gigabyte of samples and carries a few hundred bytes of them."""
    path = _wav_header_only(folder)
    data = bytearray(path.read_bytes())
    data[4:8] = (1 << 30).to_bytes(4, "little")
    data[40:44] = (1 << 30).to_bytes(4, "little")
    path.write_bytes(bytes(data) + bytes(320))
    return path


CORPUS: dict[str, tuple[Maker, str]] = {
    "zero bytes": (_bytes("empty.wav", b""), "EMPTY_FILE"),
    "text named mp3": (_bytes("notes.mp3", b"Minutes of the meeting.\n" * 40), "UNSUPPORTED_FORMAT"),
    "HLS playlist pointing at a local file and a URL": (
        _bytes(
            "playlist.mp3",
            b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n#EXTINF:10,\nhttp://127.0.0.1:9/x.mp3\n",
        ),
        "UNSUPPORTED_FORMAT",
    ),
    "ffconcat script": (
        _bytes("list.wav", b"ffconcat version 1.0\nfile '/etc/passwd'\n"),
        "UNSUPPORTED_FORMAT",
    ),
    "PDF named flac": (_bytes("paper.flac", b"%PDF-1.7\n" + bytes(2000)), "UNSUPPORTED_FORMAT"),
    "PNG named ogg": (_bytes("image.ogg", b"\x89PNG\r\n\x1a\n" + bytes(2000)), "UNSUPPORTED_FORMAT"),
    "HTML named m4a": (
        _bytes("page.m4a", b"<!doctype html><html><body>not found</body></html>"),
        "UNSUPPORTED_FORMAT",
    ),
    "executable extension": (_bytes("tool.exe", b"MZ" + bytes(1000)), "UNSUPPORTED_FORMAT"),
    "no extension": (_bytes("recording", SAMPLE.read_bytes()[:4000]), "UNSUPPORTED_FORMAT"),
    "garbage after a FLAC header": (
        _from_sample("garbage.flac", lambda b: b[:4] + bytes(range(256)) * 16),
        "CORRUPT_AUDIO",
    ),
    "FLAC cut inside its header": (_from_sample("truncated.flac", lambda b: b[:100]), "CORRUPT_AUDIO"),
    "ID3 tag then noise": (
        _bytes("noise.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 8),
        "CORRUPT_AUDIO",
    ),
    "Ogg page magic then noise": (_bytes("noise.ogg", b"OggS" + bytes(range(256)) * 8), "CORRUPT_AUDIO"),
    "WAV header without samples": (_wav_header_only, "NO_AUDIO_STREAM"),
    "video without sound": (
        _ffmpeg("clip.webm", "-f", "lavfi", "-i", "testsrc=duration=1:size=32x32:rate=5", "-c:v", "libvpx"),
        "NO_AUDIO_STREAM",
    ),
}


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_bad_input_reaches_a_terminal_state_with_its_reason(
    kind: str, pipeline: LocalPipeline, tmp_path: Path
) -> None:
    make, reason = CORPUS[kind]
    submission = pipeline.submit(make(tmp_path))
    job = pipeline.wait(submission.job_id, timeout_s=120)
    assert job["status"] == "FAILED", job
    assert job["reason_code"] == reason, job
    assert job["error_message"] and "Traceback" not in job["error_message"]


def test_a_wav_that_lies_about_its_size_ends_cleanly(pipeline: LocalPipeline, tmp_path: Path) -> None:
    """Ten milliseconds of samples behind a header that claims a gigabyte: no hang, no crash."""
    job = pipeline.wait(pipeline.submit(_wav_lying_about_its_size(tmp_path)).job_id, timeout_s=120)
    assert job["status"] in {"COMPLETED", "FAILED"}
    if job["status"] == "FAILED":
        assert job["reason_code"] in {"CORRUPT_AUDIO", "NO_AUDIO_STREAM"}
    else:
        assert job["duration"] < 1.0


def test_digital_silence_completes_with_an_empty_transcript(pipeline: LocalPipeline, tmp_path: Path) -> None:
    silence = _ffmpeg("silence.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "10")(tmp_path)
    job = pipeline.wait(pipeline.submit(silence).job_id, timeout_s=120)
    assert job["status"] == "COMPLETED", job
    assert job["segments"] == 0
    assert pipeline.read_outputs(job)["txt"].strip() == ""


@pytest.mark.parametrize(
    "key",
    [
        "uploads/../../etc/passwd.flac",
        "uploads/ spaces and ünïcödé 🎙️/Ρεκόρντινγκ (final) #1.flac",
        "uploads/" + "long-name-" * 90 + ".flac",
        "/leading/slash//double//slashes.flac",
        "uploads/percent%20and+plus?.flac",
    ],
)
def test_odd_object_keys_are_handled(key: str, pipeline: LocalPipeline, tmp_path: Path) -> None:
    short = tmp_path / "short.flac"
    ffmpeg("-i", str(SAMPLE), "-t", "4", str(short))
    submission = pipeline.submit(short, key=key)
    job = pipeline.wait(submission.job_id, timeout_s=120)
    assert job["status"] == "COMPLETED", job
    assert job["key"] == key
    assert job["duration"] == pytest.approx(4.0, abs=0.1)
