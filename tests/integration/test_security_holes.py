"""Issue 20's holes through HTTP on the local stack: each was reproduced this way before its fix.

moto checks no S3 signature, so here the declared size is enforced by ingest (the upload URL's
signed Content-Length is what real S3 enforces: tests/handlers/test_security_holes.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, ApiTenant, HttpResponse, tenant_fixture

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.flac"
PROBLEM = "application/problem+json"


def _problem(resp: HttpResponse, status: int) -> dict[str, Any]:
    assert resp.status == status, resp.body
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status and body["detail"]
    return dict(body)


def _create(api: Api, tenant: ApiTenant, size: int, **options: Any) -> dict[str, Any]:
    body = {"filename": "talk.flac", "size": size, "options": {"language": "en", **options}}
    created = api.http.request("POST", "/v1/transcriptions", key=tenant.key, json_body=body)
    assert created.status == 201, created.body
    return dict(created.json())


def _keys(pipeline: LocalPipeline, bucket: str, prefix: str) -> list[str]:
    listed = pipeline.aws.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


carol = tenant_fixture("carol")
bob = tenant_fixture("bob")


def test_an_upload_larger_than_declared_fails_the_job(
    api: Api, carol: ApiTenant, pipeline: LocalPipeline
) -> None:
    created = _create(api, carol, 1000)
    assert "X-Amz-SignedHeaders=content-length" in created["upload_url"]
    assert api.http.request("PUT", created["upload_url"], data=SAMPLE.read_bytes()).status == 200
    job = api.wait(carol, created["job_id"], timeout_s=30, poll_s=0.3)
    assert job["status"] == "FAILED" and job["reason_code"] == "SIZE_MISMATCH"
    assert (
        _keys(pipeline, pipeline.stack.input_bucket, f"tenants/{carol.tenant_id}/jobs/{job['job_id']}") == []
    )


def test_a_put_after_delete_creates_nothing(api: Api, carol: ApiTenant, pipeline: LocalPipeline) -> None:
    audio = SAMPLE.read_bytes()
    created = _create(api, carol, len(audio))
    path = f"/v1/transcriptions/{created['job_id']}"
    assert api.http.request("DELETE", path, key=carol.key).status == 204
    assert api.http.request("PUT", created["upload_url"], data=audio).status == 200  # moto: no refusal
    prefix = f"tenants/{carol.tenant_id}/jobs/{created['job_id']}/"
    deadline = time.monotonic() + 20
    while _keys(pipeline, pipeline.stack.input_bucket, prefix):  # ingest deletes it
        assert time.monotonic() < deadline
        time.sleep(0.2)
    _problem(api.http.request("GET", path, key=carol.key), 404)
    assert pipeline.workflow().status(created["job_id"]) is None
    record = pipeline.job(created["job_id"])
    assert record is not None and record["status"] == "DELETED" and "key" not in record


def test_deleting_an_original_keeps_its_duplicate_whole(api: Api, carol: ApiTenant, bob: ApiTenant) -> None:
    audio = SAMPLE.read_bytes()
    ids = []
    for _ in range(2):
        created = _create(api, carol, len(audio), dedupe=True)
        assert api.http.request("PUT", created["upload_url"], data=audio).status == 200
        assert api.wait(carol, created["job_id"], timeout_s=240, poll_s=0.3)["status"] == "COMPLETED"
        ids.append(created["job_id"])
    original, duplicate = ids
    dup = f"/v1/transcriptions/{duplicate}"
    assert api.http.request("GET", dup, key=carol.key).json()["duplicate_of"] == original
    _problem(api.http.request("DELETE", f"/v1/transcriptions/{original}", key=bob.key), 404)
    assert api.http.request("DELETE", f"/v1/transcriptions/{original}", key=carol.key).status == 204
    job = api.http.request("GET", dup, key=carol.key).json()
    assert job["status"] == "COMPLETED" and job["transcript"]["text"]
    assert api.http.request("GET", f"{dup}/download?format=srt", key=carol.key).status == 200
    assert api.http.request("GET", f"{dup}/segments", key=carol.key).json()["count"] >= 1
    _problem(api.http.request("POST", f"{dup}/retry", key=carol.key), 409)  # as for any COMPLETED job
    _problem(api.http.request("GET", dup, key=bob.key), 404)


def test_malformed_requests_are_4xx_problems(api: Api, carol: ApiTenant) -> None:
    create = "/v1/transcriptions"
    nested = ("[" * 5000 + "]" * 5000).encode()
    headers = {"Content-Type": "application/json"}
    _problem(api.http.request("POST", create, key=carol.key, data=nested, headers=headers), 400)
    for size in ("100", True):
        body = {"filename": "a.flac", "size": size}
        _problem(api.http.request("POST", create, key=carol.key, json_body=body), 422)
    wrong = api.http.request("PUT", create, key=carol.key, json_body={})
    _problem(wrong, 405)
    assert wrong.headers["allow"] == "GET, OPTIONS, POST"
    preflight = api.http.request(
        "OPTIONS", create, headers={"Origin": "https://x.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status == 204 and "POST" in preflight.headers["access-control-allow-methods"]
    huge = json.dumps({"filename": "a.flac", "content_base64": "A" * (11 * 1024 * 1024)}).encode()
    too_large = _problem(api.http.request("POST", create, key=carol.key, data=huge, headers=headers), 413)
    assert "10 MB" in too_large["detail"]


def test_deleting_a_running_job_leaves_no_partial_transcripts(
    api: Api, carol: ApiTenant, pipeline: LocalPipeline
) -> None:
    audio = SAMPLE.read_bytes()
    created = _create(api, carol, len(audio), dedupe=False)
    job_id = created["job_id"]
    api.http.request("PUT", created["upload_url"], data=audio)
    deadline = time.monotonic() + 60
    while not (pipeline.job(job_id) or {}).get("chunks_total"):  # chunked: transcribe workers run
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert api.http.request("DELETE", f"/v1/transcriptions/{job_id}", key=carol.key).status == 204
    # Workers already running finish their chunk after the delete; what they write, they remove.
    time.sleep(8)
    assert _keys(pipeline, pipeline.stack.results_bucket, f"work/{job_id}/") == []
    assert _keys(pipeline, pipeline.stack.results_bucket, f"transcripts/{job_id}/") == []
