"""Turn an uploaded file into planned, exported chunks: the chunk stage's domain logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from transcriber.domain.audio import (
    TARGET_CHANNELS,
    TARGET_RATE,
    TARGET_SAMPLE_WIDTH,
    AudioInfo,
    sniff_format,
    target_wav_info,
)
from transcriber.domain.chunking import ChunkingConfig, export_chunks_from_file, plan_chunks_from_file
from transcriber.domain.errors import TooLongError
from transcriber.domain.models import ChunkSpec

#: Decodes an upload into 16 kHz mono WAV at the second path (transcriber.adapters.ffmpeg.convert_to_wav).
Convert = Callable[[Path, Path], AudioInfo]


#: Bytes a second of the converted audio takes (16 kHz mono 16-bit PCM), and so its chunks.
WAV_BYTES_PER_SECOND = TARGET_RATE * TARGET_CHANNELS * TARGET_SAMPLE_WIDTH


def scratch_bytes(max_upload_bytes: int, max_duration_s: float, shortest_chunk_s: float) -> int:
    """The most local disk :func:`prepare_chunks` holds at once: the upload, its converted WAV and
    every chunk file cut from it (the chunk step uploads them together). Chunks repeat a seam
    overlap before each cut that falls inside speech, so in continuous speech at the shortest
    chunk a job may ask for, they add up to more than the WAV: ``max / (max - overlap)`` of it.
    Lambda's /tmp is 512 MB unless the function asks for more (infra sizes it from this).
    """
    config = ChunkingConfig(max_chunk_seconds=shortest_chunk_s)
    step_ms = config.max_chunk_seconds * 1000 - config.overlap_ms
    chunk_copies = config.max_chunk_seconds * 1000 / step_ms
    wav = WAV_BYTES_PER_SECOND * max_duration_s
    return int(max_upload_bytes + wav * (1 + chunk_copies))


@dataclass(frozen=True)
class PreparedAudio:
    info: AudioInfo
    chunks: list[tuple[ChunkSpec, Path]]


def prepare_chunks(
    source: Path, workdir: Path, *, config: ChunkingConfig, max_duration_s: float, convert: Convert
) -> PreparedAudio:
    """Sniff, convert to 16 kHz mono WAV (unless it is one), check the duration, plan and export.

    The converted WAV is read a few seconds at a time, never loaded whole (4 hours of it is about
    460 MB), so the chunk step's memory stays flat whatever the length of the upload.
    """
    sniff_format(source)
    converted = workdir / "converted.wav"
    info = target_wav_info(source)
    wav = source
    if info is None:
        info = convert(source, converted)
        wav = converted
    if info.duration_s > max_duration_s:
        raise TooLongError(
            f"The audio lasts {info.duration_s / 60:.1f} minutes, over the "
            f"{max_duration_s / 60:.0f}-minute limit; split it into shorter files."
        )
    specs = plan_chunks_from_file(wav, config)
    paths = export_chunks_from_file(wav, specs, workdir / "chunks")
    converted.unlink(missing_ok=True)
    return PreparedAudio(info=info, chunks=list(zip(specs, paths, strict=True)))
