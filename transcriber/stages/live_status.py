"""Live job status over a WebSocket: connect, subscribe, disconnect, and push job events.

The same stage runs behind API Gateway's WebSocket API in AWS (functions/live for the routes,
functions/pusher for the job events) and behind ``make serve``'s WebSocket server locally
(localrun/live_server.py), so both speak one protocol:

- connect with the API key as a subprotocol (``["transcriber.v1", "key.<api key>"]``; browsers
  cannot send headers), or as ``?key=<api key>``, or as ``Authorization: Bearer <api key>``;
- send ``{"action": "subscribe", "job_id": "<id>"}`` for one job, or without ``job_id`` for
  every job of the tenant;
- receive job views (what GET returns, without the transcript) on each status or progress change.

A connection belongs to the tenant whose key opened it and only ever sees that tenant's jobs,
and only while that key holds: the connection's record keeps the key's public id, and each push
and each ``subscribe`` checks it first. A revoked key gets no further push: at the next job event
its connection is forgotten and closed, and its ``subscribe`` is refused. A connection recorded
without its key id (opened before records kept it) cannot be checked, so it is treated the same
way: it connects again.
Every ``subscribe`` counts against the tenant's per-minute request limit, as ``$connect`` does,
and a connection follows at most ``MAX_SUBSCRIPTIONS_PER_CONNECTION`` jobs one by one (the
connections table enforces it; the subscription to every job is always allowed), so the channel
costs no more than the HTTP API.

A push is a whole job view (``job_id`` and ``updated_at`` included), read when it is sent: a job
event that is retried may send a connection the same view twice, which a client ignores or
renders again; it never sends an older view after a newer one.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from transcriber.api.audit import key_id_of
from transcriber.api.auth import Authenticator, TenantLookup
from transcriber.api.service import job_view
from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.tenants import (
    AuthenticationError,
    LimitExceededError,
    TooManySubscriptionsError,
    api_key_from_header,
)

logger = Logger(child=True)

SUBPROTOCOL = "transcriber.v1"
KEY_SUBPROTOCOL_PREFIX = "key."
#: API Gateway closes a WebSocket after 2 hours at most; its records expire a little later.
CONNECTION_TTL_S = 2 * 3600 + 600
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class Connections(Protocol):
    """The connections table (``transcriber.adapters.connections_table.ConnectionRepository``)."""

    def add(
        self,
        connection_id: str,
        tenant_id: str,
        *,
        expires_at: int,
        key_id: str,
    ) -> None: ...

    def connection(self, connection_id: str) -> Mapping[str, Any] | None:
        """The connection's record: ``tenant_id`` and ``key_id``."""

    def subscribe(self, connection_id: str, tenant_id: str, job_id: str | None, *, expires_at: int) -> None:
        """Record the subscription; TooManySubscriptionsError when the connection holds the most."""

    def subscribers(self, tenant_id: str, job_id: str) -> set[str]: ...

    def remove(self, connection_id: str) -> None: ...


class Jobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...


class Tenants(Authenticator, Protocol):
    """The tenants table as live status uses it (``TenantRepository``): keys, the request limit,
    and whether a key that opened a connection has been revoked since."""

    def key_revoked(self, tenant_id: str, key_id: str) -> bool: ...


class Push(Protocol):
    """API Gateway's management API (``transcriber.adapters.live_push.ConnectionPoster``)."""

    def __call__(self, connection_id: str, data: bytes) -> bool:
        """Post one message: True when delivered, False when the connection is gone. Raises
        RetryableError when it may succeed later (throttled, 5xx, network) and PermanentError
        when this connection cannot take this message."""

    def close(self, connection_id: str) -> None:
        """Close the connection (a gone one is closed); raises as posting does."""


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


#: Why a connection may no longer be served, as a refused ``subscribe`` tells its client.
REVOKED = "The API key that opened this connection has been revoked; connect again with a valid key."
UNRECORDED = "This connection's credential is not known; connect again."


@dataclass
class Credentials:
    """Whether the credentials that opened connections still hold, for one pusher invocation or
    one ``subscribe``: the key that opened them is not revoked.

    Each key's revocation is read once here and each connection's record once, so a burst of job
    events for the same subscribers costs one read per key and per connection, not one per push.
    Keep an instance no longer than one invocation: a key revoked later is seen by the next."""

    connections: Connections
    tenants: Tenants
    _revoked: dict[tuple[str, str], bool] = field(default_factory=dict)
    _refusals: dict[str, str | None] = field(default_factory=dict)

    def refusal(self, connection: Mapping[str, Any] | None) -> str | None:
        """Why this connection may no longer be served (what its client is told), or None while it
        may. Raises RetryableError when the tenants table cannot answer now."""
        if connection is None:
            return "This connection is unknown; connect again."
        key_id = connection.get("key_id")
        if key_id:
            key = (str(connection.get("tenant_id") or ""), str(key_id))
            if key not in self._revoked:
                self._revoked[key] = self.tenants.key_revoked(*key)
            return REVOKED if self._revoked[key] else None
        # Recorded before connections kept their credential: nothing to check it by, so it is not
        # trusted (such a record lives 2 hours at most: API Gateway closes every socket by then).
        return UNRECORDED

    def refusal_of(self, connection_id: str) -> str | None:
        """``refusal`` of the connection's record, read once per connection."""
        if connection_id not in self._refusals:
            self._refusals[connection_id] = self.refusal(self.connections.connection(connection_id))
        return self._refusals[connection_id]


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
    tenants: Tenants
    #: None for the routes function, which answers its caller; functions/pusher pushes
    push: Push | None = None
    ttl_s: int = CONNECTION_TTL_S
    clock: Callable[[], float] = time.time

    def _expiry(self) -> int:
        return int(self.clock()) + self.ttl_s

    def credentials(self) -> Credentials:
        """A fresh check of connections' credentials: one per pusher invocation."""
        return Credentials(self.connections, self.tenants)

    # Routes -----------------------------------------------------------------------------------

    def connect(
        self, connection_id: str, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> dict[str, Any]:
        """``$connect``: authenticate the key; a non-2xx answer makes API Gateway refuse the socket."""
        try:
            api_key = api_key_of(headers, query)
            tenant = self.tenants.authenticate(api_key)
            self.tenants.count_request(tenant)
        except (AuthenticationError, LimitExceededError) as err:  # a busy table raises on: a 500
            status = 429 if isinstance(err, LimitExceededError) else 401
            return _reply(status, {"error": err.reason_code, "message": err.message})
        # The key's public id, never the key: what each push checks against revocation.
        key_id = key_id_of(f"Bearer {api_key}") or ""  # always set for a key that authenticated
        self.connections.add(connection_id, tenant.tenant_id, expires_at=self._expiry(), key_id=key_id)
        offered = {k.lower(): v for k, v in headers.items()}.get("sec-websocket-protocol", "")
        # A browser that offered subprotocols closes the socket unless the answer picks one of them.
        if SUBPROTOCOL in [p.strip() for p in offered.split(",")]:
            return _reply(200, headers={"Sec-WebSocket-Protocol": SUBPROTOCOL})
        return _reply(200)

    def subscribe(self, connection_id: str, body: str | None) -> dict[str, Any]:
        """``subscribe``: one job of the connection's tenant, or all of them (no ``job_id``),
        refused once the credential that opened the connection no longer holds."""
        opened = self.connections.connection(connection_id)
        if opened is None:
            return _reply(
                403, {"error": "NOT_CONNECTED", "message": "Connect again: this connection is unknown."}
            )
        refusal = self.credentials().refusal(opened)
        if refusal is not None:
            return _reply(403, {"error": "UNAUTHORIZED", "message": refusal})
        tenant_id = str(opened["tenant_id"])
        refused = self._count_request(tenant_id)
        if refused is not None:
            return refused
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
        try:
            self.connections.subscribe(connection_id, tenant_id, job_id, expires_at=self._expiry())
        except TooManySubscriptionsError as err:
            return _reply(400, {"error": err.reason_code, "message": err.message})
        return _reply(200, {"subscribed": job_id or "*"})

    def _count_request(self, tenant_id: str) -> dict[str, Any] | None:
        """Count a message against the tenant's per-minute request limit, as ``$connect`` is
        counted; the refusal to answer with, or None. Needs a tenants port that looks tenants up
        by id (the tenants table does); one that cannot (a test's key map) counts nothing here."""
        if not isinstance(self.tenants, TenantLookup):
            return None
        tenant = self.tenants.tenant(tenant_id)
        if tenant is None:  # the tenant was removed after this connection opened
            return _reply(403, {"error": "UNAUTHORIZED", "message": "The tenant of this connection is gone."})
        try:
            self.tenants.count_request(tenant)
        except LimitExceededError as err:
            return _reply(429, {"error": err.reason_code, "message": err.message})
        return None

    def disconnect(self, connection_id: str) -> dict[str, Any]:
        self.connections.remove(connection_id)
        return _reply(200)

    # Job events -------------------------------------------------------------------------------

    def publish(self, job_id: str, credentials: Credentials | None = None) -> int:
        """Push the job's current view to each of its tenant's subscribers whose credential still
        holds (``credentials``: this invocation's check); returns how many connections received it.

        Each connection is tried whatever the others did: one whose credential no longer holds
        gets nothing and is forgotten and closed, a gone one is forgotten, one that refuses the
        message (PermanentError) is logged and skipped. When some failed in a way that may pass
        (RetryableError, a credential that could not be checked too), this raises RetryableError
        after trying them all, so the job event is delivered again; that resends the (then
        current) view to every subscriber, which is harmless (see the module's docstring) and
        keeps the pusher stateless."""
        push = self.push
        if push is None:
            raise RuntimeError("this LiveStatus has no push port: functions/pusher pushes")
        if credentials is None:
            credentials = self.credentials()
        job = self.jobs.get(job_id) if _JOB_ID.match(job_id) else None
        tenant_id = str(job.get("tenant_id") or "") if job else ""
        if not job or not tenant_id or job.get("status") == "DELETED":
            return 0
        data = encode(job_view(job))
        subscribers = sorted(self.connections.subscribers(tenant_id, job_id))
        delivered, to_retry = 0, []
        for connection_id in subscribers:
            try:
                refusal = credentials.refusal_of(connection_id)
                if refusal is not None:
                    self._shut(connection_id, refusal, push=push)
                elif push(connection_id, data):
                    delivered += 1
                else:
                    self._forget(connection_id)
            except RetryableError as err:
                to_retry.append(connection_id)
                logger.warning(
                    "Live status push (or its credential check) failed; the job event will be retried",
                    extra={"job_id": job_id, "connection_id": connection_id, "error": str(err)},
                )
            except PermanentError as err:
                logger.warning(
                    "Live status push refused; connection skipped",
                    extra={"job_id": job_id, "connection_id": connection_id, "error": str(err)},
                )
        if to_retry:
            raise RetryableError(
                f"Job {job_id}: {len(to_retry)} of {len(subscribers)} connections could not take "
                f"its view now ({', '.join(to_retry[:5])}{', ...' if len(to_retry) > 5 else ''})"
            )
        return delivered

    def _shut(self, connection_id: str, refusal: str, *, push: Push) -> None:
        """Stop a connection whose credential no longer holds: forget its records, then close its
        socket. A socket that would not close gets nothing more either way: this check comes
        first at every push, and its records are gone."""
        logger.info(
            "Live connection closed: its credential no longer holds",
            extra={"connection_id": connection_id, "reason": refusal},
        )
        self._forget(connection_id)
        try:
            push.close(connection_id)
        except (RetryableError, PermanentError) as err:
            logger.warning(
                "Live connection not closed; nothing more is pushed to it",
                extra={"connection_id": connection_id, "error": str(err)},
            )

    def _forget(self, connection_id: str) -> None:
        """Remove a gone connection; if the table is busy, its TTL removes it later, and a push
        meanwhile finds it gone again: no reason to redeliver the job event."""
        try:
            self.connections.remove(connection_id)
        except RetryableError as err:
            logger.warning(
                "Gone connection not removed; its TTL will",
                extra={"connection_id": connection_id, "error": str(err)},
            )
