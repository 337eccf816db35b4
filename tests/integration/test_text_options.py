"""Text options end to end on the local stack: a tenant's vocabulary, custom spelling, caption
limits per job and per download, redaction's cleanup, and an upload PUT with curl's default
content type (``curl -X PUT --data-binary @f <upload_url>``). One job (the 22.6 s sample)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from localrun.pipeline import LocalPipeline
from tests.conftest import SAMPLE
from tests.integration.conftest import Api
from transcriber.domain.formats import parse_srt


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_vocabulary_spelling_captions_and_redaction_on_one_job(
    api: Api, pipeline: LocalPipeline, tmp_path: Path
) -> None:
    owner, other = api.tenant(f"vocab-{uuid.uuid4().hex[:6]}"), api.tenant(f"other-{uuid.uuid4().hex[:6]}")
    put = api.http.request(
        "PUT", "/v1/vocabularies/product", key=owner.key, json_body={"phrases": ["JSON", "Transcriber"]}
    )
    assert put.status == 200, put.body
    assert api.http.request("GET", "/v1/vocabularies/product", key=other.key).status == 404
    empty = api.http.request("PUT", "/v1/vocabularies/product", key=owner.key, json_body={"phrases": []})
    assert empty.status == 422 and "none" in empty.json()["detail"]

    options = {
        "language": "en", "dedupe": False, "vocabulary_name": "product",
        "replacements": [{"from": "pipeline", "to": "PIPELINE"}],
        "caption_max_line_chars": 20, "caption_max_lines": 1,
        "redact_pii": True, "pii_entity_types": ["email", "phone_number"],
    }  # fmt: skip
    audio = SAMPLE.read_bytes()
    created = api.http.request(
        "POST", "/v1/transcriptions", key=owner.key,
        json_body={"filename": "sample.flac", "size": len(audio), "options": options},
    )  # fmt: skip
    assert created.status == 201, created.body
    body = created.json()
    # curl's default: Content-Type application/x-www-form-urlencoded, which moto alone mangles.
    upload = subprocess.run(
        ["curl", "-sS", "-f", "-m", "60", "-X", "PUT", "--data-binary", f"@{SAMPLE}", body["upload_url"]],
        capture_output=True, check=False,
    )  # fmt: skip
    assert upload.returncode == 0, upload.stderr
    job = api.wait(owner, body["job_id"])
    assert job["status"] == "COMPLETED", job
    assert job["options"]["vocabulary_phrases"] == ["JSON", "Transcriber"]
    assert job["warnings"] == []
    text = job["transcript"]["text"]
    assert "PIPELINE" in text and "pipeline" not in text.replace("PIPELINE", "")

    download = f"/v1/transcriptions/{body['job_id']}/download"
    srt = api.http.request("GET", download + "?format=srt", key=owner.key)
    assert srt.status == 200 and all(len(t) <= 20 for _, _, t in parse_srt(srt.body.decode()))
    wider = api.http.request(
        "GET", download + "?format=srt&caption_max_line_chars=42&caption_max_lines=2", key=owner.key
    )
    assert wider.status == 200 and len(parse_srt(wider.body.decode())) < len(parse_srt(srt.body.decode()))
    bad = api.http.request("GET", download + "?format=srt&caption_max_line_chars=500", key=owner.key)
    assert bad.status == 422
    assert api.http.request("GET", download + "?format=srt&caption_max_lines=1", key=other.key).status == 404
    # Redaction asked: the chunk transcripts (the words as heard) are gone once the outputs exist.
    s3 = pipeline.aws.client("s3")
    left = s3.list_objects_v2(Bucket=pipeline.stack.results_bucket, Prefix=f"work/{body['job_id']}/partials/")
    assert left.get("KeyCount", 0) == 0


def test_the_cli_sends_the_transcript_options_that_the_server_applies(
    api: Api, pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    from client.cli import main

    owner = api.tenant(f"cli-text-{uuid.uuid4().hex[:6]}")
    connection = ["--base-url", api.server.base_url, "--api-key", owner.key]
    code = main([
        "--json", *connection, "submit", str(SAMPLE), "--language", "en", "--no-dedupe",
        "--replacements", "pipeline=PIPELINE", "--caption-max-line-chars", "20", "--caption-max-lines", "1",
        "--redact-pii", "--pii-entity-types", "email,phone_number", "--keep-unredacted", "--wait",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    job = json.loads(out)
    assert job["status"] == "COMPLETED", job
    assert job["options"]["replacements"] == [{"from": "pipeline", "to": "PIPELINE"}]
    assert job["options"]["pii_entity_types"] == ["email", "phone_number"]
    assert job["options"]["keep_unredacted"] is True
    text = job["transcript"]["text"]
    assert "PIPELINE" in text and "pipeline" not in text.replace("PIPELINE", "")
    srt = api.http.request("GET", f"/v1/transcriptions/{job['job_id']}/download?format=srt", key=owner.key)
    assert srt.status == 200 and all(len(t) <= 20 for _, _, t in parse_srt(srt.body.decode()))

    # The copy as heard, which --keep-unredacted kept: its owner's to download, nobody else's.
    assert main([*connection, "download", job["job_id"], "--unredacted"]) == 0
    heard = json.loads(capsys.readouterr().out)
    assert heard["job_id"] == job["job_id"] and "PIPELINE" in heard["transcript"]
    download = f"/v1/transcriptions/{job['job_id']}/download"
    served = api.http.request("GET", download + "?format=json&unredacted=true", key=owner.key)
    assert served.status == 200 and "unredacted.json" in served.headers["content-disposition"]
    other = api.tenant(f"other-{uuid.uuid4().hex[:6]}")
    assert api.http.request("GET", download + "?format=json&unredacted=true", key=other.key).status == 404
    assert api.http.request("GET", download + "?format=srt&unredacted=true", key=owner.key).status == 422
    plain = api.http.request("GET", download + "?format=json", key=owner.key).json()
    assert plain["job_id"] == job["job_id"]


def test_a_job_without_keep_unredacted_has_no_unredacted_copy(api: Api, pipeline: LocalPipeline) -> None:
    owner = api.tenant(f"plain-{uuid.uuid4().hex[:6]}")
    audio = SAMPLE.read_bytes()
    options = {"language": "en", "redact_pii": True}
    created = api.create(
        owner,
        filename="sample.flac",
        size=len(audio),
        options=options,
        content_base64=base64.b64encode(audio).decode(),
    )
    assert created.status == 201, created.body
    job = api.wait(owner, created.json()["job_id"])
    assert job["status"] == "COMPLETED", job
    answer = api.http.request(
        "GET", f"/v1/transcriptions/{job['job_id']}/download?format=json&unredacted=true", key=owner.key
    )
    assert answer.status == 404 and "keep_unredacted" in answer.json()["detail"]
