"""The search index against moto in server mode: LanceDB writes real objects to moto's S3.

LanceDB talks to S3 through its own (Rust) client, which in-process mocking cannot reach, so
these tests start a moto server, as the local stack does (localrun/environment.py). Among them:
deleted text leaves S3, scores carry nothing of other tenants, a rebuild does not bring a deleted
job back, the search function reads without writing and accepts the API's bearer JWTs.
"""

from __future__ import annotations

import importlib
import json
import logging
import socket
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError

from localrun.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from tests.api_requests import proxy_event
from tests.handlers.conftest import FakeContext, GlobalIndex, create_jobs_table, sqs_lambda_event
from tests.unit.test_formats_speakers import _transcript
from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.jwt_verifier import jwks_of
from transcriber.adapters.search_index import (
    INDEX_URI_ENV,
    STEMMED_COLUMN,
    SearchIndex,
    analyzer,
    storage_options_from_environment,
)
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain import formats
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_SOURCE, TENANT_INDEX, JobStatus, output_key
from transcriber.domain.search import (
    EVENT_JOB_DELETED,
    IndexedSegment,
    InvalidSearchQueryError,
    JobDocument,
    job_document,
    parse_query,
)
from transcriber.stages import search

RESULTS = "search-results"
INDEX_BUCKET = "search-index"
JOBS_TABLE = "search-jobs"
CREATED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _job_id() -> str:
    return uuid.uuid4().hex


def _document(tenant: str, job_id: str, *texts: str, language: str | None = "en") -> JobDocument:
    segments = tuple(
        IndexedSegment(segment_id=n, start=2.0 * (n - 1), end=2.0 * n - 0.5, text=text)
        for n, text in enumerate(texts, start=1)
    )
    return JobDocument(tenant, job_id, f"{job_id[:6]}.wav", language, CREATED, segments)


@dataclass
class Server:
    endpoint: str
    s3: Any
    dynamodb: Any

    def index(self, prefix: str) -> SearchIndex:
        """A new connection, as another Lambda execution environment would open."""
        return SearchIndex(
            f"s3://{INDEX_BUCKET}/{prefix}", storage_options=storage_options_from_environment()
        )


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """A moto server, its state reset before and after: moto's backends are the process's, shared
    by every moto server a test session starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    _reset(endpoint)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for bucket in (RESULTS, INDEX_BUCKET):
        s3.create_bucket(Bucket=bucket)
    dynamodb = boto3.resource("dynamodb", endpoint_url=endpoint)
    create_jobs_table(dynamodb, JOBS_TABLE, GlobalIndex(TENANT_INDEX, "tenant_id", "created_at"))
    yield Server(endpoint=endpoint, s3=s3, dynamodb=dynamodb)
    _reset(endpoint)
    moto.stop()


@pytest.fixture
def env(server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """The environment a search function gets: the endpoint of the local AWS, the index URI."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    monkeypatch.setenv(INDEX_URI_ENV, f"s3://{INDEX_BUCKET}/handler")
    monkeypatch.setenv("JOBS_TABLE", JOBS_TABLE)
    monkeypatch.setenv("RESULTS_BUCKET", RESULTS)
    aws_clients.forget()
    yield server
    aws_clients.forget()


@pytest.fixture
def index(env: Server) -> SearchIndex:
    """An empty index of its own (a fresh prefix) for each test."""
    return env.index(uuid.uuid4().hex[:8])


def test_a_phrase_is_found_in_the_job_that_said_it_with_the_segments_times(
    env: Server, index: SearchIndex
) -> None:
    said, other = _job_id(), _job_id()
    index.replace_job(_document("t1", said, "good morning everyone", "the quarterly budget was approved"))
    index.replace_job(_document("t1", other, "the budget was quarterly", "approved the plan"))

    page = env.index(index_prefix(index)).search("t1", parse_query('"quarterly budget"'))

    assert [(h.job_id, h.segment_id, h.start, h.end) for h in page.hits] == [(said, 2, 2.0, 3.5)]
    (hit,) = page.hits
    assert hit.text == "the quarterly budget was approved"
    assert hit.highlight == "the <mark>quarterly</mark> <mark>budget</mark> was approved"
    assert hit.filename == f"{said[:6]}.wav"
    assert hit.score > 0
    # Terms (not a phrase) match both jobs, stemmed: "approve" finds "approved".
    both = index.search("t1", parse_query("budget approve"))
    assert {h.job_id for h in both.hits} == {said}  # only `said` has both words in one segment
    assert {h.job_id for h in index.search("t1", parse_query("budgets")).hits} == {said, other}


def index_prefix(index: SearchIndex) -> str:
    return str(index._db.uri).rstrip("/").rsplit("/", 1)[-1]


def test_another_tenant_finds_nothing_and_cannot_widen_its_filter(index: SearchIndex) -> None:
    index.replace_job(_document("t1", _job_id(), "confidential merger talks"))
    assert len(index.search("t1", parse_query("merger")).hits) == 1
    assert index.search("t2", parse_query("merger")).hits == ()
    for hostile in ("t2' OR tenant = 't1", "t2' OR '1'='1", "%", "*"):
        assert index.search(hostile, parse_query("merger")).hits == ()


def test_after_delete_the_job_is_gone_for_every_reader(env: Server, index: SearchIndex) -> None:
    gone, kept = _job_id(), _job_id()
    index.replace_job(_document("t1", gone, "erase my words please"))
    index.replace_job(_document("t1", kept, "keep my words please"))
    reader = env.index(index_prefix(index))
    assert {h.job_id for h in reader.search("t1", parse_query("words")).hits} == {gone, kept}

    index.delete_job("t1", gone)

    assert {h.job_id for h in reader.search("t1", parse_query("words")).hits} == {kept}
    assert reader.search("t1", parse_query("erase")).hits == ()


def test_reindexing_a_job_replaces_its_segments(index: SearchIndex) -> None:
    job = _job_id()
    index.replace_job(_document("t1", job, "first draft words", "second segment"))
    index.replace_job(_document("t1", job, "final wording"))
    assert index.search("t1", parse_query("draft")).hits == ()
    assert index.search("t1", parse_query("segment")).hits == ()
    assert [h.segment_id for h in index.search("t1", parse_query("final")).hits] == [1]
    index.replace_job(_document("t1", job))  # a transcript with no text: nothing stays
    assert index.search("t1", parse_query("final")).hits == ()


def test_concurrent_writers_lose_no_update(env: Server, index: SearchIndex) -> None:
    prefix = index_prefix(index)
    index.replace_job(_document("t1", _job_id(), "warm up the table"))
    jobs = [_job_id() for _ in range(24)]

    def write(job_id: str) -> None:
        env.index(prefix).replace_job(_document("t1", job_id, f"concurrent entry {job_id}", "shared words"))

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(write, jobs))

    page = env.index(prefix).search("t1", parse_query('"shared words"', limit=100))
    assert {h.job_id for h in page.hits} == set(jobs)
    for job_id in jobs[:3]:
        (hit,) = index.search("t1", parse_query(job_id)).hits
        assert hit.job_id == job_id


def test_filters_narrow_the_hits(index: SearchIndex) -> None:
    english, german = _job_id(), _job_id()
    index.replace_job(_document("t1", english, "running late today"))
    index.replace_job(_document("t1", german, "running spät heute", language="de"))
    assert {h.job_id for h in index.search("t1", parse_query("running")).hits} == {english, german}
    assert {h.job_id for h in index.search("t1", parse_query("running", language="de")).hits} == {german}
    assert {h.job_id for h in index.search("t1", parse_query("run", language="en")).hits} == {english}
    assert index.search("t1", parse_query("run", language="de")).hits == ()  # not stemmed
    assert {h.job_id for h in index.search("t1", parse_query("running", job_id=german)).hits} == {german}
    before = parse_query("running", created_before="2026-11-01T11:00:00Z")
    after = parse_query("running", created_after="2026-11-01T11:00:00Z")
    assert index.search("t1", before).hits == ()
    assert len(index.search("t1", after).hits) == 2


def test_pages_follow_each_other_without_repeats(index: SearchIndex) -> None:
    for _ in range(5):
        index.replace_job(_document("t1", _job_id(), "repeated phrase here"))
    first = index.search("t1", parse_query("repeated", limit=2))
    seen = [h.job_id for h in first.hits]
    cursor = first.next_cursor
    while cursor:
        page = index.search("t1", parse_query("repeated", limit=2, cursor=cursor))
        seen.extend(h.job_id for h in page.hits)
        cursor = page.next_cursor
    assert len(seen) == 5
    assert len(set(seen)) == 5


@pytest.mark.parametrize("text", ["", "x" * 513, '"open', "!!!"])
def test_bad_queries_raise_the_validation_error(text: str) -> None:
    with pytest.raises(InvalidSearchQueryError):
        parse_query(text)


# -- the use cases and the indexer, through the jobs table and the results bucket ---------------


def _complete_job(server: Server, tenant: str, texts: list[str], *, status: str = "COMPLETED") -> str:
    job_id = _job_id()
    JobRepository(JOBS_TABLE, resource=server.dynamodb).create(
        {
            "job_id": job_id,
            "tenant_id": tenant,
            "status": status,
            "key": f"tenants/{tenant}/{job_id}/meeting.mp3",
            "filename": "meeting.mp3",
        }
    )
    transcript = {
        "job_id": job_id,
        "language": "en",
        "segments": [
            {"id": n, "start": float(n), "end": n + 0.75, "text": text}
            for n, text in enumerate(texts, start=1)
        ],
    }
    ObjectStore(server.s3).put_json(RESULTS, output_key(job_id, "json"), transcript)
    return job_id


def _ports(server: Server) -> dict[str, Any]:
    return {
        "jobs": JobRepository(JOBS_TABLE, resource=server.dynamodb),
        "transcripts": ObjectStore(server.s3),
        "results_bucket": RESULTS,
    }


def test_index_job_reads_the_transcript_and_skips_jobs_that_are_not_completed(
    env: Server, index: SearchIndex
) -> None:
    done = _complete_job(env, "t-stage", ["an orange elephant", "walked slowly"])
    deleted = _complete_job(env, "t-stage", ["an orange tiger"], status=JobStatus.DELETED.value)
    index.replace_job(_document("t-stage", deleted, "an orange tiger"))  # indexed before its deletion

    assert search.index_job(done, index=index, **_ports(env)) == search.INDEXED
    assert search.index_job(deleted, index=index, **_ports(env)) == search.REMOVED

    (hit,) = search.search("t-stage", parse_query("orange"), index=index).hits
    assert (hit.job_id, hit.filename, hit.start, hit.end) == (done, "meeting.mp3", 1.0, 1.75)


def test_a_job_deleted_while_it_was_being_indexed_is_not_left_in_search(
    env: Server, index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job's deletion (and its own event, handled by another indexer) lands between this
    indexer's read of the job and its write: the write is undone."""
    job_id = _complete_job(env, "t-race", ["a crimson kettle"])
    ports = _ports(env)
    real_replace = index.replace_job

    def replace_as_the_job_is_deleted(document: Any) -> None:
        real_replace(document)
        JobRepository(JOBS_TABLE, resource=env.dynamodb).mark_deleted(job_id)
        index.delete_job("t-race", job_id)  # the deletion's event, applied by another indexer

    monkeypatch.setattr(index, "replace_job", replace_as_the_job_is_deleted)
    assert search.index_job(job_id, index=index, **ports) == search.REMOVED
    monkeypatch.undo()
    assert not search.search("t-race", parse_query("crimson"), index=index).hits


def test_a_duplicate_job_is_indexed_from_the_earlier_jobs_transcript_under_its_own_id(
    env: Server, index: SearchIndex
) -> None:
    earlier = _complete_job(env, "t-dup", ["a purple walrus sang"])
    duplicate = _job_id()
    outputs = {"json": f"s3://{RESULTS}/{output_key(earlier, 'json')}"}
    JobRepository(JOBS_TABLE, resource=env.dynamodb).create(
        {
            "job_id": duplicate,
            "tenant_id": "t-dup",
            "status": "COMPLETED",
            "key": "k/again.mp3",
            "outputs": outputs,
        }
    )
    assert search.index_job(duplicate, index=index, **_ports(env)) == search.INDEXED
    (hit,) = search.search("t-dup", parse_query("walrus"), index=index).hits
    assert (hit.job_id, hit.filename) == (duplicate, "again.mp3")  # the earlier job is not touched


def test_reindex_tenant_rebuilds_from_the_transcripts_in_s3(env: Server, index: SearchIndex) -> None:
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    jobs = [_complete_job(env, tenant, [f"rebuild number {n}", "common ground"]) for n in range(3)]
    stale = _job_id()
    index.replace_job(_document(tenant, stale, "common ground stale"))  # no longer a completed job
    index.replace_job(_document("bystander", _job_id(), "common ground"))

    assert search.reindex_tenant(tenant, index=index, **_ports(env)) == 3

    hits = index.search(tenant, parse_query('"common ground"')).hits
    assert {h.job_id for h in hits} == set(jobs)
    assert len(index.search("bystander", parse_query("common")).hits) == 1


def _lambda_event(server: Server, events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The events put on a bus, through a rule, to a queue, as Lambda's SQS source hands them over."""
    bus, name = "search-bus", uuid.uuid4().hex[:8]
    eventbridge = boto3.client("events", endpoint_url=server.endpoint)
    sqs = boto3.client("sqs", endpoint_url=server.endpoint)
    if bus not in [b["Name"] for b in eventbridge.list_event_buses()["EventBuses"]]:
        eventbridge.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=f"index-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [EVENT_SOURCE], "detail-type": [EVENT_JOB_COMPLETED, EVENT_JOB_DELETED]}
    eventbridge.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    eventbridge.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    eventbridge.put_events(
        Entries=[
            {"Source": EVENT_SOURCE, "DetailType": kind, "Detail": json.dumps(detail), "EventBusName": bus}
            for kind, detail in events
        ]
    )
    event = sqs_lambda_event(sqs, queue, arn)
    assert len(event["Records"]) == len(events)
    return event


def test_the_indexer_applies_completions_and_deletions_and_reports_failures_per_message(env: Server) -> None:
    from functions.indexer.handler import handler, index

    tenant = f"t-{uuid.uuid4().hex[:6]}"
    first = _complete_job(env, tenant, ["violet submarine surfaced"])
    second = _complete_job(env, tenant, ["violet submarine dived"])
    index.replace_job(_document(tenant, second, "violet submarine dived"))
    missing = _job_id()
    event = _lambda_event(
        env,
        [
            (EVENT_JOB_COMPLETED, {"job_id": first, "status": "COMPLETED"}),
            (EVENT_JOB_DELETED, {"job_id": second, "tenant_id": tenant}),
            (EVENT_JOB_COMPLETED, {"job_id": missing, "status": "COMPLETED"}),
        ],
    )
    failing = next(r["messageId"] for r in event["Records"] if missing in r["body"])

    result = handler(event, FakeContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": failing}]}
    hits = index.search(tenant, parse_query('"violet submarine"')).hits
    assert [h.job_id for h in hits] == [first]


def test_maintenance_folds_new_rows_into_the_index_without_changing_answers(index: SearchIndex) -> None:
    index.replace_job(_document("t1", _job_id(), "before the index existed"))
    index.optimize()
    late = _job_id()
    index.replace_job(_document("t1", late, "added after the index", "two more rows"))
    assert index.unindexed_rows() == 2
    before = index.search("t1", parse_query("index"))

    search.maintain(index=index)

    assert index.unindexed_rows() == 0
    after = index.search("t1", parse_query("index"))
    # the same hits (their order may change: BM25 statistics are recomputed for the merged index)
    assert {(h.job_id, h.segment_id) for h in after.hits} == {(h.job_id, h.segment_id) for h in before.hits}
    assert len(after.hits) == 2


def test_the_speaker_filter_keeps_one_speakers_segments(index: SearchIndex) -> None:
    job = _job_id()
    segments = (
        IndexedSegment(1, 0.0, 1.0, "we should ship on friday", speaker="SPEAKER_00"),
        IndexedSegment(2, 1.0, 2.0, "friday is too early", speaker="SPEAKER_01"),
    )
    index.replace_job(JobDocument("t1", job, "standup.wav", "en", CREATED, segments))
    hits = index.search("t1", parse_query("friday", speaker="SPEAKER_01")).hits
    assert [(h.segment_id, h.start) for h in hits] == [(2, 1.0)]
    assert index.search("t1", parse_query("friday", speaker="SPEAKER_02")).hits == ()


def test_the_operations_function_rebuilds_a_tenant_and_maintains_on_schedule(env: Server) -> None:
    from functions.indexer.operations import handler, index

    tenant = f"t-{uuid.uuid4().hex[:6]}"
    jobs = [_complete_job(env, tenant, [f"amber lantern {n}"]) for n in range(3)]
    index.replace_job(_document(tenant, _job_id(), "amber lantern gone"))  # not a job any more
    answer = handler({"reindex_tenant": tenant}, FakeContext())
    assert answer == {"tenant": tenant, "indexed_jobs": 3}
    hits = search.search(tenant, parse_query("amber lantern", limit=10), index=index).hits
    assert sorted(hit.job_id for hit in hits) == sorted(jobs)
    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert handler(scheduled, FakeContext()) == {"maintained": True}
    with pytest.raises(ValidationError):
        handler({"reindex_tenant": ""}, FakeContext())


# Deleted text, other tenants' statistics, rebuilds, read-only search, JWTs --------------------


def _objects(server: Server, prefix: str) -> dict[str, bytes]:
    """Every object the index has in S3, read whole."""
    found: dict[str, bytes] = {}
    pages = server.s3.get_paginator("list_objects_v2").paginate(Bucket=INDEX_BUCKET, Prefix=f"{prefix}/")
    for page in pages:
        for item in page.get("Contents", []):
            found[item["Key"]] = server.s3.get_object(Bucket=INDEX_BUCKET, Key=item["Key"])["Body"].read()
    return found


def _holding(objects: dict[str, bytes], word: str) -> list[str]:
    """The keys whose bytes contain ``word`` or the engine's token for it."""
    needles = {word, *analyzer(STEMMED_COLUMN)(word)}
    return [key for key, body in objects.items() if any(n.encode() in body for n in needles)]


def test_maintenance_removes_a_deleted_jobs_text_from_every_file_of_the_index(
    env: Server, index: SearchIndex
) -> None:
    """The reviewer's case: one compacted file of 200 rows, one job's row deleted (0.5% of the
    file, under Lance's default 10% for rewriting it)."""
    prefix = index_prefix(index)
    kept = [_job_id() for _ in range(200)]
    index.replace_jobs([_document("t1", job, f"ordinary meeting number {n}") for n, job in enumerate(kept)])
    erased = _job_id()
    index.replace_job(_document("t1", erased, "the xylophonist resigned"))
    search.maintain(index=index, cleanup_grace=timedelta(0))  # one compacted, indexed file
    assert _holding(_objects(env, prefix), "xylophonist"), "the word must be findable in the files at first"

    index.delete_job("t1", erased)
    assert index.search("t1", parse_query("xylophonist")).hits == ()
    search.maintain(index=index, cleanup_grace=timedelta(0))

    assert _holding(_objects(env, prefix), "xylophonist") == []
    reader = env.index(prefix)
    assert len(reader.search("t1", parse_query("ordinary meeting", limit=100)).hits) == 100
    (hit,) = reader.search("t1", parse_query('"meeting number 7"')).hits
    assert hit.job_id == kept[7]
    assert index.unindexed_rows() == 0


def test_maintenance_keeps_old_versions_for_the_grace(env: Server, index: SearchIndex) -> None:
    """With the default grace a version replaced a moment ago keeps its files (a query that began
    on it can finish), so the deleted text is still in S3 until a later run."""
    prefix = index_prefix(index)
    index.replace_jobs([_document("t1", _job_id(), f"plain words {n}") for n in range(20)])
    erased = _job_id()
    index.replace_job(_document("t1", erased, "the xylophonist resigned"))
    search.maintain(index=index, cleanup_grace=timedelta(0))
    index.delete_job("t1", erased)

    search.maintain(index=index)

    assert _holding(_objects(env, prefix), "xylophonist")


def _world(env: Server, others_say: str) -> list[float]:
    """Tenant t1's scores for "merger" in an index where tenant t2's segments say ``others_say``."""
    index = env.index(uuid.uuid4().hex[:8])
    index.replace_jobs(
        [
            _document("t1", _job_id(), "merger", "we talked about the merger and the merger terms today"),
            _document("t1", _job_id(), "a short merger note", "nothing to see here"),
            _document("t2", _job_id(), *[f"{others_say} {others_say} plan number {n}" for n in range(30)]),
        ]
    )
    search.maintain(index=index)  # indexed: the full-text index's statistics are the whole table's
    return [hit.score for hit in index.search("t1", parse_query("merger")).hits]


def test_a_tenants_scores_do_not_depend_on_other_tenants_words(env: Server) -> None:
    """Another tenant's segments of the same lengths, once with the query's word and once with
    another: the raw BM25 scores differ (the word's IDF), the answered scores do not."""
    alone = _world(env, "budget")
    crowded = _world(env, "merger")

    assert len(alone) == 3 and alone[0] == 1.0
    assert len(set(alone)) == 3  # relative, not all 1.0
    assert crowded == pytest.approx(alone, abs=1e-6)


def test_a_job_deleted_while_its_tenant_is_rebuilt_is_not_brought_back(
    env: Server, index: SearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild read every job first; one is deleted (and its event applied by an indexer)
    before the rebuild writes the tenant."""
    tenant = f"t-{uuid.uuid4().hex[:6]}"
    kept = _complete_job(env, tenant, ["a teal harbour crane"])
    doomed = _complete_job(env, tenant, ["a teal harbour lighthouse"])
    real_replace = index.replace_tenant

    def replace_after_a_deletion(owner: str, documents: list[Any]) -> None:
        JobRepository(JOBS_TABLE, resource=env.dynamodb).mark_deleted(doomed)
        index.delete_job(owner, doomed)  # the deletion's event, applied before this write
        real_replace(owner, documents)

    monkeypatch.setattr(index, "replace_tenant", replace_after_a_deletion)
    assert search.reindex_tenant(tenant, index=index, **_ports(env)) == 1
    monkeypatch.undo()

    hits = search.search(tenant, parse_query("teal harbour"), index=index).hits
    assert [hit.job_id for hit in hits] == [kept]


def test_a_speaker_rename_changes_nothing_the_index_holds() -> None:
    """The index keeps segments' speaker labels, which a rename never changes: no re-index is
    needed, so a rename announces no event for the indexer."""
    document = {**formats.transcript_to_dict(_transcript()), "job_id": "a" * 32}
    renamed = json.loads(formats.rename_speakers(document, {"spk_0": "Ann", "spk_1": "Bob"})["json"])
    facts: dict[str, Any] = {"tenant": "t1", "filename": "standup.wav", "created_at": CREATED}
    before = job_document(document, **facts)
    assert {segment.speaker for segment in before.segments} == {"spk_0", "spk_1"}
    assert job_document({**renamed, "job_id": "a" * 32}, **facts) == before


def test_searching_a_missing_index_writes_nothing_and_finds_nothing(env: Server) -> None:
    """The search function's role is read-only: the table is the writers' to create."""
    prefix = uuid.uuid4().hex[:8]
    reader = env.index(prefix)
    assert reader.search("t1", parse_query("anything")).hits == ()
    assert _objects(env, prefix) == {}

    env.index(prefix).replace_job(_document("t1", _job_id(), "anything at all"))
    assert len(reader.search("t1", parse_query("anything")).hits) == 1


# -- the search function with bearer JWTs ----------------------------------------------------------


@pytest.fixture
def jwt_issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("jwt") / "key.pem")


def _search_function(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> ModuleType:
    """functions/search/handler.py imported afresh with ``environ`` (its init phase reads it)."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "functions.search.handler", raising=False)
    aws_clients.forget()
    return importlib.import_module("functions.search.handler")


@pytest.fixture
def searchable(env: Server) -> Iterator[tuple[str, str]]:
    """A tenant (in a tenants table) with one indexed job; the index URI and the tenant id."""
    table = f"tenants-{uuid.uuid4().hex[:6]}"
    boto3.resource("dynamodb", endpoint_url=env.endpoint).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws_clients.forget()
    TenantRepository(table).ensure_tenant("acme")
    prefix = uuid.uuid4().hex[:8]
    env.index(prefix).replace_job(_document("acme", _job_id(), "the ledger was reconciled"))
    yield table, f"s3://{INDEX_BUCKET}/{prefix}"
    sys.modules.pop("functions.search.handler", None)


def test_a_jwt_caller_searches_like_on_the_rest_of_the_api(
    searchable: tuple[str, str], jwt_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenants_table, uri = searchable
    function = _search_function(
        monkeypatch,
        {
            "TENANTS_TABLE": tenants_table,
            INDEX_URI_ENV: uri,
            "JWT_ISSUER": LOCAL_ISSUER,
            "JWT_AUDIENCE": LOCAL_AUDIENCE,
            "JWT_JWKS_JSON": jwks_of(jwt_issuer.jwks()),
        },
    )
    token = jwt_issuer.mint("acme")

    answer = function.handler(
        proxy_event("GET", "/v1/search", key=token, query={"q": "ledger"}), FakeContext()
    )

    assert answer["statusCode"] == 200, answer["body"]
    assert '"the <mark>ledger</mark> was reconciled"' in answer["body"]
    forged = LocalIssuer(tmp_path / "other.pem").mint("acme")
    refused = function.handler(
        proxy_event("GET", "/v1/search", key=forged, query={"q": "ledger"}), FakeContext()
    )
    assert refused["statusCode"] == 401
