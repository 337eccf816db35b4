"""Text options (transcriber/domain/textopts.py, textedit.py, redaction.py) and caption rules:
each option's effect on the words and their times, and each bad value refused with a message."""

from __future__ import annotations

import pytest

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.formats import parse_srt, render_all, to_srt
from transcriber.domain.job_warnings import NO_SPEECH
from transcriber.domain.models import Segment, Transcript, Word
from transcriber.domain.options import JobOptions
from transcriber.domain.redaction import find_pii
from transcriber.domain.subtitles import subtitle_cues
from transcriber.domain.textedit import edit_transcript, join_hyphens, text_edits
from transcriber.domain.textopts import PII_TAGS, CaptionStyle
from transcriber.stages.aggregate import transcript_warnings

ALL_PII = tuple(PII_TAGS)


def _words(text: str, step: float = 0.5) -> tuple[Word, ...]:
    """Whisper-style words (leading spaces), one every ``step`` seconds."""
    return tuple(Word(i * step, i * step + step * 0.8, f" {t}") for i, t in enumerate(text.split()))


def _transcript(*texts: str) -> Transcript:
    segments, start = [], 0.0
    for text in texts:
        words = tuple(Word(w.start + start, w.end + start, w.text) for w in _words(text))
        segments.append(Segment(words[0].start, words[-1].end, "".join(w.text for w in words), words))
        start = words[-1].end + 1.0
    return Transcript(job_id="j", language="en", duration=start, chunks=1, segments=tuple(segments))


def _edited(options: dict, *texts: str) -> Transcript:
    return edit_transcript(_transcript(*texts), text_edits(JobOptions.parse(options)))


# Validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"redact_pii": True, "pii_entity_types": ["ssn"]},
            "Accepted: email, phone_number, payment_card_number",
        ),
        ({"redact_pii": True, "pii_entity_types": []}, "non-empty list"),
        ({"pii_entity_types": ["email"]}, "apply with redact_pii: true"),
        ({"keep_unredacted": True}, "apply with redact_pii: true"),
        ({"redact_pii": "maybe"}, "must be true or false"),
        ({"replacements": [{"from": "", "to": "x"}]}, "Each replacement"),
        ({"replacements": [{"from": "a"}]}, "Each replacement"),
        ({"replacements": [{"from": "x" * 51, "to": "y"}]}, "Each replacement"),
        ({"replacements": [{"from": "a", "to": "b"}] * 101}, "up to 100"),
        ({"replacements": "not json"}, "must be a JSON list"),
        ({"caption_max_line_chars": 5}, "caption_max_line_chars must be a whole number from 10 to 80"),
        ({"caption_max_lines": 0}, "caption_max_lines must be a whole number from 1 to 4"),
        ({"caption_max_duration_s": 60}, "caption_max_duration_s must lie between 1 and 30"),
        ({"vocabulary_name": "no spaces"}, "vocabulary_name must be 1 to 64"),
        ({"vocabulary_phrases": []}, None),  # empty is "none", allowed
    ],
)
def test_bad_text_options_are_refused_with_what_is_accepted(options: dict, message: str | None) -> None:
    if message is None:
        assert JobOptions.parse(options).vocabulary_phrases == ()
        return
    with pytest.raises(InvalidOptionsError, match=message.replace("(", r"\(")):
        JobOptions.parse(options)


def test_text_options_travel_as_s3_metadata_and_back() -> None:
    options = JobOptions.parse(
        {
            "redact_pii": "true",
            "pii_entity_types": "email,phone_number",
            "replacements": [{"from": "tom", "to": "Thom"}],
            "caption_max_line_chars": "32",
        }
    )
    assert options.to_dict()["replacements"] == [{"from": "tom", "to": "Thom"}]
    assert JobOptions.from_metadata(options.to_metadata()) == options
    assert options.caption_style() == CaptionStyle(max_line_chars=32, max_lines=2, max_duration_s=7.0)


# Custom spelling -------------------------------------------------------------------------------


def test_replacements_are_whole_words_case_aware_and_keep_times() -> None:
    rules = {"replacements": [{"from": "tom", "to": "Thom"}, {"from": "eye phone", "to": "iPhone"}]}
    out = _edited(rules, "tom met tomas and Tom. his eye phone rang")
    segment = out.segments[0]
    assert segment.text == " Thom met tomas and Thom. his iPhone rang"
    merged = next(w for w in segment.words if w.text.strip() == "iPhone")
    original = _transcript("tom met tomas and Tom. his eye phone rang").segments[0].words
    assert (merged.start, merged.end) == (original[6].start, original[7].end)
    # An upper-case "from" matches only that case.
    exact = _edited({"replacements": [{"from": "AWS", "to": "Amazon Web Services"}]}, "aws and AWS")
    assert exact.segments[0].text == " aws and Amazon Web Services"


def test_replacements_reach_every_output() -> None:
    out = _edited({"replacements": [{"from": "colour", "to": "color"}]}, "the colour red")
    rendered = render_all(out)
    assert all("color" in body and "colour" not in body for body in rendered.values())


# Hyphens and captions --------------------------------------------------------------------------


def test_hyphenated_words_split_by_word_timestamps_are_joined() -> None:
    words = [
        Word(0, 0.3, " ill"),
        Word(0.3, 0.8, " -disposed"),
        Word(0.9, 1.2, " cold"),
        Word(1.2, 1.6, " -hearted"),
    ]
    joined = join_hyphens(words)
    assert [w.text for w in joined] == [" ill-disposed", " cold-hearted"]
    assert (joined[0].start, joined[0].end) == (0, 0.8)
    german = join_hyphens(
        [Word(0, 0.4, " merk"), Word(0.4, 0.5, " -"), Word(0.5, 0.8, " und"), Word(0.8, 1.5, " merkwürdig")]
    )
    assert "".join(w.text for w in german) == " merk- und merkwürdig"
    dash = join_hyphens([Word(0, 0.4, " this"), Word(0.4, 0.5, " -"), Word(0.5, 0.8, " that")])
    assert "".join(w.text for w in dash) == " this - that"  # a dash between words stays


def test_titles_do_not_end_a_caption() -> None:
    segment = _transcript("And Mr. John Dashwood had then leisure to consider").segments[0]
    cues = subtitle_cues([segment])
    assert len(cues) == 1 and cues[0].text.startswith("And Mr. John Dashwood")
    sentence = _transcript("He left. Dr. Smith stayed").segments[0]
    assert [c.text for c in subtitle_cues([sentence])] == ["He left.", "Dr. Smith stayed"]


def test_caption_style_limits_lines_and_duration() -> None:
    t = _transcript("one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
    narrow = parse_srt(to_srt(t, style=CaptionStyle(max_line_chars=12, max_lines=1, max_duration_s=30)))
    assert all(len(text) <= 12 for _, _, text in narrow) and len(narrow) > 3
    short = parse_srt(to_srt(t, style=CaptionStyle(max_line_chars=80, max_lines=4, max_duration_s=2)))
    assert all(end - start <= 2.0 + 0.5 for start, end, _ in short)


def test_a_transcript_without_speech_says_so() -> None:
    empty = Transcript(job_id="j", language="en", duration=1200.0, chunks=4, segments=())
    assert transcript_warnings(empty) == [NO_SPEECH] == ["no speech detected"]
    assert transcript_warnings(_transcript("hello")) == []


# Redaction ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found", "kind"),
    [
        (
            "call five five five one two three four five six seven today",
            "five five five one two three four five six seven",
            "phone_number",
        ),
        ("call me on 020 7946 0958", "020 7946 0958", "phone_number"),
        # read out in pairs, with repeats and hundreds, as people say phone numbers
        ("call five five five twelve thirty four today", "five five five twelve thirty four", "phone_number"),
        (
            "it is four one five double five five twelve twelve thanks",
            "four one five double five five twelve twelve",
            "phone_number",
        ),
        (
            "dial eight hundred five five five oh one nine nine now",
            "eight hundred five five five oh one nine nine",
            "phone_number",
        ),
        ("the number is 555-0123", "555-0123", "phone_number"),
        ("card 4111 1111 1111 1111 expires", "4111 1111 1111 1111", "payment_card_number"),
        ("my social is 123-45-6789", "123-45-6789", "national_id"),
        ("mail john dot smith at example dot com now", "john dot smith at example dot com", "email"),
        ("mail jane@example.org now", "jane@example.org", "email"),
        ("host 192.168.1.20 failed", "192.168.1.20", "ip_address"),
        (
            "host one nine two dot one six eight dot zero dot one failed",
            "one nine two dot one six eight dot zero dot one",
            "ip_address",
        ),
    ],
)
def test_personal_data_is_found_written_and_spoken(text: str, found: str, kind: str) -> None:
    words = text.split()
    matches = find_pii(words, ALL_PII)
    assert [(" ".join(words[m.start : m.end]), m.kind) for m in matches] == [(found, kind)]


@pytest.mark.parametrize(
    "text",
    [
        "we sold 1500000 units in 2024",
        "I have 3 cats and 12 dogs",
        "card 4111 1111 1111 1112 declined",
        "meet at noon",
        "the population grew to 8300000 by 1990",
        "look at that dot on the map",
        "twenty two cats and forty five dogs",
        "it was built in nineteen ninety nine",
        "the meeting is at three thirty in room 204",
        "a double espresso and a hundred thanks",
    ],
)
def test_numbers_that_are_not_personal_data_stay(text: str) -> None:
    assert find_pii(text.split(), ALL_PII) == []


def test_redaction_tags_words_keeps_times_and_only_the_chosen_kinds() -> None:
    text = "write to jane@example.org or call 555-0123."
    out = _edited({"redact_pii": True}, text)
    assert out.segments[0].text == " write to [EMAIL] or call [PHONE]."
    tag = next(w for w in out.segments[0].words if "[PHONE]" in w.text)
    assert tag.start == _transcript(text).segments[0].words[5].start
    only_email = _edited({"redact_pii": True, "pii_entity_types": ["email"]}, text)
    assert only_email.segments[0].text == " write to [EMAIL] or call 555-0123."
    rendered = render_all(out)
    assert all("jane" not in body and "0123" not in body for body in rendered.values())


def test_segments_without_word_times_are_edited_through_their_text() -> None:
    t = Transcript("j", "en", 2.0, 1, (Segment(0.0, 2.0, "ring 555-0123 tom", ()),))
    out = edit_transcript(
        t, text_edits(JobOptions.parse({"redact_pii": True, "replacements": [{"from": "tom", "to": "Thom"}]}))
    )
    assert out.segments[0].text == "ring [PHONE] Thom" and out.segments[0].words == ()


def test_truncation_is_a_decoded_duration_well_short_of_the_declared_one() -> None:
    from transcriber.domain.job_warnings import truncation_warning

    assert truncation_warning(None, 10.0) is None
    assert truncation_warning(60.0, 59.5) is None  # rounding and encoder padding
    warning = truncation_warning(1200.0, 600.0)
    assert warning is not None and "transcribed up to 600.0 s of the 1200.0 s" in warning


def test_a_vocabulary_cannot_come_through_s3_metadata() -> None:
    with pytest.raises(InvalidOptionsError, match="through the API only"):
        JobOptions.from_metadata({"transcribe-vocabulary-name": "medical"})
    assert JobOptions.from_metadata(
        {"transcribe-pii-entity-types": "email,ip_address", "transcribe-redact-pii": "true"}
    ).pii_entity_types == ("email", "ip_address")


@pytest.mark.parametrize("item", [1, "ab", ["a", "b"], {"from": 1, "to": "x"}, None])
def test_a_replacement_must_be_an_object_of_two_strings(item: object) -> None:
    with pytest.raises(InvalidOptionsError, match="Each replacement"):
        JobOptions.parse({"replacements": [item]})
