"""Plan where to cut long audio so chunks can be transcribed in parallel without splitting words.

Cuts fall inside silences found by pydub; only speech that runs on longer than a chunk may be
cut at a fixed length. Planning is a pure function of the audio, so it is unit-tested with
generated tones and silences.
"""

from __future__ import annotations

import math
import os
import wave
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from pydub import AudioSegment
from pydub.silence import detect_nonsilent
from pydub.utils import db_to_float

from transcriber.domain.models import ChunkSpec

#: Step of the silence scan in ms: 10 ms keeps the scan fast and is finer than any useful cut.
SEEK_STEP_MS = 10

#: Format of every exported chunk: what the engines expect.
CHUNK_RATE = 16_000
CHUNK_SAMPLE_WIDTH = 2

Span = tuple[int, int]  # [start, end) in milliseconds
Piece = tuple[int, int, int]  # [start, end) and the overlap at its start, in milliseconds


@dataclass(frozen=True)
class ChunkingConfig:
    """How silences are found and how long chunks may be."""

    min_silence_ms: int = 500
    silence_thresh_dbfs: float = -40.0
    keep_silence_ms: int = 200
    max_chunk_s: float = 60.0
    min_chunk_s: float = 1.0
    #: Where a cut must fall inside speech, the next chunk repeats this much before the cut.
    seam_overlap_s: float = 2.0

    def __post_init__(self) -> None:
        if self.min_silence_ms <= 0:
            raise ValueError("min_silence_ms must be positive")
        if self.keep_silence_ms < 0:
            raise ValueError("keep_silence_ms must not be negative")
        if self.max_chunk_s <= 0:
            raise ValueError("max_chunk_s must be positive")
        if not 0 <= self.min_chunk_s <= self.max_chunk_s:
            raise ValueError("min_chunk_s must lie between 0 and max_chunk_s")
        if self.seam_overlap_s < 0:
            raise ValueError("seam_overlap_s must not be negative")

    @property
    def overlap_ms(self) -> int:
        """The seam overlap actually used: at most a quarter of a chunk, so chunks still advance."""
        return round(min(self.seam_overlap_s, self.max_chunk_s / 4) * 1000)

    @classmethod
    def from_env(cls) -> ChunkingConfig:
        """Read ``CHUNK_*`` variables so that operators can tune chunking without a deploy."""
        default = cls()

        def read(name: str, fallback: float) -> float:
            raw = os.environ.get(name, "").strip()
            if not raw:
                return fallback
            try:
                return float(raw)
            except ValueError as exc:
                raise ValueError(f"{name}={raw!r} is not a number") from exc

        max_chunk_s = read("CHUNK_MAX_SECONDS", default.max_chunk_s)
        return cls(
            min_silence_ms=int(read("CHUNK_MIN_SILENCE_MS", default.min_silence_ms)),
            silence_thresh_dbfs=read("CHUNK_SILENCE_THRESH_DBFS", default.silence_thresh_dbfs),
            keep_silence_ms=int(read("CHUNK_KEEP_SILENCE_MS", default.keep_silence_ms)),
            max_chunk_s=max_chunk_s,
            min_chunk_s=min(read("CHUNK_MIN_SECONDS", default.min_chunk_s), max_chunk_s),
            seam_overlap_s=read("CHUNK_SEAM_OVERLAP_SECONDS", default.seam_overlap_s),
        )


def _fixed_pieces(span: Span, max_ms: int, overlap_ms: int = 0) -> list[Piece]:
    """Split a span into the fewest equal pieces of at most ``max_ms`` (no tiny tail piece).

    Every piece after the first starts ``overlap_ms`` before its cut: these cuts fall inside
    speech, and the overlap lets the merge keep each word once, from the chunk that heard it whole.
    """
    start, end = span
    step = max(1, max_ms - overlap_ms)
    count = max(1, math.ceil((end - start) / step)) if end - start > max_ms else 1
    bounds = [start + round(k * (end - start) / count) for k in range(count + 1)]
    pieces: list[Piece] = []
    for k, (a, b) in enumerate(pairwise(bounds)):
        if b <= a:
            continue
        lead = min(overlap_ms, a - start) if k else 0
        pieces.append((a - lead, b, lead))
    return pieces


def _merge_overlaps(spans: list[Span]) -> list[Span]:
    """Join padded speech ranges that touch or overlap."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _group(pieces: list[Piece], max_ms: int) -> list[Piece]:
    """Pack consecutive pieces greedily into chunks of at most ``max_ms``.

    A short piece therefore joins its neighbour whenever the result still fits, which is what
    ``min_chunk_s`` asks for; one that cannot fit either side keeps its own chunk (dropping it
    would lose speech). A piece that overlaps its predecessor always starts a chunk of its own.
    """
    chunks: list[Piece] = []
    for start, end, overlap in pieces:
        if chunks and not overlap and end - chunks[-1][0] <= max_ms:
            chunks[-1] = (chunks[-1][0], end, chunks[-1][2])
        else:
            chunks.append((start, end, overlap))
    return chunks


def _speech_ms(audio: AudioSegment, min_silence_ms: int, silence_thresh_dbfs: float) -> list[Span]:
    if audio.sample_width == 2:
        return _nonsilent_int16(audio, min_silence_ms, silence_thresh_dbfs, SEEK_STEP_MS)
    spans = detect_nonsilent(
        audio, min_silence_len=min_silence_ms, silence_thresh=silence_thresh_dbfs, seek_step=SEEK_STEP_MS
    )
    return [(int(start), int(end)) for start, end in spans]


def _silence_starts_int16(audio: AudioSegment, window_ms: int, thresh_dbfs: float, step_ms: int) -> list[int]:
    """Window starts (ms) whose RMS is at or below the threshold: pydub's scan, vectorised.

    ``pydub.silence.detect_silence`` slices an ``AudioSegment`` and calls ``audioop.rms`` for
    every step, about 100 Python-level slices per second of audio: a second of CPU per minute
    of audio on the chunk step's critical path, and again on every chunk for the pause map.
    Here a cumulative sum of squares gives every window's energy at once. The arithmetic is
    pydub's exactly (same window frames, zero padding past the end, integer sum of squares,
    ``floor(sqrt(sum / n))`` in double precision, ``<=`` the threshold), so the result is the same.
    """
    seg_len = len(audio)
    last_start = seg_len - window_ms
    starts = np.arange(0, last_start + 1, step_ms, dtype=np.int64)
    if last_start % step_ms:
        starts = np.append(starts, last_start)
    rate, channels = audio.frame_rate, audio.channels
    samples = np.frombuffer(audio.raw_data, dtype="<i2").astype(np.int64)
    total_frames = len(samples) // channels
    squares = np.concatenate(([0], np.cumsum(samples * samples)))
    # pydub: frame index = int(ms * (rate / 1000.0)), capped at len(audio) ms.
    lo = (np.minimum(starts, seg_len) * (rate / 1000.0)).astype(np.int64)
    hi = (np.minimum(starts + window_ms, seg_len) * (rate / 1000.0)).astype(np.int64)
    end, begin = np.minimum(hi, total_frames) * channels, np.minimum(lo, total_frames) * channels
    energy = squares[end] - squares[begin]
    count = (hi - lo) * channels  # frames missing past the end are padded with silence
    with np.errstate(divide="ignore", invalid="ignore"):
        rms = np.where(count > 0, np.floor(np.sqrt(energy.astype(np.float64) / np.maximum(count, 1))), 0)
    threshold = db_to_float(thresh_dbfs) * audio.max_possible_amplitude
    return [int(i) for i in starts[rms <= threshold]]


def _nonsilent_int16(audio: AudioSegment, window_ms: int, thresh_dbfs: float, step_ms: int) -> list[Span]:
    """``pydub.silence.detect_nonsilent`` for 16-bit audio, with the scan done by numpy."""
    seg_len = len(audio)
    if seg_len < window_ms:
        return [(0, seg_len)]
    silence_starts = _silence_starts_int16(audio, window_ms, thresh_dbfs, step_ms)
    if not silence_starts:
        return [(0, seg_len)]
    # Grouping, as in pydub.silence.detect_silence and detect_nonsilent.
    silent: list[Span] = []
    prev = current = silence_starts[0]
    for start in silence_starts[1:]:
        if start != prev + step_ms and start > prev + window_ms:
            silent.append((current, prev + window_ms))
            current = start
        prev = start
    silent.append((current, prev + window_ms))
    if silent[0] == (0, seg_len):
        return []
    nonsilent: list[Span] = []
    prev_end = 0
    for start, end in silent:
        nonsilent.append((prev_end, start))
        prev_end = end
    if silent[-1][1] != seg_len:
        nonsilent.append((prev_end, seg_len))
    if nonsilent[0] == (0, 0):
        nonsilent.pop(0)
    return nonsilent


def speech_spans(
    audio: AudioSegment, *, min_silence_ms: int = 200, silence_thresh_dbfs: float = -40.0
) -> list[tuple[float, float]]:
    """Where there is sound above the threshold, in seconds: the speech map timestamps snap to."""
    return [(s / 1000, e / 1000) for s, e in _speech_ms(audio, min_silence_ms, silence_thresh_dbfs)]


def plan_chunks(audio: AudioSegment, config: ChunkingConfig | None = None) -> list[ChunkSpec]:
    """Plan ordered, non-overlapping chunks that cover all speech, cut inside silences.

    Long silences between chunks are left out (they cost engine time and invite hallucinated
    text); a speech run longer than ``max_chunk_s`` is cut into equal pieces, and audio with no
    speech found is covered end to end the same way, so nothing is ever dropped.
    """
    config = config or ChunkingConfig()
    total = len(audio)
    if total <= 0:
        return []
    max_ms = max(1, round(config.max_chunk_s * 1000))
    speech = _speech_ms(audio, config.min_silence_ms, config.silence_thresh_dbfs)
    overlap = config.overlap_ms
    if not speech:
        # No silence found (noise, music, or no speech at all): every cut may fall inside speech.
        spans = _fixed_pieces((0, total), max_ms, overlap)
    else:
        keep = config.keep_silence_ms
        padded = _merge_overlaps([(max(0, s - keep), min(total, e + keep)) for s, e in speech])
        pieces = [piece for span in padded for piece in _fixed_pieces(span, max_ms, overlap)]
        spans = _group(pieces, max_ms)
    return [
        ChunkSpec(
            index=i,
            offset=round(start / 1000, 3),
            duration=round((end - start) / 1000, 3),
            overlap=round(lead / 1000, 3),
        )
        for i, (start, end, lead) in enumerate(spans)
    ]


def export_chunks(audio: AudioSegment, specs: list[ChunkSpec], out_dir: Path) -> list[Path]:
    """Write each planned chunk as 16 kHz mono 16-bit WAV (``chunk-0000.wav``...), in spec order.

    Written with the ``wave`` module rather than ``AudioSegment.export`` so no ffmpeg is needed
    and no file handle is left open.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    pcm = audio.set_channels(1).set_frame_rate(CHUNK_RATE).set_sample_width(CHUNK_SAMPLE_WIDTH)
    paths: list[Path] = []
    for spec in specs:
        start_ms = round(spec.offset * 1000)
        end_ms = round(spec.end * 1000)
        piece = pcm[start_ms:end_ms]
        path = out_dir / f"chunk-{spec.index:04d}.wav"
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(CHUNK_SAMPLE_WIDTH)
            wav.setframerate(CHUNK_RATE)
            wav.writeframes(piece.raw_data)
        paths.append(path)
    return paths
