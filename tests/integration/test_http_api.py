"""The HTTP API end to end: HTTP requests to the local server, API Gateway proxy events, the
deployed API function, the real pipeline behind it. Every endpoint and every error code."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, ApiTenant, HttpResponse, tenant_fixture
from transcriber.domain.webhooks import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verify

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.flac"
PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}


@dataclass
class Receiver:
    """A webhook receiver on localhost: what a customer's endpoint gets."""

    url: str
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    calls: list[tuple[dict[str, str], bytes]] = []
    arrived = threading.Event()

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Receiver(
        url=f"http://127.0.0.1:{server.server_address[1]}/hooks/transcripts", calls=calls, arrived=arrived
    )
    server.shutdown()


def _problem(resp: HttpResponse, status: int) -> dict[str, Any]:
    assert resp.status == status, resp.body
    assert resp.headers["content-type"].startswith(PROBLEM)
    body = resp.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("urn:transcriber:problem:")
    return dict(body)


alice = tenant_fixture("alice")
bob = tenant_fixture("bob")


@pytest.fixture(scope="module")
def completed(api: Api, alice: ApiTenant, receiver: Receiver) -> dict[str, Any]:
    """Create, PUT the file to upload_url, poll to COMPLETED: the curl walk-through of the README."""
    audio = SAMPLE.read_bytes()
    created = api.create(
        alice,
        filename="sample.flac",
        size=len(audio),
        content_type="audio/flac",
        options={"language": "en", "callback_url": receiver.url, "dedupe": False},
    )
    assert created.status == 201, created.body
    body = created.json()
    assert body["status"] == "AWAITING_UPLOAD" and body["upload_method"] == "PUT"
    assert created.headers["content-type"].startswith("application/json")
    put = api.http.request("PUT", body["upload_url"], data=audio)
    assert put.status == 200
    job = api.wait(alice, body["job_id"])
    assert job["status"] == "COMPLETED", job
    return job


def test_without_a_key_every_endpoint_is_401(api: Api) -> None:
    job_id = uuid.uuid4().hex
    for method, path in [
        ("GET", "/v1/transcriptions"),
        ("POST", "/v1/transcriptions"),
        ("GET", f"/v1/transcriptions/{job_id}"),
        ("GET", f"/v1/transcriptions/{job_id}/segments"),
        ("GET", f"/v1/transcriptions/{job_id}/download"),
        ("DELETE", f"/v1/transcriptions/{job_id}"),
        ("POST", f"/v1/transcriptions/{job_id}/retry"),
    ]:
        resp = api.http.request(method, path)
        assert _problem(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_malformed_or_revoked_key_is_401(api: Api) -> None:
    _problem(api.http.request("GET", "/v1/transcriptions", key="trk_00000000_" + "x" * 43), 401)
    _problem(api.http.request("GET", "/v1/transcriptions", key="not-a-key"), 401)
    resp = api.http.request("GET", "/v1/transcriptions", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _problem(resp, 401)
    tenant = api.tenant(f"revoked-{uuid.uuid4().hex[:6]}")
    assert api.http.request("GET", "/v1/transcriptions", key=tenant.key).status == 200
    (key,) = api.tenants.list_keys(tenant.tenant_id)
    api.tenants.revoke_key(key.key_id)
    _problem(api.http.request("GET", "/v1/transcriptions", key=tenant.key), 401)


def test_the_openapi_document_is_served_without_a_key_and_matches_docs(api: Api) -> None:
    resp = api.http.request("GET", "/v1/openapi.json")
    assert resp.status == 200
    served = resp.json()
    served.pop("x-live-status-url", None)  # where this deployment's WebSocket is: not in the committed file
    committed = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    assert served == committed, "docs/openapi.json is stale: run `make openapi`"
    assert set(served["paths"]) == {
        "/v1/transcriptions",
        "/v1/transcriptions/{job_id}",
        "/v1/transcriptions/{job_id}/segments",
        "/v1/transcriptions/{job_id}/download",
        "/v1/transcriptions/{job_id}/retry",
        "/v1/tenant",  # the caller's own settings (transcriber/api/tenant_settings.py)
        "/v1/transcriptions/{job_id}/speakers",  # speaker names (transcriber/api/speakers.py)
        "/v1/transcriptions/{job_id}/audio",  # the player's presigned GET
        "/v1/audio/transcriptions",  # OpenAI-compatible (transcriber/api/openai_routes.py)
        "/v1/audio/translations",
        "/v1/search",  # served by the search function (transcriber/api/search.py)
        "/v1/vocabularies/{name}",  # custom vocabularies (transcriber/api/vocabularies.py)
    }


def test_a_job_goes_from_upload_to_a_transcript(
    api: Api, alice: ApiTenant, completed: dict[str, Any]
) -> None:
    assert completed["progress"] == 100 and completed["filename"] == "sample.flac"
    assert completed["language"] == "en" and completed["duration"] == pytest.approx(22.56, abs=0.1)
    transcript = completed["transcript"]
    assert "synthesizer" in transcript["text"].lower()
    assert transcript["segments"] and all(s["end"] > s["start"] for s in transcript["segments"])
    assert completed["created_at"] <= completed["started_at"] <= completed["completed_at"]


def test_downloads_in_every_format(api: Api, alice: ApiTenant, completed: dict[str, Any]) -> None:
    base = f"/v1/transcriptions/{completed['job_id']}/download"
    srt = api.http.request("GET", f"{base}?format=srt", key=alice.key)
    assert srt.status == 200 and srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.body.decode().startswith("1\n00:00:") and " --> " in srt.body.decode()
    assert 'filename="sample.srt"' in srt.headers["content-disposition"]
    vtt = api.http.request("GET", f"{base}?format=vtt", key=alice.key)
    assert vtt.status == 200 and vtt.body.decode().startswith("WEBVTT")
    txt = api.http.request("GET", f"{base}?format=txt", key=alice.key)
    assert "synthesizer" in txt.body.decode().lower()
    document = api.http.request("GET", base, key=alice.key).json()  # json is the default
    assert document["job_id"] == completed["job_id"]
    _problem(api.http.request("GET", f"{base}?format=docx", key=alice.key), 422)


def test_segments_filter_by_words(api: Api, alice: ApiTenant, completed: dict[str, Any]) -> None:
    path = f"/v1/transcriptions/{completed['job_id']}/segments"
    everything = api.http.request("GET", path, key=alice.key).json()
    assert everything["count"] == len(completed["transcript"]["segments"])
    found = api.http.request("GET", f"{path}?q=Synthesizer", key=alice.key).json()
    assert 1 <= found["count"] < everything["count"]
    assert all("synthesizer" in s["text"].lower() for s in found["segments"])
    none = api.http.request("GET", f"{path}?q=zebra+xylophone", key=alice.key).json()
    assert none == {"job_id": completed["job_id"], "count": 0, "segments": []}


def test_another_tenants_job_is_404(api: Api, bob: ApiTenant, completed: dict[str, Any]) -> None:
    job = completed["job_id"]
    for method, path in [
        ("GET", f"/v1/transcriptions/{job}"),
        ("GET", f"/v1/transcriptions/{job}/segments"),
        ("GET", f"/v1/transcriptions/{job}/download?format=srt"),
        ("DELETE", f"/v1/transcriptions/{job}"),
        ("POST", f"/v1/transcriptions/{job}/retry"),
    ]:
        _problem(api.http.request(method, path, key=bob.key), 404)
    listed = api.http.request("GET", "/v1/transcriptions", key=bob.key).json()
    assert job not in [item["job_id"] for item in listed["items"]]


def test_unknown_ids_and_routes_are_404_and_malformed_ids_422(api: Api, alice: ApiTenant) -> None:
    _problem(api.http.request("GET", f"/v1/transcriptions/{uuid.uuid4().hex}", key=alice.key), 404)
    _problem(api.http.request("GET", "/v1/nothing-here", key=alice.key), 404)
    _problem(api.http.request("GET", "/v1/transcriptions/not-a-job-id", key=alice.key), 422)


def test_the_webhook_receiver_gets_a_signed_post(
    alice: ApiTenant, completed: dict[str, Any], receiver: Receiver
) -> None:
    assert receiver.arrived.wait(60), "no webhook arrived"
    headers, body = next((h, b) for h, b in receiver.calls if json.loads(b)["job_id"] == completed["job_id"])
    assert verify(alice.webhook_secret, headers[SIGNATURE_HEADER.lower()], body, now=time.time())
    assert not verify("whsec_" + "0" * 64, headers[SIGNATURE_HEADER.lower()], body, now=time.time())
    assert headers[EVENT_HEADER.lower()] == "Transcription Job Completed"
    assert headers[DELIVERY_HEADER.lower()]
    payload = json.loads(body)
    assert payload["status"] == "COMPLETED" and payload["language"] == "en"
    assert payload["outputs"]["srt"].startswith(f"/v1/transcriptions/{completed['job_id']}/download")


def test_list_is_newest_first_with_cursor_pagination_and_a_status_filter(api: Api) -> None:
    tenant = api.tenant(f"lister-{uuid.uuid4().hex[:6]}")
    created = []
    for n in range(5):
        resp = api.http.request(
            "POST",
            "/v1/transcriptions",
            key=tenant.key,
            json_body={"filename": f"take-{n}.wav", "size": 1000},
        )
        created.append(resp.json()["job_id"])
        time.sleep(0.005)  # created_at has millisecond resolution
    seen: list[str] = []
    cursor = None
    while True:
        path = "/v1/transcriptions?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.http.request("GET", path, key=tenant.key).json()
        assert len(page["items"]) <= 2
        seen += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))
    waiting = api.http.request("GET", "/v1/transcriptions?status=AWAITING_UPLOAD", key=tenant.key).json()
    assert len(waiting["items"]) == 5
    done = api.http.request("GET", "/v1/transcriptions?status=COMPLETED", key=tenant.key).json()
    assert done == {"items": [], "next_cursor": None}
    _problem(api.http.request("GET", "/v1/transcriptions?cursor=bm90LWEtY3Vyc29y", key=tenant.key), 400)
    _problem(api.http.request("GET", "/v1/transcriptions?limit=0", key=tenant.key), 422)
    _problem(api.http.request("GET", "/v1/transcriptions?status=LOST", key=tenant.key), 422)


def test_create_rejects_bad_requests_with_the_right_status(api: Api, alice: ApiTenant) -> None:
    def create(body: Any = None, data: bytes | None = None) -> HttpResponse:
        return api.http.request("POST", "/v1/transcriptions", key=alice.key, json_body=body, data=data)

    _problem(
        api.http.request("POST", "/v1/transcriptions", key=alice.key, data=b"{not json", headers=JSON), 400
    )
    _problem(create(data=b"filename=a.wav"), 415)  # a body that is not JSON at all
    _problem(create({"filename": "a.wav", "size": 10, "content_base64": "***"}), 400)
    problem = _problem(create({"filename": "big.wav", "size": 600 * 1024 * 1024}), 413)
    assert problem["reason_code"] == "TOO_LARGE"
    too_big_inline = base64.b64encode(b"\0" * (4 * 1024 * 1024 + 1)).decode()
    _problem(create({"filename": "a.wav", "content_base64": too_big_inline}), 413)
    _problem(create({"filename": "notes.txt", "size": 10}), 415)
    _problem(create({"filename": "a.mp3", "size": 10, "content_type": "text/plain"}), 415)
    _problem(create({"filename": "a.mp3"}), 422)  # neither size nor content
    _problem(create({"filename": "a.mp3", "size": 10, "options": {"beam_size": 99}}), 422)
    _problem(create({"filename": "a.mp3", "size": 10, "options": {"language": "klingon"}}), 422)
    _problem(create({"filename": "a.mp3", "size": 10, "surprise": True}), 422)
    problem = _problem(
        create({"filename": "a.mp3", "size": 10, "options": {"callback_url": "http://example.com/hook"}}), 422
    )
    assert problem["reason_code"] == "INVALID_CALLBACK_URL"


def test_over_the_rate_limit_or_the_quota_is_429_with_retry_after(api: Api) -> None:
    slow = api.tenant(f"slow-{uuid.uuid4().hex[:6]}", requests_per_minute=3)
    # Fixed one-minute windows: 3 requests pass in each, so a 429 comes by the 7th request even
    # if a minute turns during the test.
    answers = []
    for _ in range(7):
        answers.append(api.http.request("GET", "/v1/transcriptions", key=slow.key))
        if answers[-1].status == 429:
            break
    limited = answers[-1]
    assert _problem(limited, 429)["reason_code"] == "RATE_LIMITED"
    assert 3 <= len(answers) - 1 <= 6 and all(a.status == 200 for a in answers[:-1])
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    frugal = api.tenant(f"frugal-{uuid.uuid4().hex[:6]}", jobs_per_day=1)
    body = {"filename": "a.wav", "size": 1000}
    assert api.http.request("POST", "/v1/transcriptions", key=frugal.key, json_body=body).status == 201
    over = api.http.request("POST", "/v1/transcriptions", key=frugal.key, json_body=body)
    assert _problem(over, 429)["reason_code"] == "QUOTA_EXCEEDED"
    assert int(over.headers["retry-after"]) <= 24 * 3600


def test_conflicts_before_completion_and_for_retrying_a_healthy_job(
    api: Api, alice: ApiTenant, completed: dict[str, Any]
) -> None:
    waiting = api.http.request(
        "POST", "/v1/transcriptions", key=alice.key, json_body={"filename": "later.wav", "size": 1000}
    ).json()
    _problem(api.http.request("GET", f"/v1/transcriptions/{waiting['job_id']}/download", key=alice.key), 409)
    _problem(api.http.request("GET", f"/v1/transcriptions/{waiting['job_id']}/segments", key=alice.key), 409)
    retry = api.http.request("POST", f"/v1/transcriptions/{completed['job_id']}/retry", key=alice.key)
    assert _problem(retry, 409)["reason_code"] == "RETRY_REFUSED"


def test_inline_upload_of_a_small_file(api: Api, pipeline: LocalPipeline) -> None:
    tenant = api.tenant(f"inline-{uuid.uuid4().hex[:6]}")
    audio = SAMPLE.read_bytes()
    created = api.create(tenant, filename="clip.flac", content_base64=base64.b64encode(audio).decode())
    assert created.status == 201 and created.json()["upload_url"] is None
    job = api.wait(tenant, created.json()["job_id"])
    assert job["status"] == "COMPLETED" and "synthesizer" in job["transcript"]["text"].lower()
    record = pipeline.job(job["job_id"])
    assert (
        record is not None
        and record["tenant_id"] == tenant.tenant_id
        and record["key"].startswith(f"tenants/{tenant.tenant_id}/jobs/{job['job_id']}/")
    )


def test_a_failed_job_is_retried_then_deleted_with_everything_it_stored(
    api: Api, pipeline: LocalPipeline, alice: ApiTenant, completed: dict[str, Any]
) -> None:
    # A job that failed on a transient error, of the same uploaded audio (the state a run that
    # ran out of retries leaves behind).
    source = pipeline.job(completed["job_id"])
    assert source is not None
    failed_id = uuid.uuid4().hex
    pipeline.jobs().create(
        {
            "job_id": failed_id,
            "tenant_id": alice.tenant_id,
            "status": "FAILED",
            "reason_code": "TRANSIENT_ERROR",
            "error_message": "The engine timed out.",
            "bucket": source["bucket"],
            "key": source["key"],
            "options": {"language": "en", "dedupe": False},
        }
    )
    retried = api.http.request("POST", f"/v1/transcriptions/{failed_id}/retry", key=alice.key)
    assert retried.status == 202, retried.body
    assert retried.json()["status"] == "PENDING" and retried.json()["attempts"] == 1
    job = api.wait(alice, failed_id)
    assert job["status"] == "COMPLETED" and "synthesizer" in job["transcript"]["text"].lower()

    s3 = pipeline.aws.client("s3")

    def stored(prefix: str) -> int:
        return int(s3.list_objects_v2(Bucket=pipeline.stack.results_bucket, Prefix=prefix)["KeyCount"])

    assert stored(f"transcripts/{failed_id}/") == 4 and stored(f"work/{failed_id}/") > 0
    deleted = api.http.request("DELETE", f"/v1/transcriptions/{failed_id}", key=alice.key)
    assert deleted.status == 204 and deleted.body == b""
    assert stored(f"transcripts/{failed_id}/") == 0 and stored(f"work/{failed_id}/") == 0
    _problem(api.http.request("GET", f"/v1/transcriptions/{failed_id}", key=alice.key), 404)
    # Deleting it again answers as the first DELETE did (it would finish one that failed midway).
    assert api.http.request("DELETE", f"/v1/transcriptions/{failed_id}", key=alice.key).status == 204
    # The audio was the other job's upload too: deleting this job took it away.
    assert s3.list_objects_v2(Bucket=source["bucket"], Prefix=source["key"])["KeyCount"] == 0


def test_deleting_a_running_job_stops_its_execution(api: Api, pipeline: LocalPipeline) -> None:
    tenant = api.tenant(f"quitter-{uuid.uuid4().hex[:6]}")
    audio = SAMPLE.read_bytes()
    created = api.create(tenant, filename="x.flac", size=len(audio), options={"dedupe": False}).json()
    api.http.request("PUT", created["upload_url"], data=audio)
    deadline = time.monotonic() + 60
    while pipeline.workflow().status(created["job_id"]) != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert api.http.request("DELETE", f"/v1/transcriptions/{created['job_id']}", key=tenant.key).status == 204
    # moto's interpreter ends a stopped run on the run's own thread, a moment (about 0.1 s) after
    # StopExecution has returned; AWS reports ABORTED at once.
    deadline = time.monotonic() + 10
    runs = pipeline.workflow()
    while (status := runs.status(created["job_id"])) == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status == "ABORTED"
    record = pipeline.job(created["job_id"])
    assert record is not None and record["status"] == "DELETED"


def test_the_sdk_transcribes_a_file_and_waits_for_the_transcript(api: Api) -> None:
    from client import Client, NotFoundError

    tenant = api.tenant(f"sdk-{uuid.uuid4().hex[:6]}")
    client = Client(api.server.base_url, tenant.key)
    seen: list[Any] = []
    result = client.transcribe(SAMPLE, wait=True, poll_s=0.5, on_progress=seen.append)
    assert result.completed and result.text is not None and "synthesizer" in result.text.lower()
    assert result.segments and seen and seen[-1].progress == 100
    assert [t.job_id for t in client.list()] == [result.job_id]
    assert "-->" in client.download(result.job_id, format="srt")
    client.delete(result.job_id)
    with pytest.raises(NotFoundError):
        client.get(result.job_id)


def test_the_keys_command_creates_lists_and_revokes_keys(
    api: Api, pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    from client.cli import main

    where = ["--table", pipeline.stack.tenants_table, "--endpoint-url", pipeline.aws.endpoint]
    tenant_id = f"cli-{uuid.uuid4().hex[:6]}"
    assert main(["keys", "create", tenant_id, "--requests-per-minute", "50", "--json", *where]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["tenant_id"] == tenant_id and created["requests_per_minute"] == 50
    assert api.http.request("GET", "/v1/transcriptions", key=created["api_key"]).status == 200
    assert main(["keys", "list", "--tenant", tenant_id, "--json", *where]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["key_id"] == created["key_id"] and "api_key" not in listed and listed["revoked_at"] is None
    assert main(["keys", "revoke", created["key_id"], *where]) == 0
    capsys.readouterr()
    _problem(api.http.request("GET", "/v1/transcriptions", key=created["api_key"]), 401)
    assert main(["keys", "revoke", "00000000", *where]) == 2
    assert main(["keys", "create", "Not A Tenant", *where]) == 2
