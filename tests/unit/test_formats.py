"""Output formats agree with each other and parse back as valid subtitles."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from transcriber.domain.formats import (
    parse_srt,
    parse_vtt,
    render_all,
    to_srt,
    to_txt,
    to_vtt,
    transcript_to_dict,
)
from transcriber.domain.models import Segment, Transcript, Word


@pytest.fixture
def transcript() -> Transcript:
    return Transcript(
        job_id="job-7",
        language="en",
        duration=3725.4567,
        chunks=3,
        engine="whisper-base",
        segments=(
            Segment(
                0.0, 1.23456, " Hello   world ", (Word(0.0, 0.5, "Hello", 0.98765), Word(0.6, 1.2, "world"))
            ),
            Segment(61.5, 64.0, "Use <b> & --> arrows"),
            Segment(62.0, 62.0, "   "),  # empty text: no cue anywhere
            Segment(3661.001, 3662.5, "past the hour\nsecond line"),
        ),
    )


def test_json_document(transcript: Transcript) -> None:
    doc = json.loads(render_all(transcript)["json"])
    assert doc == transcript_to_dict(transcript)
    assert {k: doc[k] for k in ("job_id", "language", "duration", "chunks", "engine")} == {
        "job_id": "job-7", "language": "en", "duration": 3725.457, "chunks": 3, "engine": "whisper-base",
    }  # fmt: skip
    assert [s["id"] for s in doc["segments"]] == [1, 2, 3]
    assert doc["segments"][0] == {
        "id": 1, "start": 0.0, "end": 1.235, "text": "Hello world",
        "words": [
            {"start": 0.0, "end": 0.5, "text": "Hello", "probability": 0.988},
            {"start": 0.6, "end": 1.2, "text": "world"},
        ],
    }  # fmt: skip
    assert "words" not in doc["segments"][1]
    assert doc["transcript"] == "Hello world Use <b> & --> arrows past the hour second line"


def test_srt_layout(transcript: Transcript) -> None:
    srt = to_srt(transcript)
    assert srt.startswith(
        "1\n00:00:00,000 --> 00:00:01,235\nHello world\n\n2\n00:01:01,500 --> 00:01:04,000\n"
    )
    assert "3\n01:01:01,001 --> 01:01:02,500\npast the hour second line\n" in srt


def test_vtt_layout(transcript: Transcript) -> None:
    vtt = to_vtt(transcript)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.235\nHello world\n\n")
    assert "Use &lt;b&gt; &amp; --&gt; arrows" in vtt


def test_subtitles_round_trip_and_agree_with_json(transcript: Transcript) -> None:
    out = render_all(transcript)
    assert set(out) == {"json", "srt", "vtt", "txt"}
    segments = json.loads(out["json"])["segments"]
    srt, vtt = parse_srt(out["srt"]), parse_vtt(out["vtt"])
    assert srt == vtt == [(s["start"], s["end"], s["text"]) for s in segments]
    assert out["txt"].split() == json.loads(out["json"])["transcript"].split()
    # Three paragraphs: the segments are separated by pauses of a minute and an hour.
    assert to_txt(transcript) == "Hello world\n\nUse <b> & --> arrows\n\npast the hour second line\n"


def test_empty_transcript() -> None:
    t = Transcript(job_id="j", language=None, duration=0.0, chunks=0)
    assert parse_srt(to_srt(t)) == [] and parse_vtt(to_vtt(t)) == [] and to_txt(t) == ""


def test_parsers_accept_common_variants() -> None:
    assert parse_srt("\ufeff1\r\n00:00:01,000 --> 00:00:02,500\r\nA\r\nB\r\n") == [(1.0, 2.5, "A B")]
    vtt = "WEBVTT - title\n\nNOTE a comment\n\n00:01.000 --> 00:02.000 align:start\nhi &amp; bye\n"
    assert parse_vtt(vtt) == [(1.0, 2.0, "hi & bye")]


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        *((parse_srt, text) for text in (
            "1\n00:00:01.000 --> 00:00:02,000\nwrong separator\n",
            "x\n00:00:01,000 --> 00:00:02,000\nno index\n",
            "1\n00:00:01,000 --> 00:00:02,000\n",
            "1\n00:00:03,000 --> 00:00:02,000\nends before it starts\n",
            "1\n00:61:01,000 --> 00:62:02,000\nbad minutes\n",
        )),
        *((parse_vtt, text) for text in (
            "00:00:01.000 --> 00:00:02.000\nno header\n",
            "WEBVTT\n\n00:00:01,000 --> 00:00:02,000\ncomma\n",
            "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n",
            "WEBVTT\n\n00:00:02.000 --> 00:00:01.000\nbackwards\n",
            "WEBVTTX\n\n00:00:01.000 --> 00:00:02.000\nbad header\n",
        )),
    ],
    ids=lambda value: value.__name__ if callable(value) else None,
)  # fmt: skip
def test_malformed_subtitles_are_rejected_by_their_parser(parse: Callable[[str], object], text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)
