"""The SDK clients the adapters share: one per service and process, built once.

Lambda runs many invocations in one execution environment, so a client outlives the invocation
that made it. The first client in a process costs about 0.2 s (botocore loads its endpoint rules
and service models); handlers call :func:`build_now` at import, in Lambda's init phase, as AWS
advises, so that the first request of a warm environment does not pay for it.

Every client gets :data:`CLIENT_CONFIG`: the standard retry mode (exponential backoff with
jitter and a retry quota, the same rules in every AWS SDK; the legacy default retries fewer
errors) and connect/read timeouts, so a stalled connection fails and is retried within the
function's time instead of holding it until Lambda's timeout.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

#: Seconds to open a connection and to wait for the next bytes of an answer (not the whole
#: transfer: a large S3 download keeps reading within it). 3 attempts in all, as AWS advises.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3},
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
)
#: S3 signs with SigV4 always, presigned URLs included: botocore may otherwise presign with the
#: legacy query signature, which covers no header, so an upload URL could not bind Content-Length.
S3_CONFIG = CLIENT_CONFIG.merge(Config(signature_version="s3v4"))


@cache
def client(service: str) -> Any:
    # boto3 honours AWS_ENDPOINT_URL, which is how the local runtime points handlers at moto.
    return boto3.client(service, config=S3_CONFIG if service == "s3" else CLIENT_CONFIG)


@cache
def resource(service: str) -> Any:
    return boto3.resource(service, config=CLIENT_CONFIG)


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
