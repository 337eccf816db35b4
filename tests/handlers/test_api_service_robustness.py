"""The API's service on moto when things go partly wrong: a DELETE that failed halfway is finished
by the next one, a filtered list stays a bounded number of queries, segments too large for one
Lambda response are refused, and a source_url that fails to fetch uses none of the daily quota
(counted before the fetch and given back, so a tenant past its quota makes the service fetch
nothing)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import IO, Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from tests.api_requests import KeyedTenants, proxy_event
from tests.handlers.conftest import Aws, GlobalIndex, api_service, create_jobs_table, fails_once
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.api import service as service_module
from transcriber.api.http_api import HttpApi
from transcriber.api.service import LIST_MAX_QUERIES, TranscriptionService
from transcriber.domain.jobs import TENANT_INDEX
from transcriber.domain.media_url import SourceUnreachableError
from transcriber.domain.search import EVENT_JOB_DELETED
from transcriber.domain.tenants import Tenant
from transcriber.domain.webhooks import IPAddress

KEY = "trk_0123abcd_" + "s" * 43
ACME = Tenant(tenant_id="acme", webhook_secret="whsec_x", jobs_per_day=10, requests_per_minute=99)
NO_CONTEXT = cast(LambdaContext, None)
SHA = "5" * 64


def _call(
    service: TranscriptionService,
    method: str,
    path: str,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    tenant: Tenant = ACME,
) -> tuple[int, Any]:
    """One request through the HTTP API as Lambda gets it: the status and the decoded body."""
    api = HttpApi(service=service, tenants=KeyedTenants({KEY: tenant}))
    answer = api.handle(proxy_event(method, path, key=KEY, body=body, query=query), NO_CONTEXT)
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


def _keys(aws: Aws, bucket: str, prefix: str = "") -> list[str]:
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def _completed(aws: Aws, job_id: str, created_at: str, **fields: Any) -> str:
    """A COMPLETED job of ACME with its upload, a chunk and its two outputs stored."""
    key = f"tenants/acme/jobs/{job_id}/talk.flac"
    aws.s3.put_object(Bucket="uploads", Key=key, Body=b"fLaC audio")
    aws.s3.put_object(Bucket="results", Key=f"work/{job_id}/partials/00000.json", Body=b"{}")
    document = {"transcript": "hello world", "segments": [{"start": 0, "end": 1, "text": "hello world"}]}
    for fmt, body in (("json", json.dumps(document)), ("txt", "hello world\n")):
        aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.{fmt}", Body=body.encode())
    JobRepository("jobs").create(
        {
            "job_id": job_id,
            "tenant_id": "acme",
            "status": "COMPLETED",
            "bucket": "uploads",
            "key": key,
            "filename": "talk.flac",
            "sha256": SHA,
            "created_at": created_at,
            "outputs": {
                fmt: f"s3://results/transcripts/{job_id}/transcript.{fmt}" for fmt in ("json", "txt")
            },
            **fields,
        }
    )
    return key


def _deletions(aws: Aws, job_id: str) -> list[dict[str, Any]]:
    """The JobDeleted events of ``job_id`` that reached the bus."""
    return [
        e for e in aws.events() if e["detail-type"] == EVENT_JOB_DELETED and e["detail"]["job_id"] == job_id
    ]


# 1. A DELETE that failed partway is finished by the next one -------------------------------------


def _flaky_delete_of_transcripts(store: ObjectStore) -> None:
    store.delete_prefix = fails_once(  # type: ignore[method-assign]
        store.delete_prefix, lambda bucket, prefix: prefix.startswith("transcripts/")
    )


def _flaky_announcement(bus: EventPublisher) -> None:
    bus.emit = fails_once(bus.emit)  # type: ignore[method-assign]


@pytest.mark.parametrize(
    "break_one_step",
    [
        pytest.param(lambda store, bus: _flaky_delete_of_transcripts(store), id="s3-after-tombstone"),
        pytest.param(lambda store, bus: _flaky_announcement(bus), id="eventbridge"),
    ],
)
def test_a_delete_that_failed_after_its_tombstone_is_finished_by_the_next(
    aws: Aws, break_one_step: Callable[[ObjectStore, EventPublisher], None]
) -> None:
    job_id = "d" * 32
    key = _completed(aws, job_id, "2024-05-01T10:00:00Z")
    store, bus = ObjectStore(), EventPublisher("jobs-bus")
    break_one_step(store, bus)
    service = api_service(objects=store, events=bus)
    path = f"/v1/transcriptions/{job_id}"

    status, problem = _call(service, "DELETE", path)
    assert status == 503 and "try again" in problem["detail"]
    assert _call(service, "GET", path)[0] == 404  # the tombstone is down: the job is gone for its owner

    status, _ = _call(service, "DELETE", path)
    assert status == 204
    assert _keys(aws, "uploads", key) == [] and _keys(aws, "results") == []
    (deleted,) = _deletions(aws, job_id)  # the search index forgets it
    assert deleted["detail"]["tenant_id"] == "acme"
    assert _call(service, "GET", path)[0] == 404
    # A repeated DELETE of a deleted job answers as the first; another tenant's stays unknown.
    assert _call(service, "DELETE", path)[0] == 204
    other = Tenant(tenant_id="other", webhook_secret="s", jobs_per_day=9, requests_per_minute=99)
    assert _call(service, "DELETE", path, tenant=other)[0] == 404


def test_a_delete_that_failed_handing_over_outputs_leaves_the_job_and_its_duplicate_whole(aws: Aws) -> None:
    original, duplicate = "a" * 32, "b" * 32
    _completed(aws, original, "2024-05-01T10:00:00Z")
    JobRepository("jobs").create(
        {
            "job_id": duplicate,
            "tenant_id": "acme",
            "status": "COMPLETED",
            "sha256": SHA,
            "created_at": "2024-05-02T10:00:00Z",
            "duplicate_of": original,
            "outputs": {
                fmt: f"s3://results/transcripts/{original}/transcript.{fmt}" for fmt in ("json", "txt")
            },
        }
    )
    store = ObjectStore()
    store.copy = fails_once(store.copy)  # type: ignore[method-assign]
    service = api_service(objects=store, events=EventPublisher("jobs-bus"))

    assert _call(service, "DELETE", f"/v1/transcriptions/{original}")[0] == 503
    # No tombstone yet: the job is there to delete again, and its transcript with it.
    status, job = _call(service, "GET", f"/v1/transcriptions/{original}")
    assert status == 200 and job["transcript"]["text"] == "hello world"

    assert _call(service, "DELETE", f"/v1/transcriptions/{original}")[0] == 204
    assert _keys(aws, "results", f"transcripts/{original}/") == []
    status, job = _call(service, "GET", f"/v1/transcriptions/{duplicate}")
    assert status == 200 and job["transcript"]["text"] == "hello world"
    assert service.download(ACME, duplicate, "txt").body == "hello world\n"
    assert len(_deletions(aws, original)) == 1


# 2. A filtered list makes a bounded number of queries ---------------------------------------------


def test_a_filtered_list_over_thousands_of_jobs_pages_in_few_queries(aws: Aws) -> None:
    dynamodb = boto3.resource("dynamodb")
    table = create_jobs_table(dynamodb, "listed", GlobalIndex(TENANT_INDEX, "tenant_id", "created_at"))
    newest = datetime(2024, 6, 1, tzinfo=UTC)
    matching = {5, 6, 7, 700, 1150}  # three close together: more than a page of 2 in one query
    ids = [f"{i:032x}" for i in range(1200)]
    with table.batch_writer() as batch:
        for i, job_id in enumerate(ids):  # newest first: the order the list answers in
            created = (newest - timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            status = "COMPLETED" if i in matching else "FAILED"
            batch.put_item(
                Item={"job_id": job_id, "tenant_id": "acme", "status": status, "created_at": created}
            )
    queries: list[int] = []
    dynamodb.meta.client.meta.events.register("before-call.dynamodb.Query", lambda **_: queries.append(1))
    service = api_service(jobs=JobRepository("listed", resource=dynamodb))

    listed, pages, cursor = [], [], None
    while True:
        queries.clear()
        page = service.list(ACME, status="COMPLETED", limit=2, cursor=cursor)
        assert len(queries) <= LIST_MAX_QUERIES
        pages.append(len(page["items"]))
        listed += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 20, "the pages never end"
    assert listed == [ids[i] for i in sorted(matching)]  # each once, newest first
    assert min(pages) < 2  # a page left short by the bound still led on to the rest

    # Unfiltered, a page is one query of its own size.
    queries.clear()
    page = service.list(ACME, status=None, limit=3, cursor=None)
    assert [item["job_id"] for item in page["items"]] == ids[:3] and len(queries) == 1
    following = service.list(ACME, status=None, limit=3, cursor=page["next_cursor"])
    assert [item["job_id"] for item in following["items"]] == ids[3:6]


# 3. Segments too large for one response ------------------------------------------------------------


def test_segments_of_a_transcript_over_the_response_limit_are_refused_with_where_to_get_them(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    small, large = "c" * 32, "e" * 32
    _completed(aws, small, "2024-05-01T10:00:00Z")
    _completed(aws, large, "2024-05-01T11:00:00Z")
    segments = [{"start": i, "end": i + 1, "text": f"segment {i}"} for i in range(200)]
    body = json.dumps({"transcript": "long", "segments": segments}).encode()
    aws.s3.put_object(Bucket="results", Key=f"transcripts/{large}/transcript.json", Body=body)
    monkeypatch.setattr(service_module, "RESPONSE_MAX_BYTES", 2000)
    service = api_service()

    status, problem = _call(service, "GET", f"/v1/transcriptions/{large}/segments", query={"q": "segment"})
    assert status == 413
    assert f"/v1/transcriptions/{large}/download?format=json" in problem["detail"]
    status, found = _call(service, "GET", f"/v1/transcriptions/{small}/segments", query={"q": "hello"})
    assert status == 200 and found["count"] == 1


# 4. A source_url that fails to fetch uses none of the daily quota ---------------------------------


def _public(host: str, port: int) -> list[IPAddress]:
    return [ip_address("93.184.216.34")]


def _unreachable(url: str, sink: IO[bytes], **_: Any) -> Any:
    raise SourceUnreachableError("source_url answered HTTP 404 Not Found; give a URL that returns the audio.")


@pytest.fixture
def tenants(aws: Aws) -> TenantRepository:
    return TenantRepository("tenants")  # the aws fixture's table


def test_a_source_url_that_fails_to_fetch_uses_none_of_the_daily_quota(
    aws: Aws, tenants: TenantRepository
) -> None:
    one_a_day = Tenant(tenant_id="acme", webhook_secret="s", jobs_per_day=1, requests_per_minute=99)
    service = api_service(limits=tenants, resolve=_public, fetch_media=_unreachable)
    status, problem = _call(
        service, "POST", "/v1/transcriptions", body={"source_url": "https://media.example.com/talk.mp3"},
        tenant=one_a_day,
    )  # fmt: skip
    assert status == 422 and problem["reason_code"] == "SOURCE_URL_UNREACHABLE"
    assert aws.table.scan()["Count"] == 0
    # The day's one job is still there to create.
    status, created = _call(
        service, "POST", "/v1/transcriptions", body={"filename": "talk.flac", "size": 1000}, tenant=one_a_day
    )
    assert status == 201 and created["upload_url"]


def test_a_source_url_over_the_quota_is_refused_before_any_fetch_or_job(
    aws: Aws, tenants: TenantRepository, sample_flac: Path
) -> None:
    fetches: list[str] = []

    def fetched(url: str, sink: IO[bytes], **_: Any) -> Any:
        fetches.append(url)
        sink.write(sample_flac.read_bytes())
        return type("Fetched", (), {"filename": "talk.flac", "size": sample_flac.stat().st_size})()

    one_a_day = Tenant(tenant_id="acme", webhook_secret="s", jobs_per_day=1, requests_per_minute=99)
    service = api_service(limits=tenants, resolve=_public, fetch_media=fetched)
    url = {"source_url": "https://media.example.com/talk.flac"}
    assert _call(service, "POST", "/v1/transcriptions", body=url, tenant=one_a_day)[0] == 201
    status, problem = _call(service, "POST", "/v1/transcriptions", body=url, tenant=one_a_day)
    assert status == 429 and problem["reason_code"] == "QUOTA_EXCEEDED"
    assert aws.table.scan()["Count"] == 1 and len(_keys(aws, "uploads")) == 1
    assert len(fetches) == 1  # the refused request fetched nothing
