"""Outputs with speaker labels: JSON fields, turn prefixes, VTT voice spans, renaming."""

from __future__ import annotations

import json

import pytest

from transcriber.domain import formats
from transcriber.domain.models import Segment, Transcript, Word
from transcriber.domain.subtitles import MAX_CUE_S, MAX_LINE_CHARS, MAX_LINES


def _w(start: float, end: float, text: str, speaker: str) -> Word:
    return Word(start, end, text, 0.9, speaker=speaker)


def _transcript() -> Transcript:
    first = (_w(0.0, 0.4, " Good", "spk_0"), _w(0.5, 0.9, " morning.", "spk_0"))
    second = (_w(1.2, 1.5, " Hello", "spk_1"), _w(1.6, 2.0, " Alice.", "spk_1"))
    long_words = tuple(_w(2.5 + i * 0.4, 2.8 + i * 0.4, " word", "spk_1") for i in range(30))
    third = (_w(15.0, 15.5, " Bye.", "spk_0"),)
    return Transcript(
        job_id="j1",
        language="en",
        duration=16.0,
        chunks=1,
        engine="e",
        segments=(
            Segment(0.0, 0.9, " Good morning.", first, speaker="spk_0"),
            Segment(1.2, 2.0, " Hello Alice.", second, speaker="spk_1"),
            Segment(2.5, 14.4, " word" * 30, long_words, speaker="spk_1"),
            Segment(15.0, 15.5, " Bye.", third, speaker="spk_0"),
        ),
    )


def test_json_carries_speakers_on_segments_words_and_a_summary() -> None:
    doc = json.loads(formats.to_json(_transcript()))
    assert [s["speaker"] for s in doc["segments"]] == ["spk_0", "spk_1", "spk_1", "spk_0"]
    assert {w["speaker"] for w in doc["segments"][0]["words"]} == {"spk_0"}
    assert doc["speakers"] == [
        {"label": "spk_0", "name": None, "seconds": 1.4},
        {"label": "spk_1", "name": None, "seconds": 12.7},
    ]
    assert "channel" not in doc["segments"][0]


def test_srt_and_txt_name_the_speaker_at_each_turn_within_subtitle_rules() -> None:
    t = _transcript()
    srt = formats.to_srt(t)
    cues = formats.parse_srt(srt)
    assert cues[0][2] == "spk_0: Good morning."
    assert cues[1][2] == "spk_1: Hello Alice."
    assert not cues[2][2].startswith("spk_")  # same speaker continues: no prefix
    assert cues[-1][2] == "spk_0: Bye."
    for block in srt.strip().split("\n\n"):
        lines = block.split("\n")[2:]
        assert len(lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS for line in lines)
    assert all(end - start <= MAX_CUE_S for start, end, _ in cues)
    txt = formats.to_txt(t)
    assert txt.startswith("spk_0: Good morning.\n\nspk_1: Hello Alice. word")
    assert txt.rstrip().endswith("spk_0: Bye.")


def test_vtt_uses_voice_spans() -> None:
    vtt = formats.to_vtt(_transcript())
    assert "<v spk_0>Good morning." in vtt and "<v spk_1>Hello Alice." in vtt
    assert formats.parse_vtt(vtt)[0][2] == "Good morning."  # voice spans are markup, not text


def test_rename_rewrites_all_four_outputs_and_keeps_labels() -> None:
    doc = formats.transcript_to_dict(_transcript())
    outputs = formats.rename_speakers(doc, {"spk_1": "Bob <3"})
    renamed = json.loads(outputs["json"])
    assert renamed["speakers"][1] == {"label": "spk_1", "name": "Bob <3", "seconds": 12.7}
    assert renamed["segments"][1]["speaker"] == "spk_1"
    assert "Bob <3: Hello Alice." in outputs["srt"] and "Bob <3: Hello Alice." in outputs["txt"]
    assert "<v Bob &lt;3>Hello Alice." in outputs["vtt"]
    again = formats.rename_speakers(renamed, {"spk_0": "Ann"})  # earlier names are kept
    assert [s["name"] for s in json.loads(again["json"])["speakers"]] == ["Ann", "Bob <3"]


def test_document_round_trips_to_the_same_outputs() -> None:
    t = _transcript()
    back, names = formats.transcript_from_document(formats.transcript_to_dict(t))
    assert names == {}
    assert formats.render_all(back) == formats.render_all(t)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"spk_9": "X"}, "unknown speaker label"),
        ({"spk_0": ""}, "1 to 64"),
        ({"spk_0": "a\nb"}, "control"),
        ({}, "non-empty"),
        ({"spk_0": "x" * 65}, "1 to 64"),
    ],
)
def test_untrusted_names_are_checked(names: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        formats.rename_speakers(formats.transcript_to_dict(_transcript()), names)


def test_without_speakers_nothing_changes() -> None:
    plain = Transcript("j", "en", 2.0, 1, (Segment(0.0, 1.0, " Hi.", (Word(0.0, 1.0, " Hi.", 0.9),)),))
    doc = formats.transcript_to_dict(plain)
    assert "speakers" not in doc and "speaker" not in doc["segments"][0]
    assert "speaker" not in doc["segments"][0]["words"][0]
    assert formats.to_srt(plain) == "1\n00:00:00,000 --> 00:00:01,000\nHi.\n"
