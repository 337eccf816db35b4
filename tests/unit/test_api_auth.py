"""Authentication of the HTTP API beside API keys: bearer JWTs (where an issuer is trusted) map to
existing tenants, share the tenants' rate limits and get the X-RateLimit-* headers; GET /v1/tenant
shows the caller's own settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localrun.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from tests.unit.test_api_routes import ALICE, KEY, NO_CONTEXT, NoService, _event
from transcriber.adapters.jwt_verifier import JwtSettings, JwtVerifier, jwks_of
from transcriber.api.http_api import HttpApi
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.retention import Retention
from transcriber.domain.tenants import AuthenticationError, LimitExceededError, Tenant


class Tenants:
    """Keys and tenants in memory, with a per-minute counter like the tenants table's."""

    def __init__(self, tenants: dict[str, Tenant]) -> None:
        self.tenants = tenants
        self.used: dict[str, int] = {}

    def authenticate(self, api_key: str) -> Tenant:
        if api_key != KEY:
            raise AuthenticationError("Unknown API key.")
        return ALICE

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id)

    def count_request(self, tenant: Tenant) -> RateLimitStatus:
        used = self.used[tenant.tenant_id] = self.used.get(tenant.tenant_id, 0) + 1
        status = RateLimitStatus(
            limit=tenant.requests_per_minute, remaining=tenant.requests_per_minute - used, reset_s=42
        )
        if used > tenant.requests_per_minute:
            error = LimitExceededError("slow down", retry_after_s=42)
            error.rate_limit = RateLimitStatus(limit=tenant.requests_per_minute, remaining=0, reset_s=42)
            raise error
        return status


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("jwt") / "key.pem")


@pytest.fixture
def tenants() -> Tenants:
    alice = Tenant(
        tenant_id="alice",
        webhook_secret="whsec_secret",
        jobs_per_day=10,
        requests_per_minute=3,
        retention=Retention(audio_days=0, transcript_days=30),
    )
    return Tenants({"alice": alice})


@pytest.fixture
def api(issuer: LocalIssuer, tenants: Tenants) -> HttpApi:
    settings = JwtSettings(issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE, jwks_json=jwks_of(issuer.jwks()))
    return HttpApi(service=NoService(), tenants=tenants, tokens=JwtVerifier(settings))


def _call(api: HttpApi, credential: str, path: str = "/v1/tenant") -> dict[str, Any]:
    event = _event("GET", path, key=None)
    event["headers"]["Authorization"] = f"Bearer {credential}"
    return api.handle(event, NO_CONTEXT)


def _header(answer: dict[str, Any], name: str) -> str:
    if name in (answer.get("headers") or {}):
        return str(answer["headers"][name])
    return str(answer["multiValueHeaders"][name][0])


def test_a_valid_token_of_an_existing_tenant_shows_its_settings(api: HttpApi, issuer: LocalIssuer) -> None:
    answer = _call(api, issuer.mint("alice"))
    assert answer["statusCode"] == 200, answer["body"]
    settings = json.loads(answer["body"])
    assert settings == {
        "tenant_id": "alice",
        "jobs_per_day": 10,
        "requests_per_minute": 3,
        "retention": {"audio": "after-transcript", "transcripts": "30 days"},
    }
    assert "whsec" not in answer["body"]
    assert [_header(answer, f"X-RateLimit-{h}") for h in ("Limit", "Remaining", "Reset")] == ["3", "2", "42"]


def test_a_token_of_a_tenant_that_does_not_exist_is_refused(api: HttpApi, issuer: LocalIssuer) -> None:
    answer = _call(api, issuer.mint("mallory"))
    assert answer["statusCode"] == 401
    assert "does not exist" in json.loads(answer["body"])["detail"]


def test_tokens_and_keys_share_the_tenant_rate_limit(api: HttpApi, issuer: LocalIssuer) -> None:
    token = issuer.mint("alice")
    assert [_call(api, token)["statusCode"] for _ in range(3)] == [200, 200, 200]
    refused = _call(api, token)
    assert refused["statusCode"] == 429
    assert _header(refused, "X-RateLimit-Remaining") == "0" and _header(refused, "Retry-After") == "42"


def test_an_api_key_still_works_beside_tokens(api: HttpApi) -> None:
    answer = _call(api, KEY)
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["tenant_id"] == "alice"


def test_without_a_trusted_issuer_a_token_is_refused(tenants: Tenants, issuer: LocalIssuer) -> None:
    answer = _call(HttpApi(service=NoService(), tenants=tenants), issuer.mint("alice"))
    assert answer["statusCode"] == 401


def test_a_token_from_another_key_is_refused(api: HttpApi, tmp_path: Path) -> None:
    answer = _call(api, LocalIssuer(tmp_path / "other.pem").mint("alice"))
    assert answer["statusCode"] == 401
