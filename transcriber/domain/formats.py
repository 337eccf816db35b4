"""Render a transcript as JSON, SRT, WebVTT and plain text, and parse subtitles back.

Every renderer works from the same list of cues (whitespace-normalised, non-empty text, times
in whole milliseconds), so the four outputs always agree with each other. The parsers exist so
that tests, and anyone debugging, can check that what was written is valid.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from transcriber.domain.models import Segment, Transcript, Word
from transcriber.domain.subtitles import subtitle_cues
from transcriber.domain.textopts import CaptionStyle

#: A pause at least this long between segments starts a new paragraph in the TXT output.
PARAGRAPH_PAUSE_S = 2.0
#: A speaker's display name: at most this many characters, no control characters.
MAX_SPEAKER_NAME = 64

#: Display names by speaker label (``{"spk_0": "Alice"}``); a label without a name shows itself.
SpeakerNames = Mapping[str, str]


@dataclass(frozen=True)
class _Cue:
    start_ms: int
    end_ms: int
    text: str
    segment: Segment


def _ms(seconds: float) -> int:
    """Whole milliseconds, via the same 3-decimal rounding the JSON uses (so they agree)."""
    return max(0, round(round(seconds, 3) * 1000))


def _sec(ms: int) -> float:
    return ms / 1000


def _cues(t: Transcript) -> list[_Cue]:
    cues = []
    for segment in t.segments:
        text = " ".join(segment.text.split())
        if text:
            start = _ms(segment.start)
            cues.append(_Cue(start, max(start, _ms(segment.end)), text, segment))
    return cues


def _word_dict(word: Word) -> dict[str, Any]:
    data: dict[str, Any] = {"start": _sec(_ms(word.start)), "end": _sec(_ms(word.end)), "text": word.text}
    if word.probability is not None:
        data["probability"] = round(word.probability, 3)
    if word.speaker is not None:
        data["speaker"] = word.speaker
    return data


def _display(names: SpeakerNames | None) -> Callable[[str], str]:
    return lambda label: (names or {}).get(label) or label


def speakers_summary(segments: Any, names: SpeakerNames | None = None) -> list[dict[str, Any]]:
    """``[{label, name, seconds}]`` in order of first appearance; name is None until renamed."""
    totals: dict[str, float] = {}
    for segment in segments:
        if segment.speaker is not None:
            totals[segment.speaker] = totals.get(segment.speaker, 0.0) + max(0.0, segment.end - segment.start)
    return [
        {"label": label, "name": (names or {}).get(label), "seconds": round(seconds, 3)}
        for label, seconds in totals.items()
    ]


def transcript_to_dict(t: Transcript, speaker_names: SpeakerNames | None = None) -> dict[str, Any]:
    """The JSON document: job facts, the full text, and numbered segments (times in seconds).

    With speaker labels, segments and words carry ``speaker`` (segments ``channel`` too, with
    channel identification) and a top-level ``speakers`` list follows the segments.
    """
    cues = _cues(t)
    segments = []
    for number, cue in enumerate(cues, start=1):
        item: dict[str, Any] = {
            "id": number,
            "start": _sec(cue.start_ms),
            "end": _sec(cue.end_ms),
            "text": cue.text,
        }
        if cue.segment.words:
            item["words"] = [_word_dict(w) for w in cue.segment.words]
        if cue.segment.speaker is not None:
            item["speaker"] = cue.segment.speaker
        if cue.segment.channel is not None:
            item["channel"] = cue.segment.channel
        segments.append(item)
    document: dict[str, Any] = {
        "job_id": t.job_id,
        "language": t.language,
        "duration": round(t.duration, 3),
        "chunks": t.chunks,
        "engine": t.engine,
        "transcript": " ".join(cue.text for cue in cues),
        "segments": segments,
    }
    speakers = speakers_summary([cue.segment for cue in cues], speaker_names)
    if speakers:
        document["speakers"] = speakers
    if t.metadata:
        document["metadata"] = t.metadata
    return document


def to_json(t: Transcript, speaker_names: SpeakerNames | None = None) -> str:
    return json.dumps(transcript_to_dict(t, speaker_names), ensure_ascii=False, indent=2) + "\n"


def _timestamp(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _subtitle_blocks(
    t: Transcript,
    separator: str,
    escape: Callable[[str], str],
    *,
    prefix: Callable[[str], str] | None = None,
    voice: Callable[[str], str] | None = None,
    style: CaptionStyle | None = None,
) -> list[str]:
    """``prefix`` names the speaker in the text at each turn (SRT); ``voice`` tags every cue (VTT)."""
    cues = subtitle_cues(t.segments, prefix, style)
    blocks = []
    for number, cue in enumerate(cues, start=1):
        start, end = _ms(cue.start), max(_ms(cue.start), _ms(cue.end))
        timing = f"{_timestamp(start, separator)} --> {_timestamp(end, separator)}"
        lines = [escape(line) for line in cue.lines]
        if voice is not None and cue.speaker is not None and lines:
            lines[0] = f"<v {escape(voice(cue.speaker))}>{lines[0]}"
        blocks.append(f"{number}\n{timing}\n" + "\n".join(lines) + "\n")
    return blocks


def to_srt(
    t: Transcript, speaker_names: SpeakerNames | None = None, style: CaptionStyle | None = None
) -> str:
    """SubRip: numbered cues (42 characters a line, 2 lines, 7 s at most), a blank line between cues.

    With speaker labels, the first cue of each turn starts with ``spk_0:`` (or the display name).
    """
    prefix = _display(speaker_names)
    return "\n".join(_subtitle_blocks(t, ",", str, prefix=lambda s: f"{prefix(s)}:", style=style))


def _vtt_escape(text: str) -> str:
    """WebVTT cue text must not hold raw ``&``, ``<`` or ``-->``; escaping ``>`` covers the last."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(
    t: Transcript, speaker_names: SpeakerNames | None = None, style: CaptionStyle | None = None
) -> str:
    """WebVTT: ``WEBVTT`` header, then the same cues as the SRT, ``HH:MM:SS.mmm`` times.

    With speaker labels every cue opens a voice span, ``<v spk_0>`` (or the display name).
    """
    blocks = _subtitle_blocks(t, ".", _vtt_escape, voice=_display(speaker_names), style=style)
    return "\n".join(["WEBVTT\n", *blocks])


def to_txt(t: Transcript, speaker_names: SpeakerNames | None = None) -> str:
    """Plain text: a paragraph per stretch of speech, a blank line where a long pause falls.

    With speaker labels a change of speaker also starts a paragraph, which opens with ``spk_0:``.
    """
    display = _display(speaker_names)
    paragraphs: list[list[str]] = []
    previous_end: float | None = None
    previous_speaker: str | None = None
    for cue in _cues(t):
        start = _sec(cue.start_ms)
        speaker = cue.segment.speaker
        turn = speaker is not None and speaker != previous_speaker
        if previous_end is None or start - previous_end >= PARAGRAPH_PAUSE_S or turn:
            paragraphs.append([f"{display(speaker)}:"] if speaker is not None else [])
        paragraphs[-1].append(cue.text)
        previous_end = _sec(cue.end_ms)
        previous_speaker = speaker if speaker is not None else previous_speaker
    return "".join(" ".join(p) + "\n\n" for p in paragraphs).rstrip("\n") + "\n" if paragraphs else ""


def render_all(
    t: Transcript, speaker_names: SpeakerNames | None = None, style: CaptionStyle | None = None
) -> dict[str, str]:
    """Every output format, keyed by file extension; ``style`` sets the subtitle limits."""
    return {
        "json": to_json(t, speaker_names),
        "srt": to_srt(t, speaker_names, style),
        "vtt": to_vtt(t, speaker_names, style),
        "txt": to_txt(t, speaker_names),
    }


def transcript_from_document(document: Mapping[str, Any]) -> tuple[Transcript, dict[str, str]]:
    """The transcript and display names behind a JSON document, so every output can be rendered again."""
    segments = tuple(Segment.from_dict(item) for item in document.get("segments", []))
    names = {s["label"]: s["name"] for s in document.get("speakers", []) if s.get("name")}
    transcript = Transcript(
        job_id=str(document["job_id"]),
        language=document.get("language"),
        duration=float(document.get("duration", 0.0)),
        chunks=int(document.get("chunks", 0)),
        segments=segments,
        engine=str(document.get("engine", "")),
        metadata=dict(document.get("metadata") or {}),
    )
    return transcript, names


def check_speaker_names(names: Mapping[str, Any], labels: set[str]) -> dict[str, str]:
    """Validate untrusted renames: known labels only, names of 1 to 64 printable characters."""
    if not isinstance(names, Mapping) or not names:
        raise ValueError('speaker names must be a non-empty object such as {"spk_0": "Alice"}')
    checked: dict[str, str] = {}
    for label, name in names.items():
        if label not in labels:
            known = ", ".join(sorted(labels)) or "none"
            raise ValueError(f"unknown speaker label {label!r}; this transcript has: {known}")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_SPEAKER_NAME:
            raise ValueError(f"the name for {label} must be 1 to {MAX_SPEAKER_NAME} characters")
        if any(not ch.isprintable() for ch in name):
            raise ValueError(f"the name for {label} must not contain control characters or line breaks")
        checked[label] = name.strip()
    return checked


def rename_speakers(document: Mapping[str, Any], names: Mapping[str, Any]) -> dict[str, str]:
    """Apply display names to a stored JSON document; every output rendered again (pure function).

    Names given before are kept unless renamed again; labels in segments and words never change,
    so filters by label keep working after a rename.
    """
    transcript, current = transcript_from_document(document)
    labels = {s["label"] for s in document.get("speakers", [])}
    return render_all(transcript, {**current, **check_speaker_names(names, labels)})


_SRT_TIMING = re.compile(r"^(\d{2,}):([0-5]\d):([0-5]\d),(\d{3}) --> (\d{2,}):([0-5]\d):([0-5]\d),(\d{3})$")
_VTT_TIME = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"
_VTT_TIMING = re.compile(rf"^{_VTT_TIME} --> {_VTT_TIME}(?:[ \t].*)?$")
#: Voice spans (``<v Alice>`` ... ``</v>``): markup, not cue text.
_VOICE_TAG = re.compile(r"</?v(?:[ .][^>]*)?>")


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return (int(hours or 0) * 3_600_000 + int(minutes) * 60_000 + int(seconds) * 1000 + int(millis)) / 1000


def _blocks(text: str) -> list[list[str]]:
    """Split subtitle text into blocks of non-blank lines (BOM and CRLF tolerated)."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _check_times(start: float, end: float, where: str) -> None:
    if end < start:
        raise ValueError(f"{where}: cue ends before it starts")


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """Parse SubRip into ``(start, end, text)``; raise ValueError on anything malformed."""
    cues = []
    for number, block in enumerate(_blocks(text), start=1):
        where = f"SRT cue {number}"
        if len(block) < 3:
            raise ValueError(f"{where}: expected an index, a timing line and text, got {block!r}")
        if not block[0].strip().isdigit():
            raise ValueError(f"{where}: index {block[0]!r} is not a number")
        match = _SRT_TIMING.match(block[1].strip())
        if not match:
            raise ValueError(f"{where}: bad timing line {block[1]!r}")
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        _check_times(start, end, where)
        cues.append((start, end, " ".join(line.strip() for line in block[2:])))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """Parse WebVTT cues into ``(start, end, text)``; raise ValueError on anything malformed."""
    blocks = _blocks(text)
    if not blocks or not re.match(r"^WEBVTT(?:[ \t].*)?$", blocks[0][0]):
        raise ValueError("WebVTT must start with a 'WEBVTT' line")
    cues = []
    for number, block in enumerate(blocks[1:], start=1):
        if block[0].startswith(("NOTE", "STYLE", "REGION")) and "-->" not in block[0]:
            continue
        where = f"VTT block {number}"
        timing_at = 0 if "-->" in block[0] else 1
        if len(block) <= timing_at + 1:
            raise ValueError(f"{where}: expected a timing line and text, got {block!r}")
        match = _VTT_TIMING.match(block[timing_at].strip())
        if not match:
            raise ValueError(f"{where}: bad timing line {block[timing_at]!r}")
        g = match.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        _check_times(start, end, where)
        body = " ".join(line.strip() for line in block[timing_at + 1 :])
        if "-->" in body:
            raise ValueError(f"{where}: cue text must not contain '-->'")
        cues.append((start, end, html.unescape(_VOICE_TAG.sub("", body))))
    return cues
