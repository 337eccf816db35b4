"""A two-speaker conversation built in code from ../shared/eval (read in place, never copied).

Turns alternate between two LibriSpeech readers (1089 and 1272; their clips' embeddings have a
cosine of about 0.58, where one reader's clips are at 0.9), with 0.7-s gaps, so who spoke when
is known exactly.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
if not EVAL_DIR.is_dir():  # worktrees live at /work/wt/<name>: the eval set is at /work/shared/eval
    EVAL_DIR = Path("/work/shared/eval")
RATE = 16_000
GAP_S = 0.7
#: (speaker, eval file, seconds used): A B A B
TURNS = (
    ("A", "librispeech/1089-134686-0002.wav", 6.6),
    ("B", "librispeech/1272-141231-0002.flac", 8.0),
    ("A", "librispeech/1089-134686-0000.flac", 8.0),
    ("B", "librispeech/1272-128104-0000.flac", 4.8),
)


@dataclass(frozen=True)
class Conversation:
    wav: bytes
    #: (start, end, "A" or "B") of each turn, seconds
    turns: tuple[tuple[float, float, str], ...]


def _decode(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio  # PyAV: flac and wav alike

    return np.asarray(decode_audio(str(path), sampling_rate=RATE), dtype=np.float32)


def two_speaker_conversation() -> Conversation:
    if not EVAL_DIR.is_dir():
        pytest.skip(f"the eval recordings are not at {EVAL_DIR}")
    pieces: list[np.ndarray] = [np.zeros(int(0.5 * RATE), np.float32)]
    turns, cursor = [], 0.5
    for speaker, name, seconds in TURNS:
        samples = _decode(EVAL_DIR / name)[: int(seconds * RATE)]
        samples = samples * (0.3 / max(float(np.abs(samples).max()), 1e-6))
        pieces += [samples, np.zeros(int(GAP_S * RATE), np.float32)]
        turns.append((round(cursor, 3), round(cursor + len(samples) / RATE, 3), speaker))
        cursor += len(samples) / RATE + GAP_S
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2").tobytes())
    return Conversation(buffer.getvalue(), tuple(turns))


def who_spoke(turns: tuple[tuple[float, float, str], ...], start: float, end: float) -> str | None:
    """The reference speaker of a span (the turn it overlaps most), or None in a gap."""
    best, shared = None, 0.0
    for a, b, speaker in turns:
        overlap = min(b, end) - max(a, start)
        if overlap > shared:
            best, shared = speaker, overlap
    return best
