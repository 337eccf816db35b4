"""A 16 kHz mono WAV with chunks before its samples (a broadcast WAV's bext), cut short by less
than those chunks: it is not taken as complete, no chunk's byte range runs past its end, and a
range that does is a permanent corrupt-audio error, not a transient one."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import pytest

from transcriber.adapters.storage import ObjectStore
from transcriber.domain.audio import target_wav_info
from transcriber.domain.chunking import ChunkSpec, chunk_byte_ranges
from transcriber.domain.errors import CorruptAudioError, RetryableError

RATE = 16_000
FRAMES = RATE * 2  # two seconds
BEXT_BYTES = 602  # a bext chunk's fixed part


def _broadcast_wav(path: Path, *, cut: int = 0) -> Path:
    """A complete 16 kHz mono 16-bit WAV with a bext chunk before ``data``, less its last ``cut`` bytes."""
    samples = b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(FRAMES))
    fmt = struct.pack("<HHIIHH", 1, 1, RATE, RATE * 2, 2, 16)
    body = (
        b"WAVE"
        + b"bext" + struct.pack("<I", BEXT_BYTES) + b"\0" * BEXT_BYTES
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", len(samples)) + samples
    )  # fmt: skip
    whole = b"RIFF" + struct.pack("<I", len(body)) + body
    path.write_bytes(whole[: len(whole) - cut])
    return path


def test_a_complete_broadcast_wav_is_used_as_it_is(tmp_path: Path) -> None:
    info = target_wav_info(_broadcast_wav(tmp_path / "whole.wav"))
    assert info is not None and info.duration_s == 2.0


def test_a_broadcast_wav_cut_short_by_less_than_its_extra_chunks_is_not_complete(tmp_path: Path) -> None:
    # 44 + frames * 2 bytes are still there: a test against a canonical header lets it through.
    cut = _broadcast_wav(tmp_path / "cut.wav", cut=400)
    assert cut.stat().st_size > 44 + FRAMES * 2
    assert target_wav_info(cut) is None  # so it is decoded, and its truncation is noticed


def test_no_chunk_range_runs_past_the_end_of_the_file(tmp_path: Path) -> None:
    cut = _broadcast_wav(tmp_path / "cut.wav", cut=400)
    ranges = chunk_byte_ranges(
        cut, [ChunkSpec(index=0, offset=0.0, duration=1.0), ChunkSpec(index=1, offset=1.0, duration=1.0)]
    )
    assert ranges[-1].stop == cut.stat().st_size  # the last sample the file holds
    assert all(r.first <= r.stop <= cut.stat().st_size for r in ranges)


class _ShortObject:
    """An S3 client whose object holds ``size`` bytes: a ranged GET past them gets what there is."""

    def __init__(self, size: int) -> None:
        self.size = size

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        first, last = (int(n) for n in Range.removeprefix("bytes=").split("-"))
        stop = min(last + 1, self.size)
        return {
            "Body": io.BytesIO(b"\0" * (stop - first)),
            "ContentRange": f"bytes {first}-{stop - 1}/{self.size}",
        }


def test_a_range_past_the_objects_end_is_corrupt_audio_not_a_transient_error() -> None:
    store = ObjectStore(_ShortObject(size=1_000))
    with pytest.raises(CorruptAudioError, match="truncated") as raised:
        store.get_range("work", "work/job/audio.wav", 500, 1_200)
    assert "s3://" not in str(raised.value)
    assert store.get_range("work", "work/job/audio.wav", 0, 1_000) == b"\0" * 1_000


def test_a_body_cut_short_on_the_way_is_still_retried() -> None:
    class CutOnTheWay(_ShortObject):
        def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
            answer = super().get_object(Bucket, Key, Range)
            answer["Body"] = io.BytesIO(answer["Body"].read()[:-10])
            return answer

    with pytest.raises(RetryableError):
        ObjectStore(CutOnTheWay(size=1_000)).get_range("work", "work/job/audio.wav", 0, 1_000)
