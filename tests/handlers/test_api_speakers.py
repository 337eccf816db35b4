"""PUT /v1/transcriptions/{id}/speakers and GET .../segments?speaker= through the real routes
and service on moto: renames rewrite all four outputs, another tenant gets nothing."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from tests.api_requests import KeyedTenants, proxy_event, tenant
from tests.handlers.conftest import Aws, api_service
from transcriber.adapters.jobs_table import JobRepository
from transcriber.api.http_api import HttpApi
from transcriber.domain.formats import parse_srt, parse_vtt, render_all
from transcriber.domain.models import Segment, Transcript, Word

NO_CONTEXT = cast(LambdaContext, None)
KEYS = {
    "trk_acce0000_" + "a" * 43: tenant("acme", per_day=9),
    "trk_0bbe0000_" + "b" * 43: tenant("other", per_day=9),
}
ACME, OTHER = list(KEYS)
JOB = "c" * 32
FORMATS = ("json", "srt", "vtt", "txt")


def _labelled() -> Transcript:
    def words(start: float, text: str, speaker: str) -> tuple[Word, ...]:
        return tuple(
            Word(start + i * 0.5, start + i * 0.5 + 0.4, w, 0.9, speaker) for i, w in enumerate(text.split())
        )

    segments = (
        Segment(0.0, 2.0, "hello there friend", words(0.0, "hello there friend", "spk_0"), "spk_0"),
        Segment(2.5, 4.0, "good morning", words(2.5, "good morning", "spk_1"), "spk_1"),
        Segment(4.5, 6.0, "how are you", words(4.5, "how are you", "spk_0"), "spk_0"),
    )
    return Transcript(job_id=JOB, language="en", duration=6.0, chunks=1, segments=segments, engine="test")


def _job(aws: Aws, status: str = "COMPLETED") -> None:
    for fmt, body in render_all(_labelled()).items():
        aws.s3.put_object(Bucket="results", Key=f"transcripts/{JOB}/transcript.{fmt}", Body=body.encode())
    JobRepository("jobs").create(
        {
            "job_id": JOB,
            "tenant_id": "acme",
            "status": status,
            "key": "tenants/acme/jobs/x/talk.wav",
            "filename": "talk.wav",
            "outputs": {fmt: f"s3://results/transcripts/{JOB}/transcript.{fmt}" for fmt in FORMATS},
        }
    )


def _call(method: str, path: str, key: str = ACME, body: Any = None, **query: str) -> tuple[int, Any]:
    answer = HttpApi(service=api_service(), tenants=KeyedTenants(KEYS)).handle(
        proxy_event(method, path, key=key, body=body, query=query), NO_CONTEXT
    )
    return int(answer["statusCode"]), json.loads(answer["body"]) if answer["body"] else None


def _outputs(aws: Aws) -> dict[str, str]:
    return {
        fmt: aws.s3.get_object(Bucket="results", Key=f"transcripts/{JOB}/transcript.{fmt}")["Body"]
        .read()
        .decode()
        for fmt in FORMATS
    }


def test_a_rename_rewrites_all_four_outputs_and_the_job(aws: Aws) -> None:
    _job(aws)
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body={"spk_0": "Alice", "spk_1": "Bob"})
    assert status == 200, body
    assert [(s["label"], s["name"]) for s in body["speakers"]] == [("spk_0", "Alice"), ("spk_1", "Bob")]
    out = _outputs(aws)
    document = json.loads(out["json"])
    assert [s["name"] for s in document["speakers"]] == ["Alice", "Bob"]
    assert {s["speaker"] for s in document["segments"]} == {"spk_0", "spk_1"}  # labels never change
    assert out["srt"].count("Alice:") == 2 and "Bob:" in out["srt"] and "spk_0" not in out["srt"]
    assert "<v Alice>" in out["vtt"] and "<v Bob>" in out["vtt"]
    assert out["txt"].startswith("Alice:") and "Bob:" in out["txt"]
    assert len(parse_srt(out["srt"])) == len(parse_vtt(out["vtt"])) == 3  # still valid subtitles
    record = JobRepository("jobs").get(JOB) or {}
    assert [s["name"] for s in record["speakers"]] == ["Alice", "Bob"]
    # A second rename keeps the names it does not change.
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body={"spk_1": "Robert"})
    assert status == 200 and [s["name"] for s in body["speakers"]] == ["Alice", "Robert"]


def test_a_rename_names_the_kept_unredacted_copy_too_and_keeps_it_downloadable(aws: Aws) -> None:
    _job(aws)
    heard = render_all(_labelled())["json"].replace("hello there", "hello 555 0100")
    key = f"transcripts/{JOB}/transcript.unredacted.json"
    aws.s3.put_object(Bucket="results", Key=key, Body=heard.encode())
    record = JobRepository("jobs").get(JOB) or {}
    outputs = {**record["outputs"], "unredacted.json": f"s3://results/{key}"}
    aws.table.update_item(
        Key={"job_id": JOB}, UpdateExpression="SET outputs = :o", ExpressionAttributeValues={":o": outputs}
    )
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body={"spk_0": "Alice"})
    assert status == 200, body
    assert "unredacted.json" in (JobRepository("jobs").get(JOB) or {})["outputs"]
    answer = HttpApi(service=api_service(), tenants=KeyedTenants(KEYS)).handle(
        proxy_event(
            "GET",
            f"/v1/transcriptions/{JOB}/download",
            key=ACME,
            query={"format": "json", "unredacted": "true"},
        ),
        NO_CONTEXT,
    )
    assert answer["statusCode"] == 200, answer
    document = json.loads(answer["body"])
    assert "555 0100" in document["transcript"]
    assert [(s["label"], s.get("name")) for s in document["speakers"]] == [
        ("spk_0", "Alice"),
        ("spk_1", None),
    ]


def test_segments_filter_by_speaker(aws: Aws) -> None:
    _job(aws)
    status, body = _call("GET", f"/v1/transcriptions/{JOB}/segments", speaker="spk_1")
    assert status == 200 and body["count"] == 1
    assert body["segments"][0]["text"] == "good morning" and body["segments"][0]["speaker"] == "spk_1"
    assert {w["speaker"] for w in body["segments"][0]["words"]} == {"spk_1"}
    status, body = _call("GET", f"/v1/transcriptions/{JOB}/segments", speaker="spk_0", q="how")
    assert status == 200 and [s["text"] for s in body["segments"]] == ["how are you"]
    status, body = _call("GET", f"/v1/transcriptions/{JOB}/segments", speaker="spk_9")
    assert status == 422 and "spk_0, spk_1" in body["detail"]


def test_another_tenant_gets_nothing(aws: Aws) -> None:
    _job(aws)
    before = _outputs(aws)
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", key=OTHER, body={"spk_0": "Mallory"})
    assert status == 404 and "Mallory" not in json.dumps(body)
    status, _ = _call("GET", f"/v1/transcriptions/{JOB}/segments", key=OTHER, speaker="spk_0")
    assert status == 404
    assert _outputs(aws) == before
    assert "speakers" not in (JobRepository("jobs").get(JOB) or {})


def test_a_rename_before_completion_is_409(aws: Aws) -> None:
    _job(aws, status="PROCESSING")
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body={"spk_0": "Alice"})
    assert status == 409 and "PROCESSING" in body["detail"]


@pytest.mark.parametrize(
    ("names", "detail"),
    [
        ({"spk_7": "Alice"}, "Unknown speaker label 'spk_7'; this transcript has: spk_0, spk_1."),
        ({"spk_0": "   "}, "The name for spk_0 must be 1 to 64 characters."),
        ({"spk_0": "x" * 65}, "The name for spk_0 must be 1 to 64 characters."),
        ({"spk_0": "Al\nice"}, "The name for spk_0 must not contain control characters or line breaks."),
        ({}, 'Speaker names must be a non-empty object such as {"spk_0": "Alice"}.'),
    ],
)
def test_bad_names_are_422_with_what_is_accepted(aws: Aws, names: dict[str, str], detail: str) -> None:
    _job(aws)
    before = _outputs(aws)
    status, body = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body=names)
    assert status == 422 and body["detail"] == detail
    assert _outputs(aws) == before


@pytest.mark.parametrize("body", [["spk_0", "Alice"], {"spk_0": 5}, "Alice", None])
def test_a_body_that_is_not_names_is_4xx(aws: Aws, body: Any) -> None:
    _job(aws)
    status, problem = _call("PUT", f"/v1/transcriptions/{JOB}/speakers", body=body)
    assert 400 <= status < 500 and problem["detail"]
