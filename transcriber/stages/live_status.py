"""Live job status over a WebSocket: connect, subscribe, disconnect, and push job events.

The same stage runs behind API Gateway's WebSocket API in AWS (functions/live for the routes,
functions/pusher for the job events) and behind ``make serve``'s WebSocket server locally
(localrun/live_server.py), so both speak one protocol:

- connect with the API key as a subprotocol (``["transcriber.v1", "key.<api key>"]``; browsers
  cannot send headers), or as ``?key=<api key>``, or as ``Authorization: Bearer <api key>``;
- send ``{"action": "subscribe", "job_id": "<id>"}`` for one job, or without ``job_id`` for
  every job of the tenant;
- receive job views (what GET returns, without the transcript) on each status or progress change.

A connection belongs to the tenant whose key opened it and only ever sees that tenant's jobs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from transcriber.api.auth import Authenticator
from transcriber.api.service import job_view
from transcriber.domain.tenants import AuthenticationError, LimitExceededError, api_key_from_header

SUBPROTOCOL = "transcriber.v1"
KEY_SUBPROTOCOL_PREFIX = "key."
#: API Gateway closes a WebSocket after 2 hours at most; its records expire a little later.
CONNECTION_TTL_S = 2 * 3600 + 600
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class Connections(Protocol):
    """The connections table (``transcriber.adapters.connections_table.ConnectionRepository``)."""

    def add(self, connection_id: str, tenant_id: str, *, expires_at: int) -> None: ...

    def tenant_of(self, connection_id: str) -> str | None: ...

    def subscribe(
        self, connection_id: str, tenant_id: str, job_id: str | None, *, expires_at: int
    ) -> None: ...

    def subscribers(self, tenant_id: str, job_id: str) -> set[str]: ...

    def remove(self, connection_id: str) -> None: ...


class Jobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...


#: Post one message to a connection; False when the connection is gone (GoneException).
Push = Callable[[str, bytes], bool]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # DynamoDB numbers
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, default=_json_default, separators=(",", ":")).encode("utf-8")


def api_key_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The API key of a connection request: subprotocol, ``key`` query parameter or Bearer header.

    Raises AuthenticationError (a 401) when there is none or it is malformed."""
    lowered = {k.lower(): v for k, v in headers.items()}
    offered = [p.strip() for p in lowered.get("sec-websocket-protocol", "").split(",")]
    from_protocol = next(
        (p[len(KEY_SUBPROTOCOL_PREFIX) :] for p in offered if p.startswith(KEY_SUBPROTOCOL_PREFIX)), ""
    )
    candidate = from_protocol or query.get("key", "")
    return api_key_from_header(f"Bearer {candidate}" if candidate else lowered.get("authorization"))


def _reply(
    status: int, message: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway WebSocket integration response."""
    response: dict[str, Any] = {"statusCode": status, "body": encode(message or {}).decode()}
    if headers:
        response["headers"] = dict(headers)
    return response


@dataclass(frozen=True)
class LiveStatus:
    connections: Connections
    jobs: Jobs
    tenants: Authenticator
    push: Push
    ttl_s: int = CONNECTION_TTL_S
    clock: Callable[[], float] = time.time

    def _expiry(self) -> int:
        return int(self.clock()) + self.ttl_s

    # Routes -----------------------------------------------------------------------------------

    def connect(
        self, connection_id: str, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> dict[str, Any]:
        """``$connect``: authenticate the key; a non-2xx answer makes API Gateway refuse the socket."""
        try:
            tenant = self.tenants.authenticate(api_key_of(headers, query))
            self.tenants.count_request(tenant)
        except (AuthenticationError, LimitExceededError) as err:  # a busy table raises on: a 500
            status = 429 if isinstance(err, LimitExceededError) else 401
            return _reply(status, {"error": err.reason_code, "message": err.message})
        self.connections.add(connection_id, tenant.tenant_id, expires_at=self._expiry())
        offered = {k.lower(): v for k, v in headers.items()}.get("sec-websocket-protocol", "")
        # A browser that offered subprotocols closes the socket unless the answer picks one of them.
        if SUBPROTOCOL in [p.strip() for p in offered.split(",")]:
            return _reply(200, headers={"Sec-WebSocket-Protocol": SUBPROTOCOL})
        return _reply(200)

    def subscribe(self, connection_id: str, body: str | None) -> dict[str, Any]:
        """``subscribe``: one job of the connection's tenant, or all of them (no ``job_id``)."""
        tenant_id = self.connections.tenant_of(connection_id)
        if tenant_id is None:
            return _reply(
                403, {"error": "NOT_CONNECTED", "message": "Connect again: this connection is unknown."}
            )
        try:
            request = json.loads(body or "{}")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return _reply(
                400,
                {"error": "BAD_MESSAGE", "message": 'Send JSON: {"action": "subscribe", "job_id": "..."}.'},
            )
        job_id = request.get("job_id")
        if job_id is not None:
            job = self.jobs.get(job_id) if isinstance(job_id, str) and _JOB_ID.match(job_id) else None
            if job is None or job.get("tenant_id") != tenant_id or job.get("status") == "DELETED":
                return _reply(
                    404, {"error": "NOT_FOUND", "message": f"No transcription {str(job_id)[:64]!r}."}
                )
        self.connections.subscribe(connection_id, tenant_id, job_id, expires_at=self._expiry())
        return _reply(200, {"subscribed": job_id or "*"})

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        self.connections.remove(connection_id)
        return _reply(200)

    # Job events -------------------------------------------------------------------------------

    def publish(self, job_id: str) -> int:
        """Push the job's current view to its tenant's subscribers; drop the gone ones. Returns
        how many connections received it."""
        job = self.jobs.get(job_id) if _JOB_ID.match(job_id) else None
        tenant_id = str(job.get("tenant_id") or "") if job else ""
        if not job or not tenant_id or job.get("status") == "DELETED":
            return 0
        data = encode(job_view(job))
        delivered = 0
        for connection_id in sorted(self.connections.subscribers(tenant_id, job_id)):
            if self.push(connection_id, data):
                delivered += 1
            else:
                self.connections.remove(connection_id)
        return delivered
