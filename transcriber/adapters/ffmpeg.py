"""Running ffmpeg: decode any supported upload into the 16 kHz mono WAV the engines expect.

The one place the pipeline starts a process. The domain (transcriber/domain/audio.py) sniffs the
container and reads the result; this adapter finds the binary and runs it safely.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import time
import wave
from collections.abc import Callable
from pathlib import Path

from transcriber.domain.audio import TARGET_CHANNELS, TARGET_RATE, AudioInfo, read_wav_info, sniff_format
from transcriber.domain.errors import (
    CorruptAudioError,
    NoAudioStreamError,
    TooLongError,
    UnsupportedFormatError,
)

#: Where the Lambda layer puts its static ffmpeg build.
LAYER_FFMPEG = Path("/opt/bin/ffmpeg")

#: ffmpeg's "[in#0 @ 0x55d7...]" log prefixes: noise in a message meant for users.
_CONTEXT_PREFIX = re.compile(r"\[[^\]]*@ 0x[0-9a-f]+\]\s*")


def ffmpeg_path() -> str:
    """Locate ffmpeg: ``FFMPEG_PATH``, then the Lambda layer, then imageio-ffmpeg, then ``PATH``."""
    configured = os.environ.get("FFMPEG_PATH")
    if configured:
        return configured
    if LAYER_FFMPEG.exists():
        return str(LAYER_FFMPEG)
    try:
        import imageio_ffmpeg  # local/dev only: not installed in Lambda
    except ImportError:
        pass
    else:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise RuntimeError("ffmpeg not found: set FFMPEG_PATH, add the ffmpeg layer, or install imageio-ffmpeg")


#: Seconds decoded past the duration limit: enough for the limit check to see the file is over it.
DECODE_PAST_LIMIT_S = 1.0


def _stop_after(max_duration_s: float | None) -> list[str]:
    """ffmpeg's ``-t``: decoding stops just past the duration limit, so a file far over it costs
    neither the decode time nor the disk of its whole length before it is refused."""
    return [] if max_duration_s is None else ["-t", f"{max_duration_s + DECODE_PAST_LIMIT_S:g}"]


def _classify_failure(stderr: str) -> Exception:
    """Turn ffmpeg's complaint into a permanent error the user can act on."""
    lowered = stderr.lower()
    lines = [_CONTEXT_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    detail = next((line for line in lines if line), "no details")
    if "no space left on device" in lowered:
        # The step's disk is sized for the longest audio allowed; many channels can still fill it.
        return TooLongError(
            "The decoded audio does not fit the space this step has; split the file into shorter "
            "ones, or mix it down to fewer channels."
        )
    if "does not contain any stream" in lowered or "matches no streams" in lowered:
        return NoAudioStreamError("The file has no audio track; upload a file that contains sound.")
    if "protocol not on whitelist" in lowered or "not on whitelist" in lowered:
        return UnsupportedFormatError(
            "The file refers to other files or URLs (e.g. a playlist); upload the audio itself."
        )
    return CorruptAudioError(
        f"The audio could not be decoded ({detail[:200]}); the file may be damaged or truncated. "
        "Re-export or re-upload it."
    )


def convert_to_wav(
    src: Path, dst: Path, *, timeout_s: float = 900, max_duration_s: float | None = None
) -> AudioInfo:
    """Decode any supported upload into 16 kHz mono 16-bit PCM WAV at ``dst`` (at most
    ``max_duration_s`` and a second of it: the caller refuses a file that reaches that).

    The argument list (no shell), the ``file:`` prefix on an absolute path and the ``file``-only
    protocol whitelist stop a crafted name or container from making ffmpeg read anything else.
    ``AudioInfo.format`` is the sniffed source container.
    """
    fmt = sniff_format(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    command = [
        ffmpeg_path(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
        "-protocol_whitelist", "file", "-i", f"file:{src.resolve()}",
        "-vn", *_stop_after(max_duration_s), "-ac", str(TARGET_CHANNELS), "-ar", str(TARGET_RATE),
        "-sample_fmt", "s16", "-f", "wav", "-y", f"file:{dst.resolve()}",
    ]  # fmt: skip
    _run(command, timeout_s, [dst])
    return _decoded_info(dst, lambda: read_wav_info(dst, fmt), (wave.Error, EOFError))


def _run(command: list[str], timeout_s: float, outputs: list[Path]) -> None:
    """Run ffmpeg; on failure remove what it half-wrote and raise the classified error."""
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        for path in outputs:
            path.unlink(missing_ok=True)
        raise CorruptAudioError(
            f"Decoding the audio took longer than {timeout_s:g} s and was stopped; the file may be "
            "damaged, or too long to process: split it into shorter files."
        ) from exc
    if result.returncode != 0:
        for path in outputs:
            path.unlink(missing_ok=True)
        raise _classify_failure(result.stderr.decode("utf-8", "replace"))


def _decoded_info(
    path: Path, read: Callable[[], AudioInfo], unreadable: tuple[type[Exception], ...]
) -> AudioInfo:
    """What ``read`` finds in the WAV ffmpeg wrote at ``path``; a file it cannot read (one of the
    ``unreadable`` errors) or without samples is removed and refused with the user's next step."""
    try:
        info = read()
    except unreadable as exc:
        path.unlink(missing_ok=True)
        raise CorruptAudioError(f"The decoded audio is unreadable ({exc}); re-export the file.") from exc
    if info.duration_s <= 0:
        path.unlink(missing_ok=True)
        raise NoAudioStreamError(
            "The file's audio track holds no samples; upload a file that contains sound."
        )
    return info


def _multichannel_wav_info(path: Path, fmt: str) -> AudioInfo:
    """Rate, channels and duration from a WAV's ``fmt `` and ``data`` chunks.

    ffmpeg writes WAVE_FORMAT_EXTENSIBLE above two channels, which Python 3.11's ``wave`` refuses.
    """
    with path.open("rb") as handle:
        if handle.read(12)[8:12] != b"WAVE":
            raise ValueError("not a WAV file")
        channels = rate = block_align = 0
        while header := handle.read(8):
            name, size = struct.unpack("<4sI", header)
            if name == b"fmt ":
                _, channels, rate, _, block_align = struct.unpack("<HHIIH", handle.read(14))
                handle.seek(size - 14 + size % 2, 1)
            elif name == b"data":
                if not (channels and rate and block_align):
                    raise ValueError("data before its format")
                frames = min(size, path.stat().st_size - handle.tell()) // block_align
                return AudioInfo(
                    duration_s=round(frames / rate, 3), sample_rate=rate, channels=channels, format=fmt
                )
            else:
                handle.seek(size + size % 2, 1)
    raise ValueError("no audio data")


def split_channels(
    src: Path,
    out_dir: Path,
    *,
    max_channels: int,
    timeout_s: float = 900,
    max_duration_s: float | None = None,
) -> tuple[AudioInfo, list[Path]]:
    """Decode an upload into one 16 kHz mono WAV per channel (channel identification).

    ffmpeg first decodes to 16 kHz keeping every channel (its WAV header tells how many: there is
    no ffprobe), then a ``pan`` filter per channel writes each one out; the same safe argument
    lists and ``file``-only whitelist as :func:`convert_to_wav`. ``AudioInfo.channels`` is the
    upload's channel count; a mono upload gives one file. ``timeout_s`` is for both runs together;
    ``max_duration_s`` bounds the decode as in :func:`convert_to_wav`.
    """
    deadline = time.monotonic() + timeout_s
    fmt = sniff_format(src)
    out_dir.mkdir(parents=True, exist_ok=True)
    multi = out_dir / "all-channels.wav"
    base = [
        ffmpeg_path(),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
    ]
    _run(
        [*base, "-i", f"file:{src.resolve()}", "-vn", *_stop_after(max_duration_s), "-ar", str(TARGET_RATE),
         "-sample_fmt", "s16", "-f", "wav", "-y", f"file:{multi.resolve()}"],
        timeout_s, [multi],
    )  # fmt: skip
    info = _decoded_info(multi, lambda: _multichannel_wav_info(multi, fmt), (ValueError, struct.error))
    if info.channels > max_channels:
        multi.unlink(missing_ok=True)
        raise UnsupportedFormatError(
            f"The audio has {info.channels} channels; channel identification handles up to {max_channels}. "
            "Mix it down to fewer channels, or submit it without channel identification."
        )
    if info.channels == 1:
        return info, [multi]
    outputs = [out_dir / f"channel-{channel}.wav" for channel in range(info.channels)]
    command = [*base, "-i", f"file:{multi.resolve()}"]
    for channel, path in enumerate(outputs):
        command += ["-map", "0:a:0", "-af", f"pan=mono|c0=c{channel}", "-sample_fmt", "s16", "-f", "wav",
                    "-y", f"file:{path.resolve()}"]  # fmt: skip
    _run(command, max(1.0, deadline - time.monotonic()), [multi, *outputs])
    multi.unlink(missing_ok=True)
    return info, outputs
