"""Speaker options in the one JobOptions model: what is accepted, and what is refused at once."""

from __future__ import annotations

from typing import Any

import pytest

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.options import JobOptions


def test_speaker_labels_are_off_by_default_and_leave_the_wire_unchanged() -> None:
    assert JobOptions().speaker_labels is False
    assert JobOptions.parse({}).to_dict() == {}


@pytest.mark.parametrize(
    "raw", [{"min_speakers": 2}, {"max_speakers": 3}, {"min_speakers": "2", "max_speakers": "2"}]
)
def test_a_speaker_count_implies_speaker_labels(raw: dict[str, Any]) -> None:
    options = JobOptions.parse(raw)
    assert options.speaker_labels is True
    assert options.to_dict()["speaker_labels"] is True


def test_metadata_carries_the_speaker_options_both_ways() -> None:
    options = JobOptions.from_metadata(
        {"transcribe-speaker-labels": "true", "transcribe-min-speakers": "2", "transcribe-max-speakers": "4"}
    )
    assert (options.speaker_labels, options.min_speakers, options.max_speakers) == (True, 2, 4)
    assert JobOptions.from_metadata(options.to_metadata()) == options


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"min_speakers": 3, "max_speakers": 2}, "min_speakers (3) must not exceed max_speakers (2)"),
        ({"min_speakers": 2.5}, "min_speakers must be a whole number from 1 to 30"),
        ({"max_speakers": 31}, "max_speakers must be a whole number from 1 to 30"),
        ({"min_speakers": 0}, "min_speakers must be a whole number from 1 to 30"),
        ({"max_speakers": "many"}, "max_speakers must be a number"),
        ({"max_speakers": True}, "max_speakers must be a number, not a boolean"),
        ({"speaker_labels": "maybe"}, "speaker_labels must be true or false"),
    ],
)
def test_impossible_speaker_options_fail_with_invalid_options(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidOptionsError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        JobOptions.parse(raw)
    assert err.value.reason_code == "INVALID_OPTIONS"
