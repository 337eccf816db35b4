"""JWT checks: what the API accepts beside API keys, and every way a token is refused."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest

from localrun.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from transcriber.adapters.jwt_verifier import JwtSettings, JwtVerifier, jwks_of, looks_like_jwt
from transcriber.domain.tenants import AuthenticationError


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer(tmp_path_factory.mktemp("jwt") / "key.pem")


@pytest.fixture(scope="module")
def verifier(issuer: LocalIssuer) -> JwtVerifier:
    return JwtVerifier(
        JwtSettings(issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE, jwks_json=jwks_of(issuer.jwks()))
    )


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_token_names_its_tenant(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    token = issuer.mint("acme")
    assert looks_like_jwt(token)
    assert verifier.tenant_of(token) == "acme"


def test_an_expired_token_is_refused(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    with pytest.raises(AuthenticationError, match="expired"):
        verifier.tenant_of(issuer.mint("acme", ttl_s=-120))


def test_a_token_for_another_audience_is_refused(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    with pytest.raises(AuthenticationError, match="audience"):
        verifier.tenant_of(issuer.mint("acme", audience="someone-else"))


def test_a_token_from_another_issuer_is_refused(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    with pytest.raises(AuthenticationError, match="issuer"):
        verifier.tenant_of(issuer.mint("acme", issuer="https://evil.example"))


def test_a_token_signed_with_another_key_is_refused(tmp_path: Path, verifier: JwtVerifier) -> None:
    forged = LocalIssuer(tmp_path / "other.pem").mint("acme")  # same kid, different key
    with pytest.raises(AuthenticationError, match="not valid"):
        verifier.tenant_of(forged)


def _claims(now: int) -> dict[str, object]:
    return {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": "x",
        "exp": now + 600,
        "custom:tenant_id": "acme",
    }


def test_alg_none_is_refused(verifier: JwtVerifier) -> None:
    claims = _claims(int(time.time()))
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'local-1'})}.{_b64(claims)}."
    with pytest.raises(AuthenticationError, match="algorithm"):
        verifier.tenant_of(unsigned)


def test_an_hmac_token_is_refused_even_with_the_public_key_as_secret(
    issuer: LocalIssuer, verifier: JwtVerifier
) -> None:
    """The classic key-confusion attack: HS256 'signed' with the issuer's public key."""
    claims = _claims(int(time.time()))
    public_n = issuer.jwks()["keys"][0]["n"]
    forged = jwt.encode(claims, public_n, algorithm="HS256", headers={"kid": "local-1"})
    with pytest.raises(AuthenticationError, match="algorithm"):
        verifier.tenant_of(forged)


def test_a_token_without_the_tenant_claim_is_refused(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    token = issuer.mint("acme", extra={"custom:tenant_id": ""})
    with pytest.raises(AuthenticationError, match="tenant"):
        verifier.tenant_of(token)


@pytest.mark.parametrize("garbage", ["a.b.c", "not-a-token", "...."])
def test_garbage_is_refused_with_a_message(verifier: JwtVerifier, garbage: str) -> None:
    with pytest.raises(AuthenticationError):
        verifier.tenant_of(garbage)


def test_api_keys_are_not_mistaken_for_tokens() -> None:
    assert not looks_like_jwt("trk_0123abcd_" + "x" * 43)
