"""Turn an uploaded file into planned, exported chunks: the chunk stage's domain logic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from transcriber.domain.audio import AudioInfo, sniff_format, target_wav_info
from transcriber.domain.chunking import ChunkingConfig, export_chunks_from_file, plan_chunks_from_file
from transcriber.domain.errors import TooLongError
from transcriber.domain.models import ChunkSpec

#: Decodes an upload into 16 kHz mono WAV at the second path (transcriber.adapters.ffmpeg.convert_to_wav).
Convert = Callable[[Path, Path], AudioInfo]


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
