"""Running ffmpeg: decode any supported upload into the 16 kHz mono WAV the engines expect.

The one place the pipeline starts a process. The domain (transcriber/domain/audio.py) sniffs the
container and reads the result; this adapter finds the binary and runs it safely.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import wave
from pathlib import Path

from transcriber.domain.audio import TARGET_CHANNELS, TARGET_RATE, AudioInfo, read_wav_info, sniff_format
from transcriber.domain.errors import CorruptAudioError, NoAudioStreamError, UnsupportedFormatError

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


def _classify_failure(stderr: str) -> Exception:
    """Turn ffmpeg's complaint into a permanent error the user can act on."""
    lowered = stderr.lower()
    lines = [_CONTEXT_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    detail = next((line for line in lines if line), "no details")
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


def convert_to_wav(src: Path, dst: Path, *, timeout_s: float = 900) -> AudioInfo:
    """Decode any supported upload into 16 kHz mono 16-bit PCM WAV at ``dst``.

    The argument list (no shell), the ``file:`` prefix on an absolute path and the ``file``-only
    protocol whitelist stop a crafted name or container from making ffmpeg read anything else.
    ``AudioInfo.format`` is the sniffed source container.
    """
    fmt = sniff_format(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    command = [
        ffmpeg_path(), "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
        "-protocol_whitelist", "file", "-i", f"file:{src.resolve()}",
        "-vn", "-ac", str(TARGET_CHANNELS), "-ar", str(TARGET_RATE), "-sample_fmt", "s16",
        "-f", "wav", "-y", f"file:{dst.resolve()}",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        dst.unlink(missing_ok=True)
        raise CorruptAudioError(
            f"Decoding the audio took longer than {timeout_s:g} s and was stopped; the file may be "
            "damaged, or too long to process: split it into shorter files."
        ) from exc
    if result.returncode != 0:
        dst.unlink(missing_ok=True)
        raise _classify_failure(result.stderr.decode("utf-8", "replace"))
    try:
        info = read_wav_info(dst, fmt)
    except (wave.Error, EOFError) as exc:
        dst.unlink(missing_ok=True)
        raise CorruptAudioError(f"The decoded audio is unreadable ({exc}); re-export the file.") from exc
    if info.duration_s <= 0:
        dst.unlink(missing_ok=True)
        raise NoAudioStreamError(
            "The file's audio track holds no samples; upload a file that contains sound."
        )
    return info
