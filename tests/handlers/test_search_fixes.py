"""Search fixes against moto in server mode (LanceDB's own S3 client needs a real endpoint):
deleted text leaves S3, scores carry nothing of other tenants, a rebuild does not bring a deleted
job back, the search function reads without writing and accepts the API's bearer JWTs."""

from __future__ import annotations

import importlib
import json
import logging
import socket
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localrun.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from tests.api_requests import proxy_event
from tests.handlers.conftest import FakeContext, GlobalIndex, create_jobs_table
from tests.handlers.test_search_index import (
    CREATED,
    INDEX_BUCKET,
    JOBS_TABLE,
    RESULTS,
    Server,
    _complete_job,
    _document,
    _job_id,
    _ports,
    index_prefix,
)
from tests.unit.test_formats_speakers import _transcript
from transcriber.adapters import aws_clients
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.jwt_verifier import jwks_of
from transcriber.adapters.search_index import INDEX_URI_ENV, STEMMED_COLUMN, SearchIndex, analyzer
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain import formats
from transcriber.domain.jobs import TENANT_INDEX
from transcriber.domain.search import job_document, parse_query
from transcriber.stages import search


def _reset(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """test_search_index's moto server, with moto's state reset before and after: moto's backends
    are the process's, shared by every moto server a test session starts."""
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
