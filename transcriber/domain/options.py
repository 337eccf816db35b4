"""Per-job transcription options: what a user may choose for one file, validated once at intake.

Options travel with the upload as S3 user metadata (``x-amz-meta-transcribe-*``), so a file
dropped into the bucket and a file sent through the CLI carry them the same way; ingest parses
them into :class:`JobOptions`, records them on the job and passes them to the execution.
Anything invalid ends the job at intake with ``INVALID_OPTIONS`` and a message saying what is
accepted, before any audio is converted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_serializer, field_validator, model_validator

from transcriber.domain import textopts
from transcriber.domain.errors import InvalidOptionsError

#: Whisper's language codes (faster_whisper.tokenizer._LANGUAGE_CODES; a unit test keeps the two
#: equal). Kept here because intake runs where the engine's libraries are not installed.
# fmt: off
WHISPER_LANGUAGES: frozenset[str] = frozenset((
    "af", "am", "ar", "as", "az", "ba", "be", "bg", "bn", "bo", "br", "bs", "ca", "cs", "cy", "da", "de",
    "el", "en", "es", "et", "eu", "fa", "fi", "fo", "fr", "gl", "gu", "ha", "haw", "he", "hi", "hr",
    "ht", "hu", "hy", "id", "is", "it", "ja", "jw", "ka", "kk", "km", "kn", "ko", "la", "lb", "ln", "lo",
    "lt", "lv", "mg", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "ne", "nl", "nn", "no", "oc", "pa",
    "pl", "ps", "pt", "ro", "ru", "sa", "sd", "si", "sk", "sl", "sn", "so", "sq", "sr", "su", "sv", "sw",
    "ta", "te", "tg", "th", "tk", "tl", "tr", "tt", "uk", "ur", "uz", "vi", "yi", "yo", "zh", "yue",
))
# fmt: on

OPTION_NAMES: tuple[str, ...] = (
    "language", "beam_size", "word_timestamps", "max_chunk_seconds", "dedupe", "task", "prompt",
    "channel_identification", "speaker_labels", "min_speakers", "max_speakers",
)  # fmt: skip
#: ``translate`` is Whisper's own task: speech in any language written in English.
TASKS = ("transcribe", "translate")
#: Whisper reads at most 224 prompt tokens (about 900 characters of English); longer is cut by it.
PROMPT_MAX_CHARS = 900
#: Text options (transcriber/domain/textopts.py); vocabulary_phrases is filled in by the API.
TEXT_OPTION_NAMES = (
    "vocabulary_name", "vocabulary_phrases", "redact_pii", "pii_entity_types", "keep_unredacted",
    "replacements", "caption_max_line_chars", "caption_max_lines", "caption_max_duration_s",
)  # fmt: skip
BEAM_SIZE_RANGE = (1, 10)
#: Speakers a job may ask for (min_speakers / max_speakers); the clustering's own limit.
SPEAKERS_RANGE = (1, 30)
#: The chunk list lives in the S3 manifest, so no length limit comes from the 256 KB state any more
#: (it set 20 s while the list rode in the state); the floor keeps Whisper some context per chunk.
MAX_CHUNK_SECONDS_RANGE = (10.0, 600.0)

#: Prefix of the S3 user-metadata keys that carry options (S3 lower-cases metadata keys).
METADATA_PREFIX = "transcribe-"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class JobOptions(BaseModel):
    """Choices for one job; ``None`` means "the deployment's default".

    - ``language``: ISO 639-1 code; skips detection and is used for every chunk.
    - ``beam_size``: decoder beam (1 is fastest; the default is the engine's, 5).
    - ``word_timestamps``: word-level times in the JSON. Off is faster, but seams between chunks
      are then reconciled per segment rather than per word.
    - ``max_chunk_seconds``: longest chunk the audio is cut into.
    - ``task``: ``transcribe`` (default) or ``translate`` (into English; the job still records
      the detected source language).
    - ``prompt``: text given to the engine before every chunk (names, spelling, style).
    - ``dedupe``: reuse the result of the same audio with the same options transcribed recently
      (see transcriber.domain.dedup); off forces a fresh transcription.
    - ``channel_identification``: transcribe each channel on its own, labelled ``ch_0``, ``ch_1``...
      (call recordings keep one party per channel); see transcriber.domain.channels.
    - ``speaker_labels``: label who speaks (``spk_0``, ...); ``min_speakers`` / ``max_speakers``
      bound the count (otherwise estimated) and either one turns speaker labels on.

    Validation raises :class:`InvalidOptionsError` itself (not pydantic's ValidationError) so that
    every entry point (API, S3 metadata, execution input, CLIs) refuses with the same message.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    language: str | None = None
    beam_size: int | None = None
    word_timestamps: bool = True
    max_chunk_seconds: float | None = None
    dedupe: bool = True
    channel_identification: bool = False
    task: str = "transcribe"
    prompt: str | None = None
    speaker_labels: bool = False
    min_speakers: int | None = None
    max_speakers: int | None = None
    vocabulary_name: str | None = None
    vocabulary_phrases: tuple[str, ...] = ()
    redact_pii: bool = False
    pii_entity_types: tuple[str, ...] | None = None
    keep_unredacted: bool = False
    replacements: tuple[tuple[str, str], ...] = ()
    caption_max_line_chars: int | None = None
    caption_max_lines: int | None = None
    caption_max_duration_s: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, raw: Any) -> Any:
        unknown = sorted(set(raw) - {*OPTION_NAMES, *TEXT_OPTION_NAMES}) if isinstance(raw, Mapping) else []
        if unknown:
            raise InvalidOptionsError(
                f"Unknown option(s): {', '.join(unknown)}. "
                f"Accepted: {', '.join((*OPTION_NAMES, *TEXT_OPTION_NAMES[:1], *TEXT_OPTION_NAMES[2:]))}."
            )
        return raw

    @field_validator("language", "vocabulary_name", "pii_entity_types", "replacements", mode="before")
    @classmethod
    def _checked(cls, value: Any, info: ValidationInfo) -> Any:
        """The options one function of their value checks (:data:`_VALUE_CHECKS`)."""
        return _VALUE_CHECKS[str(info.field_name)](value)

    @field_validator("beam_size", mode="before")
    @classmethod
    def _beam_size(cls, value: Any) -> int | None:
        return _bounded_int("beam_size", value, BEAM_SIZE_RANGE)

    @field_validator("max_chunk_seconds", mode="before")
    @classmethod
    def _max_chunk_seconds(cls, value: Any) -> float | None:
        return _bounded_float("max_chunk_seconds", value, MAX_CHUNK_SECONDS_RANGE)

    @field_validator("task", mode="before")
    @classmethod
    def _task(cls, value: Any) -> str:
        task = "transcribe" if value is None or value == "" else str(value).strip().lower()
        if task not in TASKS:
            raise InvalidOptionsError(
                f"Option task must be one of {', '.join(TASKS)}, not {str(value)[:20]!r}."
            )
        return task

    @field_validator("prompt", mode="before")
    @classmethod
    def _prompt(cls, value: Any) -> str | None:
        text = " ".join(str(value).split()) if value is not None else ""
        if len(text) > PROMPT_MAX_CHARS:
            raise InvalidOptionsError(f"Option prompt may be at most {PROMPT_MAX_CHARS} characters long.")
        return text or None

    @field_validator("min_speakers", "max_speakers", mode="before")
    @classmethod
    def _speakers(cls, value: Any, info: ValidationInfo) -> int | None:
        return _bounded_int(str(info.field_name), value, SPEAKERS_RANGE)

    @model_validator(mode="before")
    @classmethod
    def _count_implies_labels(cls, raw: Any) -> Any:
        """A speaker count (min or max) asks for speaker labels."""
        if isinstance(raw, Mapping) and any(
            raw.get(n) not in (None, "") for n in ("min_speakers", "max_speakers")
        ):
            return {**raw, "speaker_labels": True}
        return raw

    @model_validator(mode="after")
    def _speaker_range(self) -> JobOptions:
        low, high = self.min_speakers, self.max_speakers
        if low is not None and high is not None and low > high:
            raise InvalidOptionsError(
                f"Option min_speakers ({low}) must not exceed max_speakers ({high}); "
                f"give whole numbers from {SPEAKERS_RANGE[0]} to {SPEAKERS_RANGE[1]} with min <= max."
            )
        return self

    @field_validator("vocabulary_phrases", mode="before")
    @classmethod
    def _phrases(cls, value: Any) -> tuple[str, ...]:
        return () if value in (None, "", (), []) else textopts.check_phrases(value)

    @field_validator("caption_max_line_chars", "caption_max_lines", mode="before")
    @classmethod
    def _caption_ints(cls, value: Any, info: ValidationInfo) -> int | None:
        bounds = (
            textopts.CAPTION_LINES_RANGE
            if info.field_name == "caption_max_lines"
            else textopts.CAPTION_LINE_CHARS_RANGE
        )
        return _bounded_int(str(info.field_name), value, bounds)

    @field_validator("caption_max_duration_s", mode="before")
    @classmethod
    def _caption_duration(cls, value: Any) -> float | None:
        return _bounded_float("caption_max_duration_s", value, textopts.CAPTION_DURATION_RANGE)

    @model_validator(mode="after")
    def _consistent(self) -> JobOptions:
        if (self.pii_entity_types is not None or self.keep_unredacted) and not self.redact_pii:
            raise InvalidOptionsError("pii_entity_types and keep_unredacted apply with redact_pii: true.")
        return self

    @field_serializer("replacements")
    def _pairs(self, pairs: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
        return [{"from": source, "to": target} for source, target in pairs]

    def caption_style(self) -> textopts.CaptionStyle:
        """The subtitle limits this job asked for; the conventions where it chose none."""
        default = textopts.CaptionStyle()
        return textopts.CaptionStyle(
            self.caption_max_line_chars or default.max_line_chars,
            self.caption_max_lines or default.max_lines,
            self.caption_max_duration_s or default.max_duration_s,
        )

    @field_validator(
        "word_timestamps", "dedupe", "channel_identification", "speaker_labels", "redact_pii",
        "keep_unredacted", mode="before",
    )  # fmt: skip
    @classmethod
    def _flags(cls, value: Any, info: ValidationInfo) -> bool:
        return _boolean(str(info.field_name), value)

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> JobOptions:
        """Validate options given as JSON-like values (execution input, API body)."""
        return cls.model_validate(dict(raw or {}))

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> JobOptions:
        """Options from S3 user metadata; keys without the ``transcribe-`` prefix are not ours."""
        ours = {
            key.lower().removeprefix(METADATA_PREFIX).replace("-", "_"): value
            for key, value in metadata.items()
            if key.lower().startswith(METADATA_PREFIX)
        }
        if isinstance(ours.get("prompt"), str):  # percent-encoded by to_metadata (S3 metadata is ASCII)
            ours["prompt"] = unquote(ours["prompt"])
        if ours.keys() & {"vocabulary_name", "vocabulary_phrases"}:  # kept per tenant, behind the API
            raise InvalidOptionsError(
                "vocabulary_name is accepted through the API only (POST /v1/transcriptions)."
            )
        return cls.parse(ours)

    def to_metadata(self) -> dict[str, str]:
        """The S3 user metadata that carries these options with an upload."""
        return {
            f"{METADATA_PREFIX}{key.replace('_', '-')}": quote(value) if key == "prompt" else _text(value)
            for key, value in self.to_dict().items()
        }

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults, so an empty dict means "all defaults"."""
        chosen = self.model_dump(mode="json", exclude_defaults=True)
        return {key: value for key, value in chosen.items() if value != []}  # a serialized empty default

    def affecting_the_transcript(self) -> dict[str, Any]:
        """The options that change what a transcription produces (not how it is scheduled)."""
        return {key: value for key, value in self.to_dict().items() if key != "dedupe"}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return json.dumps(value)
    return str(value)


def _language(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto")):
        return None
    code = str(value).strip().lower()
    if code not in WHISPER_LANGUAGES:
        raise InvalidOptionsError(
            f"Language {str(value)[:20]!r} is not one the engine knows. Give an ISO 639-1 code such as "
            "'en', 'de' or 'fr', or leave it out to detect the language."
        )
    return code


def _boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidOptionsError(f"Option {name} must be true or false, not {str(value)[:20]!r}.")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidOptionsError(f"Option {name} must be a number, not a boolean.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidOptionsError(f"Option {name} must be a number, not {str(value)[:20]!r}.") from None


def _bounded_int(name: str, value: Any, bounds: tuple[int, int]) -> int | None:
    if value is None or value == "":
        return None
    number = _number(name, value)
    if not number.is_integer() or not bounds[0] <= number <= bounds[1]:
        raise InvalidOptionsError(f"Option {name} must be a whole number from {bounds[0]} to {bounds[1]}.")
    return int(number)


def _bounded_float(name: str, value: Any, bounds: tuple[float, float]) -> float | None:
    if value is None or value == "":
        return None
    number = _number(name, value)
    if not bounds[0] <= number <= bounds[1]:
        raise InvalidOptionsError(f"Option {name} must lie between {bounds[0]:g} and {bounds[1]:g}.")
    return number


#: Options checked by one function of their value alone (``JobOptions._checked``).
_VALUE_CHECKS: dict[str, Callable[[Any], Any]] = {
    "language": _language,
    "vocabulary_name": textopts.check_vocabulary_name,
    "pii_entity_types": textopts.check_entity_types,
    "replacements": textopts.check_replacements,
}
