"""Bearer JWTs from an OIDC issuer (Cognito in AWS, a local signing key in the local stack).

The checks are PyJWT's, not ours: the signature against the issuer's JWKS (the key chosen by the
token's ``kid``), ``iss``, ``aud``, ``exp``/``nbf`` with a small leeway, and an allow-list of
asymmetric algorithms, so a token signed with ``alg: none`` or an HMAC secret is refused before
any key is looked at. The tenant comes from one configured claim; a token without it names no
tenant and is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jwt

from transcriber.domain.errors import RetryableError
from transcriber.domain.tenants import AuthenticationError

#: Asymmetric algorithms only: Cognito signs with RS256; ``none`` and HS* are never accepted.
ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384")
#: Clock skew tolerated between the issuer and this function, in seconds.
LEEWAY_S = 30
#: A JWT has three dot-separated parts; an API key (trk_...) has none.
JWT_PARTS = 3


class IssuerUnavailableError(RetryableError):
    """The issuer's key set could not be fetched: not the caller's fault, and the same token may
    pass in a moment, so the API answers 503 (transcriber/api/problems.py), not 401."""

    reason_code = "ISSUER_UNAVAILABLE"


def looks_like_jwt(credential: str) -> bool:
    """Whether a Bearer credential is a JWT (three base64url parts) rather than an API key."""
    return credential.count(".") == JWT_PARTS - 1 and not credential.startswith("trk_")


@dataclass(frozen=True)
class JwtSettings:
    """Which issuer the API trusts, for which audience, and which claim names the tenant.

    ``jwks_url`` is the issuer's key set (Cognito: ``<issuer>/.well-known/jwks.json``);
    ``jwks_json`` gives the key set inline instead (the local stack's signing key).
    """

    issuer: str
    audience: str
    tenant_claim: str = "custom:tenant_id"
    jwks_url: str = ""
    jwks_json: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and (self.jwks_url or self.jwks_json))


class JwtVerifier:
    """Verifies a token and returns the tenant id its configured claim names."""

    def __init__(self, settings: JwtSettings) -> None:
        self._settings = settings

    @cached_property
    def _jwks_client(self) -> jwt.PyJWKClient:
        # Keys are cached for the life of the execution environment; an unknown kid refetches.
        return jwt.PyJWKClient(self._settings.jwks_url, cache_keys=True, lifespan=3600, timeout=5)

    @cached_property
    def _inline_keys(self) -> Mapping[str, jwt.PyJWK]:
        key_set = jwt.PyJWKSet.from_json(self._settings.jwks_json)
        return {str(key.key_id): key for key in key_set.keys}

    def _signing_key(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("The bearer token is not a well-formed JWT.") from None
        if header.get("alg") not in ALLOWED_ALGORITHMS:
            raise AuthenticationError(
                f"The token's algorithm is not accepted; use one of {', '.join(ALLOWED_ALGORITHMS)}."
            )
        if self._settings.jwks_json:
            key = self._inline_keys.get(str(header.get("kid")))
            if key is None:
                raise AuthenticationError("The token was signed with a key this API does not trust.")
            return key.key
        try:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as err:
            raise IssuerUnavailableError(
                "The token issuer's signing keys could not be fetched; try again in a moment."
            ) from err
        except jwt.PyJWTError:
            raise AuthenticationError("The token was signed with a key this API does not trust.") from None

    def tenant_of(self, token: str) -> str:
        """The tenant id of a valid token; :class:`AuthenticationError` with the reason otherwise."""
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError("The token has expired; sign in again.") from None
        except jwt.InvalidAudienceError:
            raise AuthenticationError("The token was issued for another audience.") from None
        except jwt.InvalidIssuerError:
            raise AuthenticationError("The token was issued by an issuer this API does not trust.") from None
        except jwt.PyJWTError as err:
            raise AuthenticationError(f"The token is not valid: {err}.") from None
        tenant_id = claims.get(self._settings.tenant_claim)
        if not isinstance(tenant_id, str) or not tenant_id:
            raise AuthenticationError(
                f"The token has no {self._settings.tenant_claim!r} claim naming a tenant."
            )
        return tenant_id


def jwks_of(public_jwks: Mapping[str, Any]) -> str:
    """The JSON text of a key set, as ``JwtSettings.jwks_json`` takes it."""
    return json.dumps(public_jwks, separators=(",", ":"))
