"""Turn an uploaded file into one 16 kHz mono WAV and its planned chunks (byte ranges of that WAV):
the chunk stage's domain logic."""

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
from transcriber.domain.chunking import ByteRange, ChunkingConfig, chunk_byte_ranges, plan_chunks_from_file
from transcriber.domain.errors import TooLongError
from transcriber.domain.models import ChunkSpec

#: Decodes an upload into 16 kHz mono WAV at the second path (transcriber.adapters.ffmpeg.convert_to_wav).
Convert = Callable[[Path, Path], AudioInfo]


#: Bytes a second of the converted audio takes (16 kHz mono 16-bit PCM), and so its chunks.
WAV_BYTES_PER_SECOND = TARGET_RATE * TARGET_CHANNELS * TARGET_SAMPLE_WIDTH


def scratch_bytes(max_upload_bytes: int, max_duration_s: float) -> int:
    """The most local disk the chunk step holds at once: the upload, and twice the WAV of the
    longest audio. Chunks are byte ranges of the WAV, not files; the second WAV is channel
    identification's split, which holds the multichannel WAV and the channels' own at once (the
    duration limit counts every channel, so either is at most one WAV of the longest duration).
    Lambda's /tmp is 512 MB unless the function asks for more (infra sizes it from this).
    """
    return int(max_upload_bytes + 2 * WAV_BYTES_PER_SECOND * max_duration_s)


@dataclass(frozen=True)
class PreparedAudio:
    """The job's audio as stored for transcription: one 16 kHz mono WAV (one per channel with
    channel identification, indexed by ``ChunkSpec.channel``), and each chunk's byte range in it."""

    info: AudioInfo
    audio: list[Path]
    chunks: list[tuple[ChunkSpec, ByteRange]]


def prepare_chunks(
    source: Path, workdir: Path, *, config: ChunkingConfig, max_duration_s: float, convert: Convert
) -> PreparedAudio:
    """Sniff, convert to 16 kHz mono WAV (unless it is one), check the duration, plan, and find
    each chunk's bytes in the WAV.

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
        # Not "lasts N minutes": the decode stops just past the limit (transcriber.adapters.ffmpeg).
        raise TooLongError(
            f"The audio lasts longer than the {max_duration_s / 60:.0f}-minute limit; split it into "
            "shorter files."
        )
    specs = plan_chunks_from_file(wav, config)
    ranges = chunk_byte_ranges(wav, specs)
    return PreparedAudio(info=info, audio=[wav], chunks=list(zip(specs, ranges, strict=True)))
