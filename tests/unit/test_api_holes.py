"""Regression tests for the HTTP API holes of issue 20 (5, 6) and the audit trail (7).

Through Powertools' resolver without AWS, as tests/unit/test_api_routes.py does.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.api_requests import KeyedTenants
from tests.unit.test_api_routes import ALICE, KEY, NO_CONTEXT, NoService, _event, _problem
from transcriber.api.http_api import HttpApi
from transcriber.domain import intake
from transcriber.domain.errors import TooLargeError
from transcriber.domain.tenants import Tenant


@pytest.fixture
def api() -> HttpApi:
    return HttpApi(service=NoService(), tenants=KeyedTenants({KEY: ALICE}))


def _raw(
    method: str, path: str, body: str | None, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    event = _event(method, path)
    event["body"] = body
    if headers:
        event["headers"].update(headers)
        event["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    return event


def test_deeply_nested_json_is_a_400_problem(api: HttpApi) -> None:
    body = "[" * 5000 + "]" * 5000  # 10 KB: json.loads raises RecursionError
    problem = _problem(api.handle(_raw("POST", "/v1/transcriptions", body), NO_CONTEXT), 400)
    assert "nested" in problem["detail"]


@pytest.mark.parametrize("body", ["{", '{"filename": "a.wav", "size": 1', "\x00", '{"a": NaN]', "[" * 999])
def test_any_malformed_body_is_a_400_problem(api: HttpApi, body: str) -> None:
    _problem(api.handle(_raw("POST", "/v1/transcriptions", body), NO_CONTEXT), 400)


@pytest.mark.parametrize("size", ["100", True, 100.0, "1e3"])
def test_size_must_be_a_json_integer(api: HttpApi, size: Any) -> None:
    event = _event("POST", "/v1/transcriptions", {"filename": "a.wav", "size": size})
    problem = _problem(api.handle(event, NO_CONTEXT), 422)
    assert "size" in problem["detail"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/transcriptions", "GET, OPTIONS, POST"),
        ("PATCH", "/v1/transcriptions/" + "a" * 32, "DELETE, GET, OPTIONS"),
        ("GET", "/v1/transcriptions/" + "a" * 32 + "/retry", "OPTIONS, POST"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api: HttpApi, method: str, path: str, allow: str) -> None:
    answer = api.handle(_event(method, path), NO_CONTEXT)
    problem = _problem(answer, 405)
    assert answer["multiValueHeaders"]["Allow"] == [allow]
    assert method in problem["detail"]


def test_an_unknown_path_stays_404(api: HttpApi) -> None:
    _problem(api.handle(_event("GET", "/v1/nothing-here"), NO_CONTEXT), 404)


def test_a_cors_preflight_is_answered_without_a_key(api: HttpApi) -> None:
    preflight = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}
    event = _raw("OPTIONS", "/v1/transcriptions", None, headers=preflight)
    del event["headers"]["Authorization"], event["multiValueHeaders"]["Authorization"]
    answer = api.handle(event, NO_CONTEXT)
    assert answer["statusCode"] == 204, answer
    headers = {k.lower(): v for k, v in answer["multiValueHeaders"].items()}
    assert "POST" in headers["access-control-allow-methods"][0]
    assert headers["access-control-allow-origin"] == ["*"]
    assert "authorization" in headers["access-control-allow-headers"][0].lower()


def test_the_size_limit_message_says_what_the_readme_says() -> None:
    with pytest.raises(TooLargeError) as raised:
        intake.check_name_and_size("a.wav", 600 * 1024 * 1024, 500 * 1024 * 1024)
    assert "over the 500 MiB limit" in raised.value.message
    with open("README.md", encoding="utf-8") as readme:
        assert "the size (500 MiB by default)" in readme.read()


class OneJob(NoService):
    """A service whose delete succeeds for one job id."""

    def delete(self, tenant: Tenant, job_id: str) -> None:
        assert tenant.tenant_id == "alice"


def test_every_call_writes_one_audit_line_without_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = HttpApi(service=OneJob(), tenants=KeyedTenants({KEY: ALICE}))
    job_id = "b" * 32
    event = _event("DELETE", f"/v1/transcriptions/{job_id}")
    event["requestContext"]["identity"] = {"sourceIp": "203.0.113.9"}
    assert api.handle(event, NO_CONTEXT)["statusCode"] == 204
    refused = _event("GET", "/v1/transcriptions", key="trk_ffffffff_" + "x" * 43)
    assert api.handle(refused, NO_CONTEXT)["statusCode"] == 401
    audit = [record.__dict__ for record in caplog.records if record.getMessage() == "api_call"]
    assert len(audit) == 2, caplog.text
    deleted, unauthorized = audit
    assert deleted["tenant_id"] == "alice" and deleted["key_id"] == "0123abcd"
    assert deleted["action"] == "DeleteTranscription" and deleted["job_id"] == job_id
    assert deleted["status"] == 204 and deleted["outcome"] == "success"
    assert deleted["request_id"] == "r" and deleted["source_ip"] == "203.0.113.9"
    assert unauthorized["status"] == 401 and unauthorized["outcome"] == "denied"
    assert unauthorized.get("tenant_id") is None and unauthorized["key_id"] == "ffffffff"
    # Never the key itself, nor its secret part, anywhere in what was logged.
    for secret in (KEY, KEY.rsplit("_", 1)[1], "x" * 43):
        assert not any(secret in str(record.__dict__) for record in caplog.records)
