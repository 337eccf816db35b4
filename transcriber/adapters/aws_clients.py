"""The SDK clients the adapters share: one per service and process, built once.

Lambda runs many invocations in one execution environment, so a client outlives the invocation
that made it. The first client in a process costs about 0.2 s (botocore loads its endpoint rules
and service models); handlers call :func:`build_now` at import, in Lambda's init phase, as AWS
advises, so that the first request of a warm environment does not pay for it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def client(service: str) -> Any:
    # boto3 honours AWS_ENDPOINT_URL, which is how the local runtime points handlers at moto.
    return boto3.client(service)


@cache
def resource(service: str) -> Any:
    return boto3.resource(service)


def build_now(*, clients: tuple[str, ...] = (), resources: tuple[str, ...] = ()) -> None:
    """Build these clients and resources now (in the init phase) instead of on first use."""
    for service in clients:
        client(service)
    for service in resources:
        resource(service)


def forget() -> None:
    """Drop every cached client, so the next use builds one against the current endpoint (tests)."""
    client.cache_clear()
    resource.cache_clear()
