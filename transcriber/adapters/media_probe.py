"""How long an upload says it is (its container header), to compare with what decodes.

ffmpeg decodes a truncated file up to the cut and exits 0, so the pipeline would transcribe
part of it without a word. A WAV header's frame count, or the duration ffmpeg reads from the
container (FLAC's STREAMINFO, an MP3's Xing frame, Ogg's last page), is what the file declares;
a duration ffmpeg only estimates from the bitrate declares nothing and is ignored.
"""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

from transcriber.adapters.ffmpeg import ffmpeg_path

_DURATION = re.compile(r"Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def declared_duration(src: Path, *, timeout_s: float = 30) -> float | None:
    """Seconds the file's header declares; None when it declares none (or cannot be read)."""
    try:
        with wave.open(str(src), "rb") as wav:
            return wav.getnframes() / wav.getframerate() if wav.getframerate() else None
    except (wave.Error, EOFError, OSError):
        pass
    command = [
        ffmpeg_path(),
        "-nostdin",
        "-hide_banner",
        "-protocol_whitelist",
        "file",
        "-i",
        f"file:{src.resolve()}",
    ]
    try:
        # Without an output ffmpeg exits 1 after printing the input's facts: that is all we want.
        probe = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None
    text = probe.stderr.decode("utf-8", "replace")
    match = _DURATION.search(text)
    if match is None or "Estimating duration from bitrate" in text:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
