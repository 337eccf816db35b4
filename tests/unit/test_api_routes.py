"""The HTTP API's routes (transcriber/api/routes.py) through Powertools' resolver, without AWS:
authentication first, options validated by the one JobOptions model, every error problem JSON."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from tests.api_requests import KeyedTenants, proxy_event
from transcriber.api.http_api import HttpApi
from transcriber.api.routes import OPENAPI_PATH
from transcriber.api.service import TranscriptionService
from transcriber.domain.tenants import Tenant

#: What the resolver needs of Lambda's context: nothing, for these routes.
NO_CONTEXT = cast(LambdaContext, None)
KEY = "trk_0123abcd_" + "s" * 43
ALICE = Tenant(tenant_id="alice", webhook_secret="s", jobs_per_day=10, requests_per_minute=10)


class NoService(TranscriptionService):
    """Fails the test if a request that should be refused reaches a use case."""

    def __init__(self) -> None:  # no ports: nothing may be called
        pass


def _event(method: str, path: str, body: Any = None, key: str | None = KEY) -> dict[str, Any]:
    return proxy_event(method, path, key=key, body=body)


@pytest.fixture
def api() -> HttpApi:
    return HttpApi(service=NoService(), tenants=KeyedTenants({KEY: ALICE}))


def _problem(answer: dict[str, Any], status: int) -> dict[str, Any]:
    assert answer["statusCode"] == status, answer["body"]
    # The resolver answers multiValueHeaders; a refused key is answered before it, with headers.
    content_type = (
        answer.get("headers", {}).get("Content-Type") or answer["multiValueHeaders"]["Content-Type"][0]
    )
    assert content_type == "application/problem+json"
    return cast(dict[str, Any], json.loads(answer["body"]))


@pytest.mark.parametrize(
    ("options", "detail"),
    [
        ({"beam_size": 99}, "Option beam_size must be a whole number from 1 to 10."),
        ({"max_chunk_seconds": 5}, "Option max_chunk_seconds must lie between 10 and 600."),
        ({"language": "klingon"}, "Language 'klingon' is not one the engine knows."),
        ({"surprise": True}, "Unknown option(s): surprise."),
    ],
)
def test_invalid_options_are_422_with_the_options_models_message(
    api: HttpApi, options: dict[str, Any], detail: str
) -> None:
    body = {"filename": "a.mp3", "size": 10, "options": options}
    problem = _problem(api.handle(_event("POST", "/v1/transcriptions", body), NO_CONTEXT), 422)
    assert problem["reason_code"] == "INVALID_OPTIONS"
    assert problem["detail"].startswith(detail)


def test_a_caller_without_a_valid_key_learns_that_first(api: HttpApi) -> None:
    body = {"filename": "a.mp3"}  # invalid too, but the key is checked before the body
    problem = _problem(
        api.handle(_event("POST", "/v1/transcriptions", body, key="trk_0123abcd_" + "x" * 43), NO_CONTEXT),
        401,
    )
    assert problem["detail"] == "Unknown API key."


def test_an_invalid_body_is_422_and_an_unknown_path_404(api: HttpApi) -> None:
    _problem(api.handle(_event("POST", "/v1/transcriptions", {"filename": "a.mp3"}), NO_CONTEXT), 422)
    _problem(api.handle(_event("GET", "/v1/nothing-here"), NO_CONTEXT), 404)
    assert cast(KeyedTenants, api.tenants).requests == 2  # each request counted against the tenant


def test_the_openapi_document_needs_no_key(api: HttpApi) -> None:
    answer = api.handle(_event("GET", OPENAPI_PATH, key=None), NO_CONTEXT)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["info"]["title"] == "Audio Transcriber API"
