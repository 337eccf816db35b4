"""Channel identification: each channel of a recording transcribed on its own, labelled by channel.

Call recordings keep one party per channel (agent left, customer right), so the channel says who
spoke more reliably than any voice model. The chunk stage splits the upload into one mono WAV per
channel, mutes on each channel the other party's leaked speech (:func:`suppress_crosstalk`: the
engine would transcribe it), and plans each channel into chunks of its own; chunk indexes run on
across channels so every chunk keeps its own checkpoint key, and each ChunkSpec knows its channel
(and so which channel's stored WAV holds its bytes). The Map transcribes them like any other
chunks. :func:`merge_by_channel` then merges each channel alone (seams and overlaps are a
channel's own business) and interleaves the channels by time, every segment and word labelled
``ch_<channel>``.
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from transcriber.domain.audio import AudioInfo, pcm_data_offset, sniff_format
from transcriber.domain.chunking import ByteRange, ChunkingConfig, chunk_byte_ranges, plan_chunks_from_file
from transcriber.domain.errors import TooLongError
from transcriber.domain.models import ChunkSpec, ChunkTranscript, Segment, Transcript, Word
from transcriber.domain.preparation import PreparedAudio

#: More channels than this is a surround mix or a multitrack session, not a call; refused.
MAX_CHANNELS = 8
#: A channel is muted where another is louder by this much: what it holds there is leaked speech
#: (headsets and phone lines leak the other party 20-40 dB down), which the engine would transcribe.
CROSSTALK_MARGIN_DB = 15.0
CROSSTALK_FRAME_S = 0.02
#: On the job record when the upload has a single channel.
MONO_NOTE = "The recording has one channel: channel identification labelled all of it ch_0."

#: Decodes an upload into one 16 kHz mono WAV per channel under the folder it is given
#: (transcriber.adapters.ffmpeg.split_channels with max_channels bound).
SplitChannels = Callable[[Path, Path], tuple[AudioInfo, list[Path]]]


@dataclass(frozen=True)
class ChannelChunks(PreparedAudio):
    """The prepared audio of channel identification: ``audio`` holds one WAV per channel, in
    channel order."""

    @property
    def channels(self) -> int:
        return len(self.audio)

    def job_fields(self) -> dict[str, object]:
        """What the job record says about the channels (a mono upload is noted, not refused)."""
        fields: dict[str, object] = {"channels": self.channels}
        if self.channels == 1:
            fields["channel_note"] = MONO_NOTE
        return fields


def speaker_label(channel: int) -> str:
    return f"ch_{channel}"


def prepare_channel_chunks(
    source: Path, workdir: Path, *, config: ChunkingConfig, max_duration_s: float, split: SplitChannels
) -> ChannelChunks:
    """Split the upload per channel, check the length, then plan each channel's chunks.

    The duration limit counts every channel: a two-hour stereo call is four hours of transcription
    (time, cost and chunk references in the state), so it is held to the same limit.
    """
    sniff_format(source)
    info, channel_wavs = split(source, workdir / "channels")
    transcribed_s = info.duration_s * len(channel_wavs)
    if transcribed_s > max_duration_s:
        raise TooLongError(
            f"The audio lasts {info.duration_s / 60:.1f} minutes on each of {len(channel_wavs)} "
            f"channels, {transcribed_s / 60:.1f} minutes to transcribe, over the "
            f"{max_duration_s / 60:.0f}-minute limit; split it into shorter files, or submit it "
            "without channel identification."
        )
    if len(channel_wavs) > 1:
        suppress_crosstalk(channel_wavs)
    chunks: list[tuple[ChunkSpec, ByteRange]] = []
    for channel, wav in enumerate(channel_wavs):
        planned = plan_chunks_from_file(wav, config)
        first = len(chunks)
        specs = [replace(spec, index=first + spec.index, channel=channel) for spec in planned]
        chunks.extend(zip(specs, chunk_byte_ranges(wav, specs), strict=True))
    return ChannelChunks(info=info, audio=list(channel_wavs), chunks=chunks)


def _frame_db(samples: np.ndarray, frame: int) -> np.ndarray:
    frames = samples[: len(samples) // frame * frame].astype(np.float64).reshape(-1, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1.0)  # +1: digital silence is 0 dB, not -inf


def suppress_crosstalk(channel_wavs: Sequence[Path], margin_db: float = CROSSTALK_MARGIN_DB) -> None:
    """Mute, in place, each 16-bit mono WAV's frames where another channel is ``margin_db`` louder.

    Where both parties talk at once both channels are loud and both are kept. Read and written a
    block at a time (the files are equally long: one upload split per channel).
    """
    frame = round(CROSSTALK_FRAME_S * 16_000)
    block = frame * 500  # 10 s
    handles = [path.open("r+b") for path in channel_wavs]
    try:
        offsets = [_data_offset(handle) for handle in handles]
        position = 0
        while True:
            blocks = []
            for handle, offset in zip(handles, offsets, strict=True):
                handle.seek(offset + position * 2)
                blocks.append(np.frombuffer(handle.read(block * 2), dtype="<i2").copy())
            length = min(len(b) for b in blocks) // frame * frame
            if length == 0:
                return
            levels = np.stack([_frame_db(b[:length], frame) for b in blocks])
            for channel, (handle, offset) in enumerate(zip(handles, offsets, strict=True)):
                others = np.delete(levels, channel, axis=0).max(axis=0)
                muted = np.repeat(others - levels[channel] > margin_db, frame)
                if muted.any():
                    samples = blocks[channel][:length]
                    samples[muted] = 0
                    handle.seek(offset + position * 2)
                    handle.write(samples.astype("<i2").tobytes())
            position += length
    finally:
        for handle in handles:
            handle.close()


def _data_offset(handle: BinaryIO) -> int:
    """Byte offset of the samples in a 16-bit mono WAV (the only format crosstalk is measured in)."""
    with wave.open(handle, "rb") as wav:  # checks the format; the handle stays open
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError("crosstalk suppression takes 16-bit mono WAV")
    return pcm_data_offset(handle)


def _labelled(segment: Segment, channel: int) -> Segment:
    label = speaker_label(channel)
    words = tuple(Word(w.start, w.end, w.text, w.probability, label) for w in segment.words)
    return replace(segment, words=words, speaker=label, channel=channel)


def merge_by_channel(
    chunks: Iterable[ChunkTranscript],
    channel_of: Mapping[int, int],
    merge: Callable[[Iterable[ChunkTranscript]], Transcript],
) -> Transcript:
    """Merge each channel's chunks on its own, label them ``ch_N``, and interleave them by time.

    ``channel_of`` maps a chunk index to its channel (from the chunk references in the state);
    ``merge`` is :func:`~transcriber.domain.merge.merge_chunks` with the job's facts bound (the
    same merge a job without channels gets). Sorting by start time is stable, so at equal starts
    the lower channel comes first.
    """
    by_channel: dict[int, list[ChunkTranscript]] = {}
    for chunk in chunks:
        by_channel.setdefault(channel_of.get(chunk.index, 0), []).append(chunk)
    merged = {channel: merge(parts) for channel, parts in sorted(by_channel.items())}
    segments = sorted(
        (_labelled(segment, channel) for channel, part in merged.items() for segment in part.segments),
        key=lambda s: s.start,
    )
    everything = [chunk for parts in by_channel.values() for chunk in parts]
    # The job's language: pinned, or voted on by every channel's chunks together.
    overall = merge(everything)
    return replace(overall, segments=tuple(segments))
