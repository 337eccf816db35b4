"""Vocabularies, redaction, custom spelling and caption controls through the API routes and the
pipeline's stages on moto: tenant isolation, every bad input a 4xx problem, outputs as asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.aggregate import handler as aggregate
from tests.api_requests import KeyedTenants, proxy_event, tenant
from tests.handlers.conftest import Aws, FakeContext, api_service, chunked, fails_once
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.vocabularies_table import VocabularyRepository
from transcriber.api.http_api import HttpApi
from transcriber.api.vocabularies import Vocabularies
from transcriber.domain.chunking import ChunkingConfig
from transcriber.domain.errors import RetryableError
from transcriber.domain.formats import parse_srt
from transcriber.domain.jobs import partial_key
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import JobOptions
from transcriber.domain.recognition import transcribe_chunk
from transcriber.domain.speech import DEFAULT_DECODING, DecodeOptions, EngineResult
from transcriber.stages.manifest import manifest_key

KEY_A, KEY_B = "trk_0123abcd_" + "a" * 43, "trk_4567cdef_" + "b" * 43
KEYS = {KEY_A: "acme", KEY_B: "globex"}
TWELVE = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


@pytest.fixture
def api(aws: Aws) -> HttpApi:
    # the aws fixture has the tenants table
    service = api_service(max_upload_bytes=10**9, vocabularies=Vocabularies(VocabularyRepository("tenants")))
    return HttpApi(service=service, tenants=KeyedTenants({key: tenant(name) for key, name in KEYS.items()}))


def _call(
    api: HttpApi, method: str, path: str, body: Any = None, key: str = KEY_A, query: dict | None = None
) -> tuple[int, Any]:
    event = proxy_event(method, path, key=key, body=body, query=query)
    answer = api.handle(event, cast(LambdaContext, None))
    text = answer.get("body") or ""
    try:
        return answer["statusCode"], json.loads(text) if text else None
    except ValueError:
        return answer["statusCode"], text


def _create(api: HttpApi, options: dict[str, Any], key: str = KEY_A) -> tuple[int, Any]:
    return _call(
        api, "POST", "/v1/transcriptions", {"filename": "a.wav", "size": 100, "options": options}, key
    )


def test_vocabularies_belong_to_their_tenant(api: HttpApi) -> None:
    status, body = _call(api, "PUT", "/v1/vocabularies/medical", {"phrases": ["Dashwood", " Norland  Park "]})
    assert status == 200 and body["phrases"] == ["Dashwood", "Norland Park"]
    assert _call(api, "GET", "/v1/vocabularies/medical")[1]["phrases"] == ["Dashwood", "Norland Park"]
    # Another tenant's key gets nothing: not the vocabulary, not its use, not its deletion.
    assert _call(api, "GET", "/v1/vocabularies/medical", key=KEY_B)[0] == 404
    assert _call(api, "DELETE", "/v1/vocabularies/medical", key=KEY_B)[0] == 404
    status, problem = _create(api, {"vocabulary_name": "medical"}, key=KEY_B)
    assert (
        status == 422
        and problem["reason_code"] == "INVALID_OPTIONS"
        and "No vocabulary 'medical'" in problem["detail"]
    )
    # Its owner's job carries the phrases, copied at creation.
    status, created = _create(api, {"vocabulary_name": "medical"})
    assert status == 201
    job = JobRepository("jobs").get(created["job_id"])
    assert job is not None and job["options"]["vocabulary_phrases"] == ["Dashwood", "Norland Park"]
    assert _call(api, "DELETE", "/v1/vocabularies/medical")[0] == 204
    assert _call(api, "GET", "/v1/vocabularies/medical")[0] == 404


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"phrases": []}, "it has none"),
        ({"phrases": ["x" * 51]}, "each 1 to 50 characters"),
        ({"phrases": ["a"] * 51}, "1 to 50 phrases"),
        ({"phrases": [3]}, "phrases"),
        ({}, "phrases"),
    ],
)
def test_a_bad_vocabulary_is_a_422_with_a_message(api: HttpApi, body: dict, detail: str) -> None:
    status, problem = _call(api, "PUT", "/v1/vocabularies/v1", body)
    assert status == 422 and detail in problem["detail"]


def test_a_bad_vocabulary_name_is_refused(api: HttpApi) -> None:
    assert _call(api, "PUT", "/v1/vocabularies/a.b", {"phrases": ["x"]})[0] == 422
    assert _call(api, "GET", "/v1/vocabularies/" + "n" * 65)[0] == 422


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ({"redact_pii": True, "pii_entity_types": ["passport"]}, "Accepted: email, phone_number"),
        ({"replacements": [{"from": "", "to": "x"}]}, "Each replacement"),
        ({"caption_max_lines": 7}, "caption_max_lines"),
        ({"vocabulary_phrases": ["x"]}, "send vocabulary_name"),
        ({"keep_unredacted": True}, "redact_pii: true"),
    ],
)
def test_bad_text_options_are_a_422_at_creation(api: HttpApi, options: dict, detail: str) -> None:
    status, problem = _create(api, options)
    assert status == 422 and detail in problem["detail"], problem


def _completed(aws: Aws, job_id: str, tenant: str = "acme") -> None:
    words: list[dict[str, Any]] = [
        {"start": 0.0 + i * 0.4, "end": 0.3 + i * 0.4, "text": f" {w}"} for i, w in enumerate(TWELVE)
    ]
    document = {
        "job_id": job_id, "language": "en", "duration": 5.0, "chunks": 1, "engine": "t",
        "segments": [{"id": 1, "start": 0.0, "end": 4.7, "text": "".join(w["text"] for w in words),
                      "words": words}],
    }  # fmt: skip
    aws.s3.put_object(
        Bucket="results", Key=f"transcripts/{job_id}/transcript.json", Body=json.dumps(document)
    )
    JobRepository("jobs").create(
        {
            "job_id": job_id, "tenant_id": tenant, "status": "COMPLETED", "filename": "talk.wav",
            "outputs": {"json": f"s3://results/transcripts/{job_id}/transcript.json"},
        }
    )  # fmt: skip


def test_captions_can_be_chosen_per_download(api: HttpApi, aws: Aws) -> None:
    job_id = "c" * 32
    _completed(aws, job_id)
    path = f"/v1/transcriptions/{job_id}/download"
    status, srt = _call(
        api, "GET", path, query={"format": "srt", "caption_max_line_chars": "12", "caption_max_lines": "1"}
    )
    assert status == 200
    cues = parse_srt(srt)
    assert len(cues) > 2 and all(len(text) <= 12 for _, _, text in cues)
    status, vtt = _call(api, "GET", path, query={"format": "vtt", "caption_max_duration_s": "1"})
    assert status == 200 and vtt.startswith("WEBVTT")
    assert _call(api, "GET", path, query={"format": "srt", "caption_max_lines": "9"})[0] == 422
    status, problem = _call(api, "GET", path, query={"format": "json", "caption_max_lines": "1"})
    assert status == 422 and "srt and format=vtt only" in problem["detail"]
    assert _call(api, "GET", path, query={"format": "srt", "caption_max_lines": "1"}, key=KEY_B)[0] == 404


def _aggregate_with(aws: Aws, context: FakeContext, options: dict[str, Any], text: str) -> dict[str, Any]:
    words: list[dict[str, Any]] = [
        {"start": i * 0.5, "end": i * 0.5 + 0.4, "text": f" {w}"} for i, w in enumerate(text.split())
    ]
    partial = {
        "index": 0, "offset": 0.0, "duration": 10.0, "overlap": 0.0, "language": "en", "engine": "t",
        "segments": [{"start": 0.0, "end": words[-1]["end"], "text": "".join(w["text"] for w in words),
                      "words": words}] if words else [],
    }  # fmt: skip
    aws.s3.put_object(Bucket="results", Key=partial_key("job1", 0), Body=json.dumps(partial))
    aws.table.put_item(
        Item={"job_id": "job1", "status": "PROCESSING", "options": options, "bucket": "u", "key": "k"}
    )
    chunk = {"index": 0, "offset": 0.0, "duration": 10.0, "key": "work/job1/chunks/00000.wav"}
    manifest = {"bucket": "results", "key": manifest_key("job1")}
    aws.s3.put_object(Bucket="results", Key=manifest["key"], Body=json.dumps([chunk]))
    aggregate.handler(
        {"job_id": "job1", "bucket": "u", "key": "k", "duration": 10.0, "manifest": manifest}, context
    )
    return cast(dict[str, Any], aws.table.get_item(Key={"job_id": "job1"})["Item"])


def _output(aws: Aws, name: str) -> str:
    return (
        aws.s3.get_object(Bucket="results", Key=f"transcripts/job1/transcript.{name}")["Body"].read().decode()
    )


def test_redaction_reaches_every_output_and_drops_the_words_as_heard(aws: Aws, context: FakeContext) -> None:
    job = _aggregate_with(
        aws, context, {"redact_pii": True}, "call five five five one two three four or mail bob@example.com"
    )
    for fmt in ("json", "srt", "vtt", "txt"):
        body = _output(aws, fmt)
        assert "[PHONE]" in body and "[EMAIL]" in body and "bob@" not in body and "five five" not in body
    assert set(job["outputs"]) == {"json", "srt", "vtt", "txt"}
    listed = aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/").get("Contents", [])
    assert listed == []  # the chunk transcript held the unredacted words


def test_a_redacting_job_whose_announcement_failed_completes_on_the_retry(
    aws: Aws, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checkpoints go only after JobCompleted is out: the step's retry still finds them, and the
    job that its first try completed is announced (webhooks, search and live views hang on it)."""
    completed_fails_once = fails_once(
        EventPublisher.emit,
        lambda self, event: type(event).__name__ == "JobCompleted",
        message="EventBridge throttled",
    )
    monkeypatch.setattr(EventPublisher, "emit", completed_fails_once)
    with pytest.raises(RetryableError):
        _aggregate_with(aws, context, {"redact_pii": True}, "mail bob@example.com")
    assert aws.table.get_item(Key={"job_id": "job1"})["Item"]["status"] == "COMPLETED"
    manifest = {"bucket": "results", "key": manifest_key("job1")}
    aggregate.handler(
        {"job_id": "job1", "bucket": "u", "key": "k", "duration": 10.0, "manifest": manifest}, context
    )
    completed = [e for e in aws.events() if e["detail-type"] == "Transcription Job Completed"]
    assert len(completed) == 1 and completed[0]["detail"]["job_id"] == "job1"
    assert aws.s3.list_objects_v2(Bucket="results", Prefix="work/job1/").get("Contents", []) == []


def test_keep_unredacted_stores_both(aws: Aws, context: FakeContext) -> None:
    job = _aggregate_with(aws, context, {"redact_pii": True, "keep_unredacted": True}, "mail bob@example.com")
    assert "unredacted.json" in job["outputs"]
    assert "bob@example.com" in _output(aws, "unredacted.json") and "[EMAIL]" in _output(aws, "json")


def test_custom_spelling_and_hyphens_in_aggregate(aws: Aws, context: FakeContext) -> None:
    _aggregate_with(
        aws,
        context,
        {"replacements": [{"from": "norland", "to": "Norland"}]},
        "the ill -disposed family of norland",
    )
    assert "ill-disposed family of Norland" in _output(aws, "txt")


def test_a_job_without_speech_completes_with_a_warning(aws: Aws, context: FakeContext) -> None:
    job = _aggregate_with(aws, context, {}, "")
    assert job["status"] == "COMPLETED" and job["warnings"] == ["no speech detected"]


class HintedEngine:
    """Records what the engine was asked (the real engines are tested in test_whisper_engine)."""

    name = "hinted"

    def __init__(self) -> None:
        self.calls: list[DecodeOptions] = []

    def load(self) -> None:
        return None

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        self.calls.append(options)
        return EngineResult(language="en", segments=(), duration=1.0)


def test_a_vocabulary_reaches_the_engine_as_hotwords_on_every_chunk(tmp_path: Path) -> None:
    import wave

    wav = tmp_path / "c.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"\0\0" * 16000)
    engine = HintedEngine()
    options = JobOptions.parse({"vocabulary_name": "v", "vocabulary_phrases": ["Dashwood", "Norland Park"]})
    for index in range(2):
        transcribe_chunk(
            engine, wav, ChunkSpec(index, index * 1.0, 1.0), options=options, config=ChunkingConfig()
        )
    transcribe_chunk(engine, wav, ChunkSpec(2, 2.0, 1.0), options=JobOptions(), config=ChunkingConfig())
    assert [call.hotwords for call in engine.calls] == ["Dashwood, Norland Park"] * 2 + [None]


@pytest.mark.parametrize("cut", [0.5, 0.75])
def test_a_truncated_file_is_transcribed_to_the_cut_with_a_warning(
    aws: Aws, context: FakeContext, sample_flac: Path, cut: float
) -> None:
    from functions.chunk import handler as chunk

    data = sample_flac.read_bytes()
    aws.s3.put_object(Bucket="uploads", Key="in/cut.flac", Body=data[: int(len(data) * cut)])
    aws.table.put_item(
        Item={"job_id": "job2", "status": "PENDING", "bucket": "uploads", "key": "in/cut.flac"}
    )
    out = chunked(chunk.handler({"job_id": "job2", "bucket": "uploads", "key": "in/cut.flac"}, context))
    assert 0 < out["duration"] < 22.0
    job = aws.table.get_item(Key={"job_id": "job2"})["Item"]
    assert len(job["warnings"]) == 1 and "appears truncated" in job["warnings"][0]
    assert "of the 22.6 s its header declares" in job["warnings"][0]


def test_a_complete_file_has_no_truncation_warning(aws: Aws, context: FakeContext, sample_flac: Path) -> None:
    from functions.chunk import handler as chunk

    aws.s3.put_object(Bucket="uploads", Key="in/whole.flac", Body=sample_flac.read_bytes())
    aws.table.put_item(
        Item={"job_id": "job3", "status": "PENDING", "bucket": "uploads", "key": "in/whole.flac"}
    )
    chunk.handler({"job_id": "job3", "bucket": "uploads", "key": "in/whole.flac"}, context)
    assert "warnings" not in aws.table.get_item(Key={"job_id": "job3"})["Item"]
