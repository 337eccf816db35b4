"""Search through the local stack: job events -> queue -> indexer -> LanceDB on S3 -> GET /v1/search.

ASR does not matter here, so the jobs are completed through the indexer's path with fixed
transcripts: a COMPLETED job record, its transcript.json, and the "Transcription Job Completed"
event on the jobs bus (what aggregate writes and publishes). Deletion goes through the real API.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, ApiTenant, HttpResponse
from transcriber.adapters.jobs_table import JobRepository
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_SOURCE, JobStatus, output_key

BULK_JOBS = 50
PHRASE = "the quick brown fox jumps over the lazy dog"


def _complete(
    pipeline: LocalPipeline, tenant: str, filename: str, segments: list[tuple[float, float, str]]
) -> str:
    """A completed job with these segments, announced on the bus; its id."""
    job_id = uuid.uuid4().hex
    key = f"tenants/{tenant}/{job_id}/{filename}"
    JobRepository(pipeline.stack.jobs_table, resource=pipeline.aws.resource("dynamodb")).create(
        {
            "job_id": job_id,
            "tenant_id": tenant,
            "status": JobStatus.COMPLETED.value,
            "bucket": pipeline.stack.input_bucket,
            "key": key,
            "filename": filename,
        }
    )
    transcript = {
        "job_id": job_id,
        "language": "en",
        "segments": [{"id": i, "start": s, "end": e, "text": t} for i, (s, e, t) in enumerate(segments)],
    }
    pipeline.aws.client("s3").put_object(
        Bucket=pipeline.stack.results_bucket,
        Key=output_key(job_id, "json"),
        Body=json.dumps(transcript).encode(),
    )
    return job_id


def _announce(pipeline: LocalPipeline, job_ids: list[str]) -> None:
    events = pipeline.aws.client("events")
    for start in range(0, len(job_ids), 10):
        entries = [
            {
                "EventBusName": pipeline.stack.event_bus,
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_JOB_COMPLETED,
                "Detail": json.dumps({"job_id": job_id}),
            }
            for job_id in job_ids[start : start + 10]
        ]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


def _search(api: Api, tenant: ApiTenant, **params: Any) -> HttpResponse:
    return api.http.request("GET", "/v1/search?" + urlencode(params), key=tenant.key)


def _until(check: Callable[[], bool], timeout_s: float = 90) -> float:
    """Seconds until ``check()`` holds (polled); fails the test at the timeout."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout_s, "not searchable in time"
        time.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def indexed(pipeline: LocalPipeline, api: Api) -> dict[str, Any]:
    owner, other = api.tenant(f"search-{uuid.uuid4().hex[:6]}"), api.tenant(f"other-{uuid.uuid4().hex[:6]}")
    fox = _complete(
        pipeline, owner.tenant_id, "fox.wav", [(0.0, 3.5, "Good morning everyone."), (3.5, 6.25, PHRASE)]
    )
    dog = _complete(
        pipeline, owner.tenant_id, "dog.mp3", [(1.0, 2.0, "A lazy dog sleeps; the fox is quick.")]
    )
    bulk = [
        _complete(
            pipeline, owner.tenant_id, f"bulk-{n:02d}.wav", [(0.0, 1.0, f"bulk transcript item{n:02d}")]
        )
        for n in range(BULK_JOBS)
    ]
    announced = time.monotonic()
    _announce(pipeline, [fox, dog, *bulk])

    def all_found() -> bool:
        hits = _search(api, owner, q="bulk transcript", limit=100).json()["hits"]
        return {hit["job_id"] for hit in hits} == set(bulk)

    _until(all_found, timeout_s=180)
    print(f"\n{BULK_JOBS + 2} completion events -> all searchable: {time.monotonic() - announced:.2f} s")
    return {"owner": owner, "other": other, "fox": fox, "dog": dog, "bulk": bulk}


def test_a_phrase_is_found_in_its_job_with_the_segments_times(api: Api, indexed: dict[str, Any]) -> None:
    answer = _search(api, indexed["owner"], q='"quick brown fox"')
    assert answer.status == 200, answer.body
    hits = answer.json()["hits"]
    assert [(h["job_id"], h["filename"], h["segment_id"], h["start"], h["end"]) for h in hits] == [
        (indexed["fox"], "fox.wav", 1, 3.5, 6.25)
    ]
    assert hits[0]["text"] == PHRASE
    assert "<mark>quick</mark> <mark>brown</mark> <mark>fox</mark>" in hits[0]["highlight"]
    # The words alone (not as a phrase) are in the other job too: terms all must match, stemmed.
    jobs = {h["job_id"] for h in _search(api, indexed["owner"], q="lazy dogs quick").json()["hits"]}
    assert jobs == {indexed["fox"], indexed["dog"]}


def test_all_fifty_jobs_completing_at_once_are_searchable(api: Api, indexed: dict[str, Any]) -> None:
    page = _search(api, indexed["owner"], q="bulk transcript", limit=20).json()
    seen = [h["job_id"] for h in page["hits"]]
    while page["next_cursor"]:
        page = _search(
            api, indexed["owner"], q="bulk transcript", limit=20, cursor=page["next_cursor"]
        ).json()
        seen += [h["job_id"] for h in page["hits"]]
    assert sorted(seen) == sorted(indexed["bulk"])  # every job once, across the pages


def test_another_tenants_key_finds_nothing(api: Api, indexed: dict[str, Any]) -> None:
    for query in ('"quick brown fox"', "bulk", "fox"):
        answer = _search(api, indexed["other"], q=query)
        assert answer.status == 200 and answer.json() == {"hits": [], "next_cursor": None}
    by_id = _search(api, indexed["other"], q="fox", job_id=indexed["fox"])
    assert by_id.json()["hits"] == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "empty"),
        ({"q": "   "}, "empty"),
        ({"q": "x" * 513}, "512"),
        ({"q": '"unbalanced'}, "quote"),
        ({"q": "fox", "limit": "0"}, "limit"),
        ({"q": "fox", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "fox", "created_after": "yesterday"}, "created_after"),
        ({"q": "fox", "job_id": "../etc"}, "job_id"),
    ],
)
def test_bad_queries_are_422_problems(
    api: Api, indexed: dict[str, Any], params: dict[str, str], message: str
) -> None:
    answer = _search(api, indexed["owner"], **params)
    assert answer.status == 422, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert message in answer.json()["detail"]


def test_search_needs_a_key(api: Api, indexed: dict[str, Any]) -> None:
    assert api.http.request("GET", "/v1/search?q=fox").status == 401


def test_a_reprocessed_job_is_reindexed_on_its_completed_event(
    pipeline: LocalPipeline, api: Api, indexed: dict[str, Any]
) -> None:
    """A retried job writes a new transcript and announces Completed again: its rows are replaced."""
    owner, job_id = indexed["owner"], indexed["bulk"][0]
    transcript = {
        "job_id": job_id,
        "language": "en",
        "segments": [{"id": 0, "start": 2.0, "end": 4.5, "text": "reprocessed wording"}],
    }
    s3 = pipeline.aws.client("s3")
    s3.put_object(
        Bucket=pipeline.stack.results_bucket,
        Key=output_key(job_id, "json"),
        Body=json.dumps(transcript).encode(),
    )
    announced = time.monotonic()
    _announce(pipeline, [job_id])
    _until(lambda: bool(_search(api, owner, q="reprocessed wording").json()["hits"]), timeout_s=60)
    print(f"\nCompleted event -> searchable (one job): {time.monotonic() - announced:.2f} s")
    ((hit,),) = [_search(api, owner, q="reprocessed wording").json()["hits"]]
    assert (hit["job_id"], hit["start"], hit["end"]) == (job_id, 2.0, 4.5)
    assert job_id not in {
        h["job_id"] for h in _search(api, owner, q="bulk transcript", limit=100).json()["hits"]
    }


def test_a_deleted_job_is_gone_from_results(api: Api, indexed: dict[str, Any]) -> None:
    owner, dog = indexed["owner"], indexed["dog"]
    assert any(h["job_id"] == dog for h in _search(api, owner, q="sleeps").json()["hits"])
    assert api.http.request("DELETE", f"/v1/transcriptions/{dog}", key=owner.key).status == 204
    waited = _until(lambda: _search(api, owner, q="sleeps").json()["hits"] == [], timeout_s=60)
    print(f"\nDELETE -> gone from search: {waited:.2f} s")
    assert {h["job_id"] for h in _search(api, owner, q="lazy").json()["hits"]} == {indexed["fox"]}


def test_admin_reindex_indexes_a_tenants_transcripts_that_no_event_announced(
    pipeline: LocalPipeline, api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    """``transcriber admin reindex`` through the local stack: CloudFormation's output names the
    maintenance function, Lambda runs it, and the tenant's completed jobs become searchable."""
    from client.cli import main

    owner = api.tenant(f"reindex-{uuid.uuid4().hex[:6]}")
    jobs = {
        _complete(pipeline, owner.tenant_id, f"quiet-{n}.wav", [(0.0, 2.0, f"unannounced minutes number{n}")])
        for n in range(3)
    }
    assert _search(api, owner, q="unannounced minutes").json()["hits"] == []  # no event, no index
    where = ["--stack", pipeline.stack_name, "--endpoint-url", pipeline.aws.endpoint]
    assert main(["admin", "reindex", "--tenant", owner.tenant_id, "--json", *where]) == 0
    assert json.loads(capsys.readouterr().out)["indexed_jobs"] == 3
    _until(lambda: {h["job_id"] for h in _search(api, owner, q="unannounced minutes").json()["hits"]} == jobs)
    assert main(["admin", "reindex", "--tenant", owner.tenant_id, "--stack", "NoSuchStack",
                 "--endpoint-url", pipeline.aws.endpoint]) == 1  # fmt: skip
    assert "NoSuchStack" in capsys.readouterr().err
