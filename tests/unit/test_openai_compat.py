"""OpenAI's audio request form read into job options, and its answers shaped from a transcript."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from transcriber.api.multipart import Form, FormFile
from transcriber.api.openai_compat import OpenAIError, parse_request, verbose_json
from transcriber.api.openai_routes import _wait
from transcriber.domain.errors import InvalidOptionsError
from transcriber.domain.models import Segment, Word
from transcriber.domain.options import PROMPT_MAX_CHARS, JobOptions


def _form(**fields: str | list[str]) -> Form:
    form = Form(files={"file": FormFile("talk.wav", "audio/wav", b"RIFF....WAVE")})
    form.fields = {name: value if isinstance(value, list) else [value] for name, value in fields.items()}
    return form


def test_a_full_request_maps_onto_job_options() -> None:
    request = parse_request(
        _form(
            model="whisper-1",
            language="de",
            prompt="Norland Park",
            response_format="verbose_json",
            temperature="0.2",
            **{"timestamp_granularities[]": ["word", "segment"]},
        ),
        task="transcribe",
        engine="faster-whisper",
    )
    assert request.options == JobOptions(language="de", prompt="Norland Park", word_timestamps=True)
    assert request.granularities == ("word", "segment") and request.filename == "talk.wav"


def test_a_translation_detects_the_language_and_the_engine_name_is_a_model() -> None:
    request = parse_request(
        _form(model="pocketsphinx", language="de"), task="translate", engine="pocketsphinx"
    )
    assert request.options.task == "translate" and request.options.language is None
    assert request.response_format == "json" and request.granularities == ("segment",)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": "gpt-4o"}, "model"),
        ({"model": "whisper-1", "response_format": "mp3"}, "response_format"),
        ({"model": "whisper-1", "timestamp_granularities[]": "char"}, "timestamp_granularities[]"),
        ({"model": "whisper-1", "timestamp_granularities[]": "word"}, "response_format"),
        ({"model": "whisper-1", "temperature": "hot"}, "temperature"),
        ({"model": "whisper-1", "temperature": "1.5"}, "temperature"),
        ({"model": "whisper-1", "language": "xx"}, "language"),
        ({"model": "whisper-1", "prompt": "x" * (PROMPT_MAX_CHARS + 1)}, "prompt"),
        ({"model": "whisper-1", "stream": "true"}, "stream"),
    ],
)
def test_bad_fields_are_400_naming_the_field(fields: dict[str, str], param: str) -> None:
    with pytest.raises(OpenAIError) as raised:
        parse_request(_form(**fields), task="transcribe", engine="faster-whisper")
    assert raised.value.status == 400 and raised.value.param == param
    assert set(raised.value.body()["error"]) == {"message", "type", "param", "code"}


def test_a_missing_file_is_400() -> None:
    form = _form(model="whisper-1")
    form.files = {}
    with pytest.raises(OpenAIError, match="file"):
        parse_request(form, task="transcribe", engine="faster-whisper")


def test_verbose_json_has_the_fields_openai_clients_read() -> None:
    document = {
        "transcript": "Hello there.",
        "language": "en",
        "duration": 2.5,
        # the segment as the aggregate step writes it (the domain's own serialisation)
        "segments": [
            Segment(
                start=0.1,
                end=1.9,
                text="Hello there.",
                words=(Word(0.1, 0.6, " Hello", 0.9), Word(0.7, 1.9, " there.", 0.8)),
            ).to_dict()
        ],
    }
    answer = verbose_json(document, task="transcribe", granularities=("word", "segment"))
    assert answer["text"] == "Hello there." and answer["duration"] == 2.5 and answer["language"] == "en"
    segment = answer["segments"][0]
    assert segment["id"] == 0 and segment["start"] == 0.1 and segment["avg_logprob"] < 0
    assert answer["words"] == [
        {"word": "Hello", "start": 0.1, "end": 0.6},
        {"word": "there.", "start": 0.7, "end": 1.9},
    ]
    assert "words" not in verbose_json(document, task="translate", granularities=("segment",))


def test_task_and_prompt_options() -> None:
    assert JobOptions.parse({"task": "Translate", "prompt": "  Names:\\n Dashwood  "}).to_dict() == {
        "task": "translate",
        "prompt": "Names:\\n Dashwood",
    }
    assert JobOptions.from_metadata({"transcribe-task": "translate"}).task == "translate"
    accented = JobOptions.parse({"prompt": "Zürich, 50% off"})
    assert accented.to_metadata()["transcribe-prompt"].isascii()
    assert JobOptions.from_metadata(accented.to_metadata()) == accented
    with pytest.raises(InvalidOptionsError, match="task must be one of transcribe, translate"):
        JobOptions.parse({"task": "summarise"})


class _Jobs:
    def __init__(self, *records: dict[str, object]) -> None:
        self.records = list(records)

    def get(self, job_id: str) -> dict[str, object]:
        return self.records.pop(0) if len(self.records) > 1 else self.records[0]


def _waiting_on(*records: dict[str, object], deadline_in: float = 5.0) -> OpenAIError:
    service = SimpleNamespace(jobs=_Jobs(*records), sync_max_audio_s=120.0)
    with pytest.raises(OpenAIError) as raised:
        _wait(service, "j" * 32, time.monotonic() + deadline_in)  # type: ignore[arg-type]
    return raised.value


def test_audio_over_the_synchronous_limit_is_413_naming_the_job() -> None:
    err = _waiting_on({"status": "PENDING"}, {"status": "PROCESSING", "duration": 600.0})
    assert err.status == 413 and err.code == "audio_too_long"
    assert "GET /v1/transcriptions/" + "j" * 32 in err.message


def test_a_job_not_done_in_time_is_413_and_a_failed_one_400_with_its_reason() -> None:
    late = _waiting_on({"status": "PROCESSING", "duration": 30.0}, deadline_in=0.0)
    assert late.status == 413 and late.code == "sync_time_limit"
    failed = _waiting_on(
        {"status": "FAILED", "reason_code": "UNSUPPORTED_FORMAT", "error_message": "Not audio."}
    )
    assert (failed.status, failed.code, failed.message) == (400, "unsupported_format", "Not audio.")
