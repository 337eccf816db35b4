"""Driving the HTTP API without API Gateway: the REST proxy event it hands the Lambda, and a fake
tenants port keyed by API key. Shared by the unit and handler tests so each test says only what
differs (method, path, key, body, query)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from transcriber.domain.tenants import AuthenticationError, Tenant


def proxy_event(
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event as Lambda receives it; `key` goes in as a Bearer token."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "requestContext": {"requestId": "r", "stage": "v1", "path": path, "httpMethod": method},
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def tenant(tenant_id: str, *, per_day: int = 99, per_minute: int = 99) -> Tenant:
    """A tenant whose limits do not get in the way unless a test sets them."""
    return Tenant(
        tenant_id=tenant_id, webhook_secret="s", jobs_per_day=per_day, requests_per_minute=per_minute
    )


class KeyedTenants:
    """The tenants port over a fixed key -> tenant map; counts the requests it is asked to count."""

    def __init__(self, tenants: Mapping[str, Tenant]) -> None:
        self.tenants = dict(tenants)
        self.requests = 0

    def authenticate(self, api_key: str) -> Tenant:
        if api_key not in self.tenants:
            raise AuthenticationError("Unknown API key.")
        return self.tenants[api_key]

    def count_request(self, tenant: Tenant) -> None:
        self.requests += 1
