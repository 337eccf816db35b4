"""Plan where to cut long audio so chunks can be transcribed in parallel without splitting words.

Cuts fall inside silences found by pydub's silence scan (reimplemented with numpy, same results);
only speech that runs on longer than a chunk may be cut at a fixed length. Planning is a pure
function of the audio, so it is unit-tested with generated tones and silences.

The audio is read a few seconds at a time, whether it is a WAV file (the chunk step: a 4-hour
upload converts to about 460 MB) or an in-memory ``AudioSegment`` (a chunk's pause map), so the
chunk step's memory does not grow with the file beyond one small value per 10 ms scan step.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np
from pydub import AudioSegment
from pydub.utils import db_to_float

from transcriber.domain.audio import pcm_data_offset
from transcriber.domain.models import ChunkSpec

#: Step of the silence scan in ms: 10 ms keeps the scan fast and is finer than any useful cut.
SEEK_STEP_MS = 10

#: Audio read at a time by the silence scan: a few seconds keeps memory flat.
READ_BLOCK_S = 10

#: Format of the audio chunks are cut from, and of a chunk's WAV: what the engines expect.
CHUNK_RATE = 16_000
CHUNK_SAMPLE_WIDTH = 2

#: pydub's ``max_possible_amplitude`` for 16-bit samples: 0 dBFS for the silence threshold.
_INT16_FULL_SCALE = 2**15

Span = tuple[int, int]  # [start, end) in milliseconds
Piece = tuple[int, int, int]  # [start, end) and the overlap at its start, in milliseconds


class ByteRange(NamedTuple):
    """[first, stop) byte offsets of a chunk's samples in the job's stored WAV."""

    first: int
    stop: int


@dataclass(frozen=True)
class ChunkingConfig:
    """How silences are found and how long chunks may be."""

    min_silence_ms: int = 500
    silence_thresh_dbfs: float = -40.0
    keep_silence_ms: int = 200
    #: Whisper decodes 30-second windows: a chunk of at most 30 s (or, with pauses, of at most that
    #: much speech; see ``speech_share``), cut in a pause, is decoded in one window that starts and
    #: ends between sentences. On the long-form eval file this gives the WER of one whole-file
    #: pass (0.081 against 0.094 with 60 s chunks).
    max_chunk_seconds: float = 30.0
    min_chunk_s: float = 1.0
    #: Where a cut must fall inside speech, the next chunk repeats this much before the cut.
    seam_overlap_s: float = 2.0
    #: Whisper's VAD drops a chunk's pauses before decoding, so a chunk with pauses may span up to
    #: twice ``max_chunk_seconds`` as long as its speech (the planner's own measure) stays within this
    #: share of it. The share leaves room for the VAD's wider padding around each stretch of
    #: speech: at 0.85 every chunk of the benchmark's 10- and 60-minute inputs still decodes in one
    #: window, and there are 12-14% fewer windows to decode (19 against 22 at 10 minutes).
    speech_share: float = 0.85

    def __post_init__(self) -> None:
        if self.min_silence_ms <= 0:
            raise ValueError("min_silence_ms must be positive")
        if self.keep_silence_ms < 0:
            raise ValueError("keep_silence_ms must not be negative")
        if self.max_chunk_seconds <= 0:
            raise ValueError("max_chunk_seconds must be positive")
        if not 0 < self.speech_share <= 1:
            raise ValueError("speech_share must lie in (0, 1]")
        if not 0 <= self.min_chunk_s <= self.max_chunk_seconds:
            raise ValueError("min_chunk_s must lie between 0 and max_chunk_seconds")
        if self.seam_overlap_s < 0:
            raise ValueError("seam_overlap_s must not be negative")

    @property
    def max_speech_ms(self) -> int:
        """The most speech a chunk longer than ``max_chunk_seconds`` may hold, in milliseconds."""
        return round(self.max_chunk_seconds * self.speech_share * 1000)

    @property
    def overlap_ms(self) -> int:
        """The seam overlap actually used: at most a quarter of a chunk, so chunks still advance."""
        return round(min(self.seam_overlap_s, self.max_chunk_seconds / 4) * 1000)


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


def merge_overlaps(spans: list[Span]) -> list[Span]:
    """Join sorted ranges that touch or overlap (padded speech)."""
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _group(pieces: list[Piece], max_ms: int, max_speech_ms: int) -> list[Piece]:
    """Pack consecutive pieces greedily into chunks.

    A piece joins the chunk before it when the chunk then spans at most ``max_ms``, or at most
    twice that while holding no more than ``max_speech_ms`` of speech (pieces are speech with a
    little padding): the pauses between them cost nothing to decode, and a chunk full of speech
    fills a Whisper window instead of leaving part of one empty. The second rule only ever joins
    more, so a plan never has more chunks than with the first rule alone.

    A short piece therefore joins its neighbour whenever the result still fits, which is what
    ``min_chunk_s`` asks for; one that cannot fit either side keeps its own chunk (dropping it
    would lose speech). A piece that overlaps its predecessor always starts a chunk of its own.
    """
    chunks: list[Piece] = []
    speech: list[int] = []
    for start, end, overlap in pieces:
        if chunks and not overlap:
            span = end - chunks[-1][0]
            if span <= max_ms or (span <= 2 * max_ms and speech[-1] + end - start <= max_speech_ms):
                chunks[-1] = (chunks[-1][0], end, chunks[-1][2])
                speech[-1] += end - start
                continue
        chunks.append((start, end, overlap))
        speech.append(end - start)
    return chunks


class _Pcm(Protocol):
    """Interleaved 16-bit PCM read by frame ranges, from memory or from a WAV file alike."""

    @property
    def frame_rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    @property
    def total_frames(self) -> int: ...

    def read(self, first: int, count: int) -> bytes | memoryview:
        """Up to ``count`` frames from frame ``first`` on (fewer at the end)."""
        ...


@dataclass(frozen=True)
class _SegmentPcm:
    """An in-memory ``AudioSegment``, read through a memoryview so that no block is copied."""

    data: memoryview
    frame_rate: int
    channels: int
    total_frames: int

    @classmethod
    def of(cls, audio: AudioSegment) -> _SegmentPcm:
        """Wrap ``audio``; samples of another width are converted to 16-bit, the scan's format."""
        pcm = audio if audio.sample_width == 2 else audio.set_sample_width(2)
        return cls(memoryview(pcm.raw_data), pcm.frame_rate, pcm.channels, int(pcm.frame_count()))

    def read(self, first: int, count: int) -> memoryview:
        frame_width = 2 * self.channels
        stop = min(first + count, self.total_frames)
        return self.data[first * frame_width : stop * frame_width]


@dataclass(frozen=True)
class _WavPcm:
    """An open 16-bit PCM WAV file, read with ``wave`` so only the frames asked for are in memory."""

    wav: wave.Wave_read

    @property
    def frame_rate(self) -> int:
        return self.wav.getframerate()

    @property
    def channels(self) -> int:
        return self.wav.getnchannels()

    @property
    def total_frames(self) -> int:
        return self.wav.getnframes()

    def read(self, first: int, count: int) -> bytes:
        self.wav.setpos(first)
        return self.wav.readframes(count)


@contextmanager
def _open_wav(path: Path) -> Iterator[_WavPcm]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path.name} holds {8 * wav.getsampwidth()}-bit samples; 16-bit PCM expected")
        yield _WavPcm(wav)


def _duration_ms(pcm: _Pcm) -> int:
    """pydub's ``len()``: the length in milliseconds, rounded to the nearest one."""
    return round(1000 * (pcm.total_frames / pcm.frame_rate))


def _window_start_blocks(last_start: int) -> Iterator[np.ndarray]:
    """pydub's window starts (every step, then ``last_start`` itself), ``READ_BLOCK_S`` at a time."""
    block_ms = READ_BLOCK_S * 1000
    for first in range(0, last_start + 1, block_ms):
        yield np.arange(first, min(first + block_ms, last_start + 1), SEEK_STEP_MS, dtype=np.int64)
    if last_start % SEEK_STEP_MS:
        yield np.array([last_start], dtype=np.int64)


def _silent_window_starts(pcm: _Pcm, window_ms: int, thresh_dbfs: float) -> np.ndarray:
    """Window starts (ms) whose RMS is at or below the threshold: pydub's scan, vectorised and streamed.

    ``pydub.silence.detect_silence`` slices an ``AudioSegment`` and calls ``audioop.rms`` for
    every step, about 100 Python-level slices per second of audio (a second of CPU per minute of
    audio), and needs the whole audio in memory. Here the windows are taken ``READ_BLOCK_S`` at a
    time: each block of windows reads only the audio it spans, and a cumulative sum of squares
    gives every window's energy at once. The arithmetic is pydub's exactly (same window frames,
    zero padding past the end, integer sum of squares, ``floor(sqrt(sum / n))`` in double
    precision, ``<=`` the threshold), so the result is the same.
    """
    duration_ms = _duration_ms(pcm)
    frames_per_ms = pcm.frame_rate / 1000.0
    threshold = db_to_float(thresh_dbfs) * _INT16_FULL_SCALE
    silent: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    for block in _window_start_blocks(duration_ms - window_ms):
        # pydub: frame index = int(ms * (rate / 1000.0)), the end capped at len(audio) ms.
        lo = (block * frames_per_ms).astype(np.int64)
        hi = (np.minimum(block + window_ms, duration_ms) * frames_per_ms).astype(np.int64)
        first = int(lo[0])
        samples = np.frombuffer(pcm.read(first, int(hi[-1]) - first), dtype="<i2").astype(np.int64)
        squares = np.zeros(len(samples) + 1, dtype=np.int64)
        np.cumsum(np.square(samples, out=samples), out=squares[1:])
        frames_read = len(samples) // pcm.channels
        begin = np.minimum(lo - first, frames_read) * pcm.channels
        end = np.minimum(hi - first, frames_read) * pcm.channels
        energy = squares[end] - squares[begin]
        count = (hi - lo) * pcm.channels  # frames missing past the end are padded with silence
        rms = np.where(count > 0, np.floor(np.sqrt(energy.astype(np.float64) / np.maximum(count, 1))), 0)
        silent.append(block[rms <= threshold])
    return np.concatenate(silent)


def _speech_ms(pcm: _Pcm, window_ms: int, thresh_dbfs: float) -> list[Span]:
    """``pydub.silence.detect_nonsilent`` with a ``SEEK_STEP_MS`` step: where there is sound."""
    duration_ms = _duration_ms(pcm)
    if duration_ms < window_ms:
        return [(0, duration_ms)]
    silence_starts = _silent_window_starts(pcm, window_ms, thresh_dbfs)
    if not len(silence_starts):
        return [(0, duration_ms)]
    # Grouping, as in pydub.silence.detect_silence: a silent window starts a new range only when it
    # neither follows the previous one by a step nor overlaps it.
    gaps = np.diff(silence_starts)
    breaks = np.flatnonzero((gaps != SEEK_STEP_MS) & (gaps > window_ms))
    range_starts = silence_starts[np.concatenate(([0], breaks + 1))]
    range_ends = silence_starts[np.concatenate((breaks, [len(silence_starts) - 1]))] + window_ms
    silent = list(zip(range_starts.tolist(), range_ends.tolist(), strict=True))
    if silent[0] == (0, duration_ms):
        return []
    nonsilent: list[Span] = []
    prev_end = 0
    for start, end in silent:
        nonsilent.append((prev_end, start))
        prev_end = end
    if silent[-1][1] != duration_ms:
        nonsilent.append((prev_end, duration_ms))
    if nonsilent[0] == (0, 0):
        nonsilent.pop(0)
    return nonsilent


def speech_spans(
    audio: AudioSegment, *, min_silence_ms: int = 200, silence_thresh_dbfs: float = -40.0
) -> list[tuple[float, float]]:
    """Where there is sound above the threshold, in seconds: the speech map timestamps snap to."""
    spans = _speech_ms(_SegmentPcm.of(audio), min_silence_ms, silence_thresh_dbfs)
    return [(s / 1000, e / 1000) for s, e in spans]


def plan_from_speech(
    speech: list[Span], duration_ms: int, config: ChunkingConfig | None = None
) -> list[ChunkSpec]:
    """Plan ordered chunks that cover all ``speech`` (ms spans) in audio of ``duration_ms``.

    Cuts fall inside silences; long silences between chunks are left out (they cost engine time
    and invite hallucinated text); pauses inside a chunk may stretch it to twice ``max_chunk_seconds``
    while its speech fits one window (see :func:`_group`); a speech run longer than
    ``max_chunk_seconds`` is cut into equal pieces that overlap where declared, and audio with no speech
    found is covered end to end the same way, so nothing is ever dropped.
    """
    config = config or ChunkingConfig()
    if duration_ms <= 0:
        return []
    max_ms = max(1, round(config.max_chunk_seconds * 1000))
    overlap = config.overlap_ms
    if not speech:
        # No silence found (noise, music, or no speech at all): every cut may fall inside speech.
        spans = _fixed_pieces((0, duration_ms), max_ms, overlap)
    else:
        keep = config.keep_silence_ms
        padded = merge_overlaps([(max(0, s - keep), min(duration_ms, e + keep)) for s, e in speech])
        pieces = [piece for span in padded for piece in _fixed_pieces(span, max_ms, overlap)]
        spans = _group(pieces, max_ms, config.max_speech_ms)
    return [
        ChunkSpec(
            index=i,
            offset=round(start / 1000, 3),
            duration=round((end - start) / 1000, 3),
            overlap=round(lead / 1000, 3),
        )
        for i, (start, end, lead) in enumerate(spans)
    ]


def longest_first(specs: Sequence[ChunkSpec]) -> list[ChunkSpec]:
    """The order to hand chunks to the Map in: longest first, ties in file order.

    The Map starts its items in list order as workers free up. With the long chunks first and the
    short ones last, the workers run out of work at nearly the same time (longest processing time
    first), rather than one worker decoding a long last chunk alone while the others wait.
    """
    return sorted(specs, key=lambda spec: (-spec.duration, spec.index))


def plan_chunks(audio: AudioSegment, config: ChunkingConfig | None = None) -> list[ChunkSpec]:
    """:func:`plan_from_speech` for audio already in memory."""
    config = config or ChunkingConfig()
    pcm = _SegmentPcm.of(audio)
    speech = _speech_ms(pcm, config.min_silence_ms, config.silence_thresh_dbfs)
    return plan_from_speech(speech, _duration_ms(pcm), config)


def plan_chunks_from_file(wav_path: Path, config: ChunkingConfig | None = None) -> list[ChunkSpec]:
    """:func:`plan_from_speech` for a 16-bit PCM WAV file, read a block at a time (the chunk step).

    Gives the same plan as :func:`plan_chunks` on the same audio loaded into memory.
    """
    config = config or ChunkingConfig()
    return plan_from_speech(*sound_spans_from_file(wav_path, config), config)


def sound_spans_from_file(wav_path: Path, config: ChunkingConfig | None = None) -> tuple[list[Span], int]:
    """Where a 16-bit PCM WAV file has sound above the silence threshold (ms spans), and its length
    in ms: what :func:`plan_chunks_from_file` plans from, read a block at a time."""
    config = config or ChunkingConfig()
    with _open_wav(wav_path) as pcm:
        return _speech_ms(pcm, config.min_silence_ms, config.silence_thresh_dbfs), _duration_ms(pcm)


def _frame_span(spec: ChunkSpec, duration_ms: int, frame_rate: int) -> tuple[int, int]:
    """The frames of pydub's slice ``audio[offset_ms:end_ms]``: [first, stop), same rounding."""
    frames_per_ms = frame_rate / 1000.0
    first = int(min(round(spec.offset * 1000), duration_ms) * frames_per_ms)
    stop = int(min(round(spec.end * 1000), duration_ms) * frames_per_ms)
    return first, stop


def chunk_byte_ranges(wav_path: Path, specs: Sequence[ChunkSpec]) -> list[ByteRange]:
    """Where each chunk's samples lie in a 16 kHz mono 16-bit WAV file: [first, stop) byte offsets.

    The chunk step stores the job's audio once and the transcribe step reads its chunk with one
    ranged GET, instead of the chunk step writing and storing a copy of every chunk (one PUT per
    chunk, and a second copy of the audio on disk and in S3). The frames are those of pydub's slice
    ``audio[offset_ms:end_ms]`` (same rounding), except where a rounded end falls a fraction of a
    millisecond past the data: pydub pads that with zeros, the range stops at the last sample (the
    last one the file holds, should it hold fewer than its header says).
    """
    with _open_wav(wav_path) as pcm:
        _check_chunk_format(pcm, wav_path)
        duration_ms, width = _duration_ms(pcm), CHUNK_SAMPLE_WIDTH * pcm.channels
        spans = [_frame_span(spec, duration_ms, pcm.frame_rate) for spec in specs]
        total_frames = pcm.total_frames
    with wav_path.open("rb") as handle:
        data = pcm_data_offset(handle)
    # The frames the file holds, whatever its header promises: no range runs past the object's end.
    held = min(total_frames, max(wav_path.stat().st_size - data, 0) // width)
    stored = [(min(first, held), min(stop, held)) for first, stop in spans]
    return [ByteRange(data + first * width, data + max(first, stop) * width) for first, stop in stored]


def write_chunk_wav(path: Path, samples: bytes) -> Path:
    """A chunk's samples (16 kHz mono 16-bit, read from the job's audio by byte range) as the WAV
    file the engines take."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(CHUNK_SAMPLE_WIDTH)
        wav.setframerate(CHUNK_RATE)
        wav.writeframes(samples)
    return path


def _check_chunk_format(pcm: _Pcm, wav_path: Path) -> None:
    if (pcm.frame_rate, pcm.channels) != (CHUNK_RATE, 1):
        raise ValueError(
            f"{wav_path.name} is {pcm.frame_rate} Hz with {pcm.channels} channels; "
            f"chunks are cut from {CHUNK_RATE} Hz mono"
        )
