"""Long benchmark inputs made from real speech: ../shared/eval clips joined with pauses.

The evaluation set holds about two minutes of read English (LibriSpeech and LibriVox clips with
reference texts). Repeating those clips in a fixed shuffled order, with 0.5 to 3 s of silence
between them, gives inputs of any length whose reference transcript is known exactly, so the
benchmark can score word error rate at 1, 10, 60 or 240 minutes. Files are written to a
temporary folder, never into the repository (the eval set's README asks for that).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transcriber.adapters.ffmpeg import ffmpeg_path

#: ``EVAL_DIR`` overrides it (a git worktree is not a sibling of ../shared)
EVAL_DIR = Path(os.environ.get("EVAL_DIR") or Path(__file__).resolve().parents[1].parent / "shared" / "eval")
RATE = 16_000
#: Folders of the clips used: read speech with references (not the long-form or odd-format files).
SPEECH_FOLDERS = ("librispeech/", "librivox/")


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # int16, 16 kHz mono
    text: str


@dataclass(frozen=True)
class LongInput:
    path: Path
    duration_s: float
    reference: str
    clips: int
    #: where each clip's speech begins, in seconds: the true utterance starts
    starts: tuple[float, ...] = ()


def load_clips(eval_dir: Path = EVAL_DIR) -> list[Clip]:
    """Decode every speech clip listed in the manifest to 16 kHz mono int16 (ffmpeg, once each)."""
    manifest = eval_dir / "manifest.jsonl"
    if not manifest.exists():
        raise SystemExit(f"no evaluation set at {eval_dir}: the benchmark needs ../shared/eval")
    clips: list[Clip] = []
    for line in manifest.read_text().splitlines():
        entry = json.loads(line)
        if not str(entry["file"]).startswith(SPEECH_FOLDERS):
            continue
        raw = subprocess.run(
            [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-i", str(eval_dir / entry["file"]),
             "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        clips.append(Clip(samples=np.frombuffer(raw, dtype=np.int16), text=str(entry["text"])))
    return clips


def build(minutes: float, out_dir: Path, clips: list[Clip], seed: int = 7) -> LongInput:
    """Write ``minutes`` of speech with pauses as 16 kHz mono WAV; returns it with its reference."""
    target = int(minutes * 60 * RATE)
    rng = random.Random(seed)
    parts: list[np.ndarray] = []
    texts: list[str] = []
    starts: list[float] = []
    total = count = 0
    order: list[Clip] = []
    while total < target:
        if not order:
            order = list(clips)
            rng.shuffle(order)
        clip = order.pop()
        pause = np.zeros(int(rng.uniform(0.5, 3.0) * RATE), dtype=np.int16)
        if total + len(pause) + len(clip.samples) > target and count:
            break  # never cut a clip: the reference must match the audio exactly
        parts += [pause, clip.samples]
        texts.append(clip.text)
        starts.append((total + len(pause) + _leading_silence(clip.samples)) / RATE)
        total += len(pause) + len(clip.samples)
        count += 1
    parts.append(np.zeros(RATE, dtype=np.int16))
    samples = np.concatenate(parts)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"speech_{minutes:g}min.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    reference = " ".join(texts)
    duration = len(samples) / RATE
    return LongInput(path=path, duration_s=duration, reference=reference, clips=count, starts=tuple(starts))


def _leading_silence(samples: np.ndarray, threshold_dbfs: float = -40.0, window: int = RATE // 100) -> int:
    """Samples before the first 10 ms window louder than the threshold: recordings start with a breath."""
    limit = 32768 * 10 ** (threshold_dbfs / 20)
    for start in range(0, len(samples), window):
        piece = samples[start : start + window].astype(np.float64)
        if np.sqrt(np.mean(piece**2)) > limit:
            return start
    return 0
