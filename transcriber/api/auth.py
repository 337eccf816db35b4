"""Who is calling: an API key (hashed lookup in the tenants table) or, where the environment trusts
an issuer, a bearer JWT (transcriber/adapters/jwt_verifier.py) whose tenant exists in the table.

Both end the same way: one tenant, counted against the same per-minute limit. A JWT naming a tenant
that does not exist is refused like an unknown key: a valid signature is not enough.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from transcriber.adapters.jwt_verifier import JwtVerifier, looks_like_jwt
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.tenants import AuthenticationError, Tenant, api_key_from_header


class Authenticator(Protocol):
    """The tenants table as authentication uses it (``TenantRepository``)."""

    def authenticate(self, api_key: str) -> Tenant: ...

    def count_request(self, tenant: Tenant) -> RateLimitStatus | None: ...


@runtime_checkable
class TenantLookup(Protocol):
    def tenant(self, tenant_id: str) -> Tenant | None: ...


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError("Send your API key or token as 'Authorization: Bearer <key>'.")
    scheme, _, credential = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise AuthenticationError("Use the Bearer scheme: 'Authorization: Bearer <key or token>'.")
    return credential.strip()


def tenant_of_request(
    authorization: str | None, tenants: Authenticator, tokens: JwtVerifier | None
) -> Tenant:
    """The tenant of an API key, or of a valid JWT when ``tokens`` is configured."""
    if tokens is not None:
        credential = _bearer(authorization)
        if looks_like_jwt(credential):
            tenant_id = tokens.tenant_of(credential)
            tenant = tenants.tenant(tenant_id) if isinstance(tenants, TenantLookup) else None
            if tenant is None:
                raise AuthenticationError("The token names a tenant that does not exist.")
            return tenant
    return tenants.authenticate(api_key_from_header(authorization))
