"""``GET /v1/search`` through the API's resolver and authentication, over a recording index (no
AWS, no engine); the deletion event of the API; the SDK's and CLI's view of the answer."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from client.cli.search import mm_ss, print_hits
from client.search import SearchResults
from tests.api_requests import KeyedTenants
from tests.unit.test_api_routes import ALICE, KEY, NO_CONTEXT, _event, _problem
from transcriber.api.http_api import HttpApi
from transcriber.api.search import SearchService
from transcriber.domain.search import JobDocument, SearchHit, SearchPage, SearchQuery, page_of


class RecordingIndex:
    """Answers one fixed hit, and remembers which tenant and query asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, SearchQuery]] = []

    def search(self, tenant: str, query: SearchQuery) -> SearchPage:
        self.asked.append((tenant, query))
        hit = SearchHit(
            "a" * 32, "talk.mp3", 3, 75.5, 78.0, "the quick fox", "the <mark>quick</mark> fox", 1.5
        )
        return page_of(query, [hit])

    def replace_job(self, document: JobDocument) -> None: ...
    def replace_tenant(self, tenant: str, documents: list[JobDocument]) -> None: ...
    def delete_job(self, tenant: str, job_id: str) -> None: ...
    def optimize(self) -> None: ...


@pytest.fixture
def index() -> RecordingIndex:
    return RecordingIndex()


@pytest.fixture
def api(index: RecordingIndex) -> HttpApi:
    return HttpApi(service=None, tenants=KeyedTenants({KEY: ALICE}), search=SearchService(index))


def _search(api: HttpApi, key: str | None = KEY, **params: str) -> dict[str, Any]:
    event = _event("GET", "/v1/search", key=key)
    event["queryStringParameters"] = params or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()} or None
    return api.handle(event, NO_CONTEXT)


def test_the_tenant_comes_from_the_key_and_the_answer_has_the_documented_shape(
    api: HttpApi, index: RecordingIndex
) -> None:
    answer = _search(api, q='"quick fox" lazy', language="en", limit="5")
    assert answer["statusCode"] == 200, answer["body"]
    body = json.loads(answer["body"])
    assert body == {
        "hits": [
            {
                "job_id": "a" * 32,
                "filename": "talk.mp3",
                "segment_id": 3,
                "start": 75.5,
                "end": 78.0,
                "text": "the quick fox",
                "highlight": "the <mark>quick</mark> fox",
                "score": 1.5,
            }
        ],
        "next_cursor": None,
    }
    ((tenant, query),) = index.asked
    assert tenant == ALICE.tenant_id
    assert query.phrases == ("quick fox",) and query.terms == ("lazy",)
    assert query.filters.language == "en" and query.limit == 5


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({}, "query is empty"),
        ({"q": "x" * 513}, "longer than 512"),
        ({"q": 'say "hello'}, "unbalanced"),
        ({"q": "fox", "limit": "many"}, "limit"),
        ({"q": "fox", "created_before": "soon"}, "created_before"),
    ],
)
def test_bad_queries_are_422_and_never_reach_the_index(
    api: HttpApi, index: RecordingIndex, params: dict[str, str], detail: str
) -> None:
    problem = _problem(_search(api, **params), 422)
    assert problem["reason_code"] == "INVALID_QUERY" and detail in problem["detail"]
    assert index.asked == []


def test_no_key_no_search(api: HttpApi, index: RecordingIndex) -> None:
    _problem(_search(api, key=None, q="fox"), 401)
    assert index.asked == []


def test_the_api_function_without_the_engine_answers_404_not_500() -> None:
    from tests.unit.test_api_routes import NoService

    answer = HttpApi(service=NoService(), tenants=KeyedTenants({KEY: ALICE})).handle(
        _event("GET", "/v1/search"), NO_CONTEXT
    )
    _problem(answer, 404)


def test_the_openapi_document_describes_search() -> None:
    from transcriber.api.routes import openapi_document

    operation = openapi_document()["paths"]["/v1/search"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {
        "q",
        "language",
        "created_after",
        "created_before",
        "job_id",
        "speaker",
        "limit",
        "cursor",
    }
    assert "422" in operation["responses"]


def test_the_cli_table_shows_mm_ss_and_escapes_other_peoples_text() -> None:
    results = SearchResults.from_dict(
        {
            "hits": [
                {
                    "job_id": "j",
                    "filename": "evil\x1b[2J.mp3",
                    "start": 3725.2,
                    "text": "line\rforged",
                    "score": 1,
                }
            ],
            "next_cursor": "abc",
        }
    )
    out = io.StringIO()
    with redirect_stdout(out):
        print_hits(results)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["TIME", "FILE", "TEXT"]
    assert lines[1].split() == ["62:05", "evil\\x1b[2J.mp3", "line\\rforged"]
    assert lines[2] == "More: --cursor abc"
    assert mm_ss(0) == "00:00" and mm_ss(59.9) == "00:59"
