"""Request and response bodies of the HTTP API (pydantic): validation and the OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StrictInt, model_validator
from pydantic.json_schema import JsonDict

from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.models import Word  # the API shows a word as the pipeline keeps it
from transcriber.domain.options import (
    BEAM_SIZE_RANGE,
    MAX_CHUNK_SECONDS_RANGE,
    PROMPT_MAX_CHARS,
    SPEAKERS_RANGE,
    JobOptions,
)
from transcriber.domain.textopts import MAX_REPLACEMENT_CHARS, MAX_REPLACEMENTS, PII_TAGS

#: Files up to this size may be sent inside the create request instead of through an upload URL.
#: Base64 makes 4 MiB about 5.6 MB of JSON, under Lambda's 6 MB limit on a request payload.
INLINE_MAX_BYTES = 4 * 1024 * 1024
#: base64 of INLINE_MAX_BYTES, rounded up to whole 4-character groups
INLINE_MAX_BASE64 = 4 * ((INLINE_MAX_BYTES + 2) // 3)

JobStatusName = Literal["AWAITING_UPLOAD", "PENDING", "PROCESSING", "COMPLETED", "FAILED"]
OutputFormat = Literal["json", "srt", "vtt", "txt"]


PII_TYPES = ", ".join(PII_TAGS)
REPLACEMENT_SCHEMA: JsonDict = {
    "type": "object",
    "required": ["from", "to"],
    "properties": {
        "from": {"type": "string", "minLength": 1, "maxLength": MAX_REPLACEMENT_CHARS},
        "to": {"type": "string", "maxLength": MAX_REPLACEMENT_CHARS},
    },
}


def _ranged(description: str, bounds: tuple[float, float]) -> Any:
    """An optional number field whose bounds JobOptions checks; here they are only documented."""
    minimum, maximum = bounds
    return Field(None, description=description, json_schema_extra={"minimum": minimum, "maximum": maximum})


class CreateOptions(JobOptions):
    """Per-job options; what is left out (or null) takes the pipeline's default."""

    # The options are JobOptions itself (the pipeline's one model, its validators and messages):
    # an invalid one raises InvalidOptionsError, answered 422 with reason INVALID_OPTIONS. The
    # fields are declared again only to describe them in the OpenAPI document.

    language: str | None = Field(
        None, description="ISO 639-1 code such as 'en' or 'de'; detected when left out"
    )
    word_timestamps: bool = Field(True, description="Word-level times in the JSON")
    beam_size: int | None = _ranged("Decoder beam; 1 is fastest (default: the engine's, 5)", BEAM_SIZE_RANGE)
    max_chunk_seconds: float | None = _ranged(
        "Longest chunk the audio is cut into, in seconds", MAX_CHUNK_SECONDS_RANGE
    )
    dedupe: bool = Field(True, description="Reuse a recent transcript of the same audio")
    channel_identification: bool = Field(
        False, description="Transcribe each channel on its own; segments get channel and speaker ch_N"
    )
    task: Literal["transcribe", "translate"] = Field(
        "transcribe", description="translate: write it in English"
    )
    prompt: str | None = Field(
        None, max_length=PROMPT_MAX_CHARS, description="Text that primes every chunk (names, spelling)"
    )
    speaker_labels: bool = Field(
        False, description="Label who speaks: spk_0, spk_1, ... on segments and words"
    )
    min_speakers: int | None = _ranged(
        "Fewest speakers to label (implies speaker_labels); estimated when left out", SPEAKERS_RANGE
    )
    max_speakers: int | None = _ranged(
        "Most speakers to label (implies speaker_labels); estimated when left out", SPEAKERS_RANGE
    )
    vocabulary_name: str | None = Field(
        None, description="A vocabulary of yours (PUT /v1/vocabularies/{name})"
    )
    redact_pii: bool = Field(
        False, description="Replace personal data with [EMAIL], [PHONE], ... in every output"
    )
    pii_entity_types: tuple[str, ...] | None = Field(
        None, description=f"What to redact (default: all): {PII_TYPES}"
    )
    keep_unredacted: bool = Field(False, description="Also keep the unredacted JSON (redact_pii only)")
    replacements: tuple[tuple[str, str], ...] = Field(
        (),
        description='Custom spellings, whole words, case-aware: [{"from": "tom", "to": "Thom"}]',
        json_schema_extra={"items": REPLACEMENT_SCHEMA, "maxItems": MAX_REPLACEMENTS},
    )
    caption_max_line_chars: int | None = Field(
        None, ge=10, le=80, description="SRT/VTT characters a line (42)"
    )
    caption_max_lines: int | None = Field(None, ge=1, le=4, description="SRT/VTT lines a cue (2)")
    caption_max_duration_s: float | None = Field(None, ge=1, le=30, description="SRT/VTT seconds a cue (7)")
    callback_url: str | None = Field(
        None,
        max_length=2048,
        description="https URL that receives a signed POST when the job completes or fails",
    )

    @model_validator(mode="before")
    @classmethod
    def _known_names(cls, raw: Any) -> Any:
        """JobOptions' check of the option names, with callback_url beside them; a null option
        means its default, as it did before options had one model."""
        if not isinstance(raw, Mapping):
            return raw
        options = {name: value for name, value in raw.items() if name != "callback_url"}
        if "vocabulary_phrases" in options:
            raise InvalidOptionsError("vocabulary_phrases is set from vocabulary_name; send vocabulary_name.")
        # A pydantic validator is a plain classmethod at run time; mypy's plugin sees its proxy.
        JobOptions._known_names(options)  # type: ignore[operator]
        return {name: value for name, value in raw.items() if value is not None}

    def job_options(self) -> JobOptions:
        """The options alone, as the pipeline takes them."""
        return JobOptions.model_validate(self.model_dump(mode="json", exclude={"callback_url"}))


class CreateTranscription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="The audio file's name, with extension")
    size: StrictInt | None = Field(
        None, ge=1, description="Bytes, a JSON integer; required unless content_base64 is sent"
    )
    content_type: str | None = Field(None, max_length=255)
    options: CreateOptions = CreateOptions()  # pydantic copies defaults per instance
    content_base64: str | None = Field(
        None,
        max_length=INLINE_MAX_BASE64,
        description="The whole file, base64-encoded, for files up to 4 MiB: then no upload step follows",
    )
    source_url: str | None = Field(
        None, max_length=2048, description="An https URL the service fetches the file from (no upload step)"
    )

    @model_validator(mode="before")
    @classmethod
    def _name_from_url(cls, raw: Any) -> Any:
        """With a source_url the file name is optional: the URL's (fixed after the fetch, by content)."""
        if isinstance(raw, Mapping) and raw.get("source_url") and not raw.get("filename"):
            return {**raw, "filename": "media"}
        return raw

    @model_validator(mode="after")
    def _size_or_content(self) -> CreateTranscription:
        if self.size is None and self.content_base64 is None and self.source_url is None:
            raise ValueError(
                "send the file's size (then PUT it to upload_url), content_base64 or a source_url"
            )
        if self.source_url is not None and (self.size is not None or self.content_base64 is not None):
            raise ValueError("send either a source_url or the file (size or content_base64), not both")
        return self


class Links(BaseModel):
    self: str
    transcript: str | None = Field(
        None, description="Set instead of an inline transcript when it is too large for one response"
    )


class Segment(BaseModel):
    id: int | None = None
    start: float
    end: float
    text: str
    words: list[Word] | None = None
    speaker: str | None = Field(None, description="Speaker label (spk_0, ...) with speaker_labels")


class Transcript(BaseModel):
    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[Segment]


class SpeakerSummary(BaseModel):
    label: str = Field(description="spk_0, spk_1, ... in order of first appearance")
    name: str | None = Field(None, description="Display name; null until renamed")
    seconds: float = Field(description="Seconds of speech")


class Transcription(BaseModel):
    """A job as the API shows it; ``transcript`` only once it is COMPLETED."""

    job_id: str
    status: JobStatusName
    filename: str | None = None
    size: int | None = None
    progress: int = 0
    chunks_done: int | None = None
    chunks_total: int | None = None
    language: str | None = None
    duration: float | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    callback_url: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    reason_code: str | None = None
    error_message: str | None = None
    duplicate_of: str | None = None
    channels: int | None = Field(None, description="With channel identification: the recording's channels")
    channel_note: str | None = None
    attempts: int = 0
    warnings: list[str] = Field(default_factory=list, description='Such as "no speech detected"')
    transcript: Transcript | None = None
    speakers: list[SpeakerSummary] | None = Field(None, description="With speaker_labels, once COMPLETED")
    links: Links


class AudioLink(BaseModel):
    job_id: str
    url: str = Field(description="A presigned GET of the original upload (no API key needed)")
    expires_in: int = Field(description="Seconds the url stays valid")


class CreatedTranscription(BaseModel):
    job_id: str
    status: JobStatusName
    upload_url: str | None = Field(
        None, description="PUT the file's bytes here (no other headers needed); null when sent inline"
    )
    upload_method: Literal["PUT"] = "PUT"
    upload_expires_at: str | None = None
    links: Links


class TranscriptionPage(BaseModel):
    items: list[Transcription]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page; null at the end")


class SegmentList(BaseModel):
    job_id: str
    count: int
    segments: list[Segment]


class SpeakerList(BaseModel):
    job_id: str
    speakers: list[SpeakerSummary]


#: ``PUT .../speakers``: display names by label, ``{"spk_0": "Alice"}`` (1 to 64 printable characters).
SpeakerNames = RootModel[dict[str, str]]


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    reason_code: str | None = None
