"""Bearer JWTs beside API keys, through HTTP on the local stack: the stack trusts the local issuer
(localrun/tokens.py, its JWKS inline in the API function's environment), as `make serve` does."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import pytest

from localrun.tokens import KEY_PATH, LOCAL_AUDIENCE, LocalIssuer
from tests.integration.conftest import Api, ApiTenant, HttpResponse


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(KEY_PATH)


@pytest.fixture(scope="module")
def tenant(api: Api) -> ApiTenant:
    return api.tenant(f"jwt-{uuid.uuid4().hex[:6]}")


def _get(api: Api, token: str, path: str = "/v1/tenant") -> HttpResponse:
    return api.http.request("GET", path, key=token)


def _refused(resp: HttpResponse, detail: str) -> None:
    assert resp.status == 401, resp.body
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert detail in resp.json()["detail"]


def test_a_valid_token_is_its_tenant(api: Api, issuer: LocalIssuer, tenant: ApiTenant) -> None:
    token = issuer.mint(tenant.tenant_id)
    settings = _get(api, token)
    assert settings.status == 200, settings.body
    assert settings.json()["tenant_id"] == tenant.tenant_id
    assert int(settings.headers["x-ratelimit-limit"]) == 100_000
    assert int(settings.headers["x-ratelimit-remaining"]) < 100_000
    assert 1 <= int(settings.headers["x-ratelimit-reset"]) <= 60
    assert _get(api, token, "/v1/transcriptions").json()["items"] == []


def test_an_expired_token_is_refused(api: Api, issuer: LocalIssuer, tenant: ApiTenant) -> None:
    _refused(_get(api, issuer.mint(tenant.tenant_id, ttl_s=-120)), "expired")


def test_a_token_for_another_audience_is_refused(api: Api, issuer: LocalIssuer, tenant: ApiTenant) -> None:
    _refused(_get(api, issuer.mint(tenant.tenant_id, audience="another-api")), "another audience")
    assert LOCAL_AUDIENCE != "another-api"


def test_a_token_signed_with_another_key_is_refused(api: Api, tenant: ApiTenant, tmp_path: Path) -> None:
    forged = LocalIssuer(tmp_path / "attacker.pem").mint(tenant.tenant_id)  # same kid, other key
    _refused(_get(api, forged), "not valid")


def test_an_unsigned_token_is_refused(api: Api, issuer: LocalIssuer, tenant: ApiTenant) -> None:
    _, claims, _ = issuer.mint(tenant.tenant_id).split(".")
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT", "kid": "local-1"}).encode())
    _refused(_get(api, f"{header.rstrip(b'=').decode()}.{claims}."), "algorithm is not accepted")


def test_a_token_naming_no_existing_tenant_is_refused(api: Api, issuer: LocalIssuer) -> None:
    _refused(_get(api, issuer.mint(f"ghost-{int(time.time())}")), "does not exist")
