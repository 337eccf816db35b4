"""OpenAI's audio API (``/v1/audio/transcriptions`` and ``/translations``), without HTTP.

Teams that call OpenAI's transcription endpoints point their client's ``base_url`` here. The
form is read into :class:`AudioRequest` (our :class:`JobOptions` plus how to answer), and a
finished job's transcript document is shaped as OpenAI answers: ``json`` ``{"text"}``, ``text``,
``srt``, ``vtt`` (the job's own files) and ``verbose_json`` with ``segments`` and/or ``words``.
Errors take OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``.

What differs, on purpose: ``temperature`` is checked (0 to 1) but the engine keeps its own
fallback schedule; ``verbose_json``'s ``language`` is the ISO code, and its segments' ``tokens``
are empty and ``no_speech_prob`` 0 (the engine does not report them per segment).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from transcriber.api.multipart import Form
from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.options import JobOptions

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
RESPONSE_FORMATS: tuple[str, ...] = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
#: The model names OpenAI's clients send; the deployment's engine name is accepted too.
OPENAI_MODELS = ("whisper-1",)
_FIELDS = {
    "file",
    "model",
    "language",
    "prompt",
    "response_format",
    "temperature",
    "timestamp_granularities[]",
}


class OpenAIError(Exception):
    """An error answered in OpenAI's shape; ``param`` names the form field at fault."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class AudioRequest:
    """One OpenAI-style request: the file, the job's options, and the answer's shape."""

    filename: str
    content: bytes
    content_type: str | None
    options: JobOptions
    response_format: str
    granularities: tuple[str, ...]


def parse_request(form: Form, *, task: str, engine: str) -> AudioRequest:
    """The request in ``form``; :class:`OpenAIError` (400) naming the field for anything wrong."""
    unknown = sorted((set(form.fields) | set(form.files)) - _FIELDS)
    if unknown:
        raise OpenAIError(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    upload = form.files.get("file")
    if upload is None or not upload.data:
        raise OpenAIError(400, "Send the audio as the multipart field 'file'.", param="file")
    model = (form.value("model") or "").strip()
    if model not in (*OPENAI_MODELS, engine):
        raise OpenAIError(
            400,
            f"The model {model[:40]!r} does not exist here; use 'whisper-1' or {engine!r}.",
            param="model",
            code="model_not_found",
        )
    response_format = (form.value("response_format") or "json").strip()
    if response_format not in RESPONSE_FORMATS:
        raise OpenAIError(
            400,
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format[:20]!r}.",
            param="response_format",
        )
    granularities = tuple(dict.fromkeys(form.fields.get("timestamp_granularities[]", [])))
    for granularity in granularities:
        if granularity not in GRANULARITIES:
            raise OpenAIError(
                400,
                f"timestamp_granularities[] takes 'word' and/or 'segment', not {granularity[:20]!r}.",
                param="timestamp_granularities[]",
            )
    if granularities and response_format != "verbose_json":
        raise OpenAIError(
            400, "timestamp_granularities[] requires response_format=verbose_json.", param="response_format"
        )
    _check_temperature(form.value("temperature"))
    raw: dict[str, Any] = {
        "task": task,
        "prompt": form.value("prompt"),
        "word_timestamps": "word" in granularities,
    }
    if task == "transcribe":  # a translation's source language is always detected
        raw["language"] = form.value("language")
    try:
        options = JobOptions.parse(raw)
    except InvalidOptionsError as err:
        param = "language" if "anguage" in err.message else "prompt"
        raise OpenAIError(400, err.message, param=param, code=err.reason_code.lower()) from None
    return AudioRequest(
        filename=upload.filename or "audio",
        content=upload.data,
        content_type=upload.content_type,
        options=options,
        response_format=response_format,
        granularities=granularities or ("segment",),
    )


def _check_temperature(value: str | None) -> None:
    if value is None or value.strip() == "":
        return
    try:
        temperature = float(value)
    except ValueError:
        temperature = math.nan
    if not 0.0 <= temperature <= 1.0:
        raise OpenAIError(400, "temperature must be a number from 0 to 1.", param="temperature")


def verbose_json(document: dict[str, Any], *, task: str, granularities: tuple[str, ...]) -> dict[str, Any]:
    """The ``verbose_json`` answer for a transcript document (transcriber/domain/formats.py)."""
    segments = list(document.get("segments") or [])
    answer: dict[str, Any] = {
        "task": task,
        "language": document.get("language") or "",
        "duration": float(document.get("duration") or 0.0),
        "text": str(document.get("transcript") or ""),
    }
    if "segment" in granularities:
        answer["segments"] = [_segment(i, s) for i, s in enumerate(segments)]
    if "word" in granularities:
        answer["words"] = [
            {"word": str(w.get("text", "")).strip(), "start": float(w["start"]), "end": float(w["end"])}
            for s in segments
            for w in (s.get("words") or [])
        ]
    return answer


def _segment(index: int, segment: dict[str, Any]) -> dict[str, Any]:
    text = str(segment.get("text", ""))
    probabilities = [float(w["probability"]) for w in segment.get("words") or [] if w.get("probability")]
    return {
        "id": index,
        "seek": int(float(segment["start"]) * 100),
        "start": float(segment["start"]),
        "end": float(segment["end"]),
        "text": text,
        "tokens": [],
        "temperature": 0.0,
        # Mean log-probability of the segment's words, when the engine gave word probabilities.
        "avg_logprob": sum(math.log(p) for p in probabilities) / len(probabilities) if probabilities else 0.0,
        "compression_ratio": len(text.encode()) / max(len(zlib.compress(text.encode())), 1),
        "no_speech_prob": 0.0,
    }
