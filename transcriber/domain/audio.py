"""Recognise an upload's real container and convert it to the 16 kHz mono WAV the engines expect.

Plain Python without I/O beyond reading the file it is given; running ffmpeg is the adapter's
(transcriber/adapters/ffmpeg.py). There is no ffprobe in the Lambda layer, nor in imageio-ffmpeg:
what ffprobe would report is read back from the WAV that ffmpeg writes.
"""

from __future__ import annotations

import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from transcriber.domain.errors import (
    EmptyFileError,
    UnsupportedFormatError,
)

#: Sample rate, channel count and sample width (bytes) of every converted file.
TARGET_RATE = 16_000
TARGET_CHANNELS = 1
TARGET_SAMPLE_WIDTH = 2

#: File extensions an upload may carry (lower case, no dot). The content is checked separately.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(
    {
        "wav", "wave", "mp3", "m4a", "m4b", "mp4", "aac", "flac", "ogg", "oga", "opus",
        "wma", "asf", "webm", "mka", "mkv", "aif", "aiff",
    }
)  # fmt: skip

#: Human-readable list of what the sniffer accepts, for error messages.
ACCEPTED_DESCRIPTION = "WAV, MP3, AAC (ADTS), M4A/MP4, FLAC, Ogg (Vorbis/Opus), WMA, WebM/Matroska or AIFF"

_ASF_GUID = bytes.fromhex("3026B2758E66CF11")
_EBML = bytes.fromhex("1A45DFA3")


@dataclass(frozen=True)
class AudioInfo:
    """Facts about a converted file, read from the WAV itself (there is no ffprobe)."""

    duration_s: float
    sample_rate: int
    channels: int
    format: str


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """MPEG-1/2 layer I-III frame header: 11-bit sync, no reserved version/layer/bitrate/rate."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version = (head[1] >> 3) & 0x3
    layer = (head[1] >> 1) & 0x3
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0x3
    return version != 1 and layer != 0 and bitrate != 0xF and rate != 0x3


def _is_adts_frame(head: bytes) -> bool:
    """AAC ADTS header: 12-bit sync, layer bits 00, a valid sampling-frequency index."""
    return len(head) >= 4 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0 and (head[2] >> 2) & 0xF < 13


def _describe_unknown(head: bytes) -> str:
    """Say what the bytes look like, so that the user learns what they actually uploaded."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"#EXTM3U"):
        return "an HLS/M3U playlist (a list of links, not audio)"
    if stripped.lower().startswith(b"ffconcat"):
        return "an ffmpeg concat script (not audio)"
    if stripped[:1] in (b"<", b"{", b"["):
        return "a text document (HTML/XML/JSON)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "plain text"
    if head.startswith((b"PK\x03\x04", b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "a document, image or archive"
    return f"unrecognised data (first bytes {head[:8].hex(' ')})"


def sniff_header(head: bytes) -> str:
    """Name the container from its first bytes (64 are plenty); never trust the file name.

    Returns one of ``wav``, ``aiff``, ``flac``, ``ogg``, ``opus``, ``mp3``, ``aac``, ``m4a``,
    ``mp4``, ``wma``, ``webm`` or ``matroska``. Rejecting anything else before ffmpeg runs also
    keeps playlists and concat scripts (which make ffmpeg open other files) out of the decoder.
    """
    if not head:
        raise EmptyFileError("The uploaded file is empty (0 bytes); upload the audio again.")
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[:64] else "ogg"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in (b"M4A ", b"M4B ") else "mp4"
    if head[:8] == _ASF_GUID:
        return "wma"
    if head[:4] == _EBML:
        return "webm" if b"webm" in head[:64] else "matroska"
    if head[:3] == b"ID3" or _is_mpeg_audio_frame(head):
        return "mp3"
    if _is_adts_frame(head):
        return "aac"
    raise UnsupportedFormatError(
        f"The file content is {_describe_unknown(head[:64])}, not a supported audio format. "
        f"Accepted: {ACCEPTED_DESCRIPTION}. Upload the audio file itself."
    )


def sniff_format(path: Path) -> str:
    """:func:`sniff_header` on a local file's first bytes."""
    with path.open("rb") as handle:
        return sniff_header(handle.read(64))


def read_wav_info(path: Path, fmt: str = "wav") -> AudioInfo:
    """Duration, rate and channels of a PCM WAV, from its header."""
    with wave.open(str(path), "rb") as wav:
        frames, rate, channels = wav.getnframes(), wav.getframerate(), wav.getnchannels()
    duration = round(frames / rate, 3) if rate else 0.0
    return AudioInfo(duration_s=duration, sample_rate=rate, channels=channels, format=fmt)


def pcm_data_offset(handle: BinaryIO) -> int:
    """Byte offset of the samples in a RIFF WAV file (just after its ``data`` chunk header).

    ffmpeg and many recorders write chunks (``LIST``, ``fact``) before the samples, so the offset
    is found, not assumed to be 44.
    """
    handle.seek(12)
    while header := handle.read(8):
        if len(header) < 8:
            break
        name, size = struct.unpack("<4sI", header)
        if name == b"data":
            return handle.tell()
        handle.seek(size + size % 2, 1)
    raise ValueError("no data chunk")


def target_wav_info(path: Path) -> AudioInfo | None:
    """The facts of a file that already is what conversion produces, else None.

    A complete 16 kHz mono 16-bit PCM WAV (what the bench and many recorders write) is used as it
    is: decoding it and writing the same samples again would only cost time and disk. Anything
    else, including a header that promises more samples than the file holds, goes to ffmpeg.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            params = wav.getparams()
    except (wave.Error, EOFError, OSError):
        return None
    target = (TARGET_RATE, TARGET_CHANNELS, TARGET_SAMPLE_WIDTH, "NONE")
    if (params.framerate, params.nchannels, params.sampwidth, params.comptype) != target:
        return None
    if params.nframes == 0:
        return None
    # Complete: its samples end where its header says, after the chunks before them (a broadcast
    # WAV's bext or iXML, a LIST), not after a canonical 44-byte header. A file cut short by less
    # than those chunks would pass that test, and the byte ranges planned on it run past its end.
    with path.open("rb") as handle:
        try:
            samples_start = pcm_data_offset(handle)
        except (ValueError, struct.error):
            return None
    if path.stat().st_size < samples_start + params.nframes * params.sampwidth:
        return None
    return AudioInfo(
        duration_s=round(params.nframes / params.framerate, 3),
        sample_rate=params.framerate,
        channels=params.nchannels,
        format="wav",
    )
