"""Per-job options: parsed once at intake, carried as S3 metadata, refused with a clear message."""

from __future__ import annotations

import math

import pytest

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.options import WHISPER_LANGUAGES, JobOptions


def test_no_options_means_all_defaults() -> None:
    assert JobOptions.parse(None) == JobOptions()
    assert JobOptions().to_dict() == {}
    assert JobOptions.from_metadata({}) == JobOptions()


def test_valid_options_are_normalised() -> None:
    options = JobOptions.parse(
        {"language": " DE ", "beam_size": "3", "word_timestamps": "false", "max_chunk_seconds": 30}
    )
    assert options == JobOptions(language="de", beam_size=3, word_timestamps=False, max_chunk_seconds=30.0)
    assert JobOptions.parse({"language": "auto"}).language is None


def test_options_travel_as_s3_metadata_and_back() -> None:
    options = JobOptions(language="fr", beam_size=1, word_timestamps=False, max_chunk_seconds=45.5)
    metadata = options.to_metadata()
    assert metadata == {
        "transcribe-language": "fr",
        "transcribe-beam-size": "1",
        "transcribe-word-timestamps": "false",
        "transcribe-max-chunk-seconds": "45.5",
    }
    # S3 lower-cases metadata keys; other tools' metadata is not ours and is left alone.
    received = {k.upper(): v for k, v in metadata.items()} | {"uploaded-by": "camera-7"}
    assert JobOptions.from_metadata(received) == options


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"language": "klingon"}, "ISO 639-1"),
        ({"language": "xx"}, "ISO 639-1"),
        ({"beam_size": 0}, "from 1 to 10"),
        ({"beam_size": 2.5}, "whole number"),
        ({"beam_size": True}, "not a boolean"),
        ({"beam_size": "wide"}, "must be a number"),
        ({"max_chunk_seconds": 5}, "between 10 and 600"),
        ({"max_chunk_seconds": math.nan}, "between 10 and 600"),
        ({"max_chunk_seconds": "inf"}, "between 10 and 600"),
        ({"word_timestamps": "maybe"}, "true or false"),
        ({"langauge": "en"}, "Unknown option(s): langauge"),
    ],
)
def test_invalid_options_are_refused_with_what_is_accepted(raw: dict, message: str) -> None:
    with pytest.raises(InvalidOptionsError) as caught:
        JobOptions.parse(raw)
    assert message in caught.value.message
    assert caught.value.reason_code == "INVALID_OPTIONS"


def test_a_misspelt_metadata_option_is_refused_not_ignored() -> None:
    with pytest.raises(InvalidOptionsError, match="langauge"):
        JobOptions.from_metadata({"transcribe-langauge": "de"})


def test_languages_match_the_engine_tokenizer() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert set(_LANGUAGE_CODES) == WHISPER_LANGUAGES
