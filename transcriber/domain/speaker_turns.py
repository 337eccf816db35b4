"""Speaker turns and how they label a transcript: every word gets the speaker whose turn it
overlaps most, and a segment is split wherever the speaker changes (words keep their times).

Plain Python on purpose: the aggregate step applies the turns and ships without numpy's
clustering stack (transcriber.domain.diarization computes the turns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from transcriber.domain.models import Segment, Word
from transcriber.domain.subtitles import join_words


@dataclass(frozen=True)
class SpeakerTurn:
    """A stretch of one speaker's speech; absolute seconds. ``channel``: where it was heard, with
    channel identification (a channel's words take only that channel's turns)."""

    start: float
    end: float
    speaker: str
    channel: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": self.start, "end": self.end, "speaker": self.speaker}
        if self.channel is not None:
            data["channel"] = self.channel
        return data

    @classmethod
    def from_dict(cls, data: Any) -> SpeakerTurn:
        """:meth:`to_dict`'s output back (TypeError, KeyError, ValueError or AttributeError if malformed)."""
        channel = data.get("channel")
        return cls(
            float(data["start"]),
            float(data["end"]),
            str(data["speaker"]),
            None if channel is None else int(channel),
        )


def speaker_at(start: float, end: float, turns: Sequence[SpeakerTurn]) -> str | None:
    """The speaker whose turns overlap ``[start, end]`` most; else the nearest turn's speaker."""
    if not turns:
        return None
    overlap: dict[str, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=lambda s: overlap[s])
    middle = (start + end) / 2
    return min(turns, key=lambda t: max(t.start - middle, middle - t.end, 0.0)).speaker


def _with_speaker(word: Word, speaker: str | None) -> Word:
    return Word(word.start, word.end, word.text, word.probability, speaker=speaker)


def label_segments(segments: Iterable[Segment], turns: Sequence[SpeakerTurn]) -> list[Segment]:
    """Every word gets a speaker; a segment is split wherever the speaker changes.

    A segment heard on one channel (channel identification) takes only that channel's turns: the
    channels overlap in time, and the other party's turn at the same moment is not who spoke here.

    The first and last piece keep the segment's own start and end; pieces between take their
    words' times. A segment without word times is labelled as a whole by overlap.
    """
    by_channel: dict[int | None, list[SpeakerTurn]] = {}
    result: list[Segment] = []
    for segment in segments:
        if segment.channel not in by_channel:
            by_channel[segment.channel] = [
                t
                for t in turns
                if t.channel is None or segment.channel is None or t.channel == segment.channel
            ]
        heard = by_channel[segment.channel]
        channel = segment.channel
        if not segment.words:
            speaker = speaker_at(segment.start, segment.end, heard)
            result.append(
                Segment(segment.start, segment.end, segment.text, (), speaker=speaker, channel=channel)
            )
            continue
        words = [_with_speaker(w, speaker_at(w.start, w.end, heard)) for w in segment.words]
        groups: list[list[Word]] = []
        for word in words:
            if groups and groups[-1][-1].speaker == word.speaker:
                groups[-1].append(word)
            else:
                groups.append([word])
        if len(groups) == 1:
            result.append(
                Segment(segment.start, segment.end, segment.text, tuple(words), words[0].speaker, channel)
            )
            continue
        for index, group in enumerate(groups):
            start = segment.start if index == 0 else group[0].start
            end = segment.end if index == len(groups) - 1 else group[-1].end
            result.append(
                Segment(
                    start, end, join_words(group), tuple(group), speaker=group[0].speaker, channel=channel
                )
            )
    return result


def speaker_seconds(segments: Iterable[Segment]) -> dict[str, float]:
    """Seconds of speech per label, in order of first appearance (segments' spans)."""
    totals: dict[str, float] = {}
    for segment in segments:
        if segment.speaker is not None:
            totals[segment.speaker] = totals.get(segment.speaker, 0.0) + max(0.0, segment.end - segment.start)
    return {label: round(seconds, 3) for label, seconds in totals.items()}
