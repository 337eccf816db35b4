"""The live-status stage without AWS: who may connect, what a subscription covers, what is pushed,
and that a connection whose key was revoked since it opened gets nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api_requests import KeyedTenants, tenant
from transcriber.domain.errors import RetryableError
from transcriber.domain.tenants import AuthenticationError, hash_api_key
from transcriber.stages.live_status import SUBPROTOCOL, LiveStatus, api_key_of

ACME_KEY, GLOBEX_KEY, WRONG_KEY, ACME_OTHER_KEY = (f"trk_0000000{c}_" + c.upper() * 43 for c in "abcd")
KEYS = {
    ACME_KEY: tenant("acme", per_day=9, per_minute=9),
    GLOBEX_KEY: tenant("globex", per_day=9, per_minute=9),
    ACME_OTHER_KEY: tenant("acme", per_day=9, per_minute=9),
}
JOB, OTHER_JOB = "a" * 32, "b" * 32
NOW = 1_750_000_000


class FakeTenants(KeyedTenants):
    """The key map, plus revocation by (tenant, key id) as the tenants table answers it."""

    def __init__(self) -> None:
        super().__init__(KEYS)
        self.revoked: set[tuple[str, str]] = set()
        self.revocation_reads: list[tuple[str, str]] = []
        self.busy_keys: set[str] = set()  # key ids whose revocation cannot be read now

    def key_revoked(self, tenant_id: str, key_id: str) -> bool:
        if key_id in self.busy_keys:
            raise RetryableError("the tenants table is busy")
        self.revocation_reads.append((tenant_id, key_id))
        return (tenant_id, key_id) in self.revoked


class FakeConnections:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def add(
        self,
        connection_id: str,
        tenant_id: str,
        *,
        expires_at: int,
        key_id: str | None = None,  # None: a record written before connections kept their key
    ) -> None:
        self.items[(connection_id, "connection")] = tenant_id
        record = {"tenant_id": tenant_id, "key_id": key_id}
        self.records[connection_id] = {k: v for k, v in record.items() if v is not None}

    def connection(self, connection_id: str) -> dict[str, Any] | None:
        return self.records.get(connection_id) if (connection_id, "connection") in self.items else None

    def tenant_of(self, connection_id: str) -> str | None:
        """The tenant a connection is recorded for (the tests' shorthand)."""
        return self.items.get((connection_id, "connection"))

    def subscribe(self, connection_id: str, tenant_id: str, job_id: str | None, *, expires_at: int) -> None:
        self.items[(connection_id, f"job#{job_id}" if job_id else "tenant")] = tenant_id

    def subscribers(self, tenant_id: str, job_id: str) -> set[str]:
        return {
            c
            for (c, t), tenant in self.items.items()
            if tenant == tenant_id and t in ("tenant", f"job#{job_id}")
        }

    def remove(self, connection_id: str) -> None:
        self.items = {k: v for k, v in self.items.items() if k[0] != connection_id}
        self.records.pop(connection_id, None)


class FakeJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {
            JOB: {
                "job_id": JOB,
                "tenant_id": "acme",
                "status": "PROCESSING",
                "progress": 40,
                "key": "k/a.flac",
            },
            OTHER_JOB: {"job_id": OTHER_JOB, "tenant_id": "globex", "status": "PENDING", "key": "k/b.flac"},
        }

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get(job_id)


class FakePush:
    """The management API: delivers into ``inbox``, closes into ``closed``."""

    def __init__(self, inbox: dict[str, list[dict[str, Any]]]) -> None:
        self.inbox = inbox
        self.closed: list[str] = []
        self.refuse_close = False

    def __call__(self, connection_id: str, data: bytes) -> bool:
        if connection_id == "gone":
            return False
        self.inbox.setdefault(connection_id, []).append(json.loads(data))
        return True

    def close(self, connection_id: str) -> None:
        if self.refuse_close:
            raise RetryableError("the management API is busy")
        self.closed.append(connection_id)


@pytest.fixture
def live() -> tuple[LiveStatus, FakeConnections, dict[str, list[dict[str, Any]]]]:
    inbox: dict[str, list[dict[str, Any]]] = {}
    connections = FakeConnections()
    stage = LiveStatus(connections, FakeJobs(), FakeTenants(), FakePush(inbox), clock=lambda: NOW)
    return stage, connections, inbox


def ports(stage: LiveStatus) -> tuple[FakeTenants, FakePush]:
    assert isinstance(stage.tenants, FakeTenants) and isinstance(stage.push, FakePush)
    return stage.tenants, stage.push


def subscribe(stage: LiveStatus, connection_id: str, job_id: str | None = None) -> dict[str, Any]:
    return stage.subscribe(connection_id, json.dumps({"action": "subscribe", "job_id": job_id}))


def test_the_key_comes_as_subprotocol_query_or_header() -> None:
    key = ACME_KEY
    assert api_key_of({"Sec-WebSocket-Protocol": f"{SUBPROTOCOL}, key.{key}"}, {}) == key
    assert api_key_of({}, {"key": key}) == key
    assert api_key_of({"authorization": f"Bearer {key}"}, {}) == key
    with pytest.raises(AuthenticationError):
        api_key_of({"Sec-WebSocket-Protocol": SUBPROTOCOL}, {})


def test_connect_refuses_a_wrong_key_and_picks_the_subprotocol(live: Any) -> None:
    stage, connections, _ = live
    refused = stage.connect(
        "c1",
        {"Sec-WebSocket-Protocol": f"{SUBPROTOCOL}, key.{WRONG_KEY}"},
        {},
    )
    assert refused["statusCode"] == 401 and connections.connection("c1") is None
    accepted = stage.connect(
        "c1",
        {"Sec-WebSocket-Protocol": f"{SUBPROTOCOL}, key.{ACME_KEY}"},
        {},
    )
    assert accepted["statusCode"] == 200 and accepted["headers"]["Sec-WebSocket-Protocol"] == SUBPROTOCOL
    assert connections.tenant_of("c1") == "acme"


def test_pushes_reach_only_the_jobs_tenant_and_gone_connections_are_dropped(live: Any) -> None:
    stage, connections, inbox = live
    stage.connect("mine", {}, {"key": ACME_KEY})
    stage.connect("theirs", {}, {"key": GLOBEX_KEY})
    stage.connect("gone", {}, {"key": ACME_KEY})
    assert stage.subscribe("mine", json.dumps({"action": "subscribe", "job_id": JOB}))["statusCode"] == 200
    assert stage.subscribe("theirs", json.dumps({"action": "subscribe"}))["statusCode"] == 200
    stage.subscribe("gone", json.dumps({"action": "subscribe"}))
    # Subscribing to another tenant's job is the same "not found" as an unknown one.
    assert stage.subscribe("theirs", json.dumps({"action": "subscribe", "job_id": JOB}))["statusCode"] == 404
    assert stage.subscribe("mine", "not json")["statusCode"] == 400

    assert stage.publish(JOB) == 1
    assert inbox == {"mine": [inbox["mine"][0]]}
    view = inbox["mine"][0]
    assert (view["job_id"], view["status"], view["progress"]) == (JOB, "PROCESSING", 40)
    assert "transcript" not in view
    assert connections.tenant_of("gone") is None  # dropped on GoneException
    assert stage.publish(OTHER_JOB) == 1 and "mine" not in {c for c in inbox if OTHER_JOB in str(inbox[c])}
    stage.disconnect("mine")
    assert stage.publish(JOB) == 0


def test_connect_records_the_keys_public_id_never_the_key_or_its_hash(live: Any) -> None:
    stage, connections, _ = live
    assert stage.connect("c1", {"authorization": f"Bearer {ACME_KEY}"}, {})["statusCode"] == 200

    assert connections.connection("c1") == {"tenant_id": "acme", "key_id": "0000000a"}
    assert ACME_KEY not in str(connections.records) and hash_api_key(ACME_KEY) not in str(connections.records)


def test_a_revoked_key_gets_no_push_and_its_connection_is_forgotten_and_closed(live: Any) -> None:
    stage, connections, inbox = live
    tenants, push = ports(stage)
    for connection_id, key in (("revoked", ACME_KEY), ("kept", ACME_OTHER_KEY)):
        stage.connect(connection_id, {}, {"key": key})
        assert subscribe(stage, connection_id)["statusCode"] == 200
    assert stage.publish(JOB) == 2

    tenants.revoked.add(("acme", "0000000a"))
    assert stage.publish(JOB) == 1

    assert len(inbox["revoked"]) == 1 and len(inbox["kept"]) == 2  # the second view went to "kept" only
    assert push.closed == ["revoked"]
    assert connections.connection("revoked") is None and connections.subscribers("acme", JOB) == {"kept"}


def test_a_burst_of_events_reads_each_key_once_per_invocation(live: Any) -> None:
    stage, _, inbox = live
    tenants, _ = ports(stage)
    for n in range(3):
        stage.connect(f"c{n}", {}, {"key": ACME_KEY})
        subscribe(stage, f"c{n}")
    stage.connect("other", {}, {"key": ACME_OTHER_KEY})
    subscribe(stage, "other")
    tenants.revocation_reads.clear()

    credentials = stage.credentials()  # one pusher invocation
    for _ in range(5):
        assert stage.publish(JOB, credentials) == 4

    assert sorted(tenants.revocation_reads) == [("acme", "0000000a"), ("acme", "0000000d")]
    assert all(len(inbox[c]) == 5 for c in ("c0", "c1", "c2", "other"))
    stage.publish(JOB)  # the next invocation reads again: a key revoked meanwhile is seen
    assert len(tenants.revocation_reads) == 4


def test_a_connection_recorded_without_its_credential_is_not_trusted(live: Any) -> None:
    """Records written before connections kept their credential: nothing to check them by, and
    they live 2 hours at most; the client connects again and is checked then."""
    stage, connections, inbox = live
    _, push = ports(stage)
    connections.add("legacy", "acme", expires_at=NOW + 7200)
    connections.subscribe("legacy", "acme", None, expires_at=NOW + 7200)

    refused = subscribe(stage, "legacy", JOB)
    assert stage.publish(JOB) == 0

    assert refused["statusCode"] == 403 and json.loads(refused["body"])["error"] == "UNAUTHORIZED"
    assert inbox == {} and push.closed == ["legacy"] and connections.connection("legacy") is None


def test_subscribe_is_refused_once_the_key_is_revoked(live: Any) -> None:
    stage, connections, _ = live
    tenants, _ = ports(stage)
    stage.connect("c1", {}, {"key": ACME_KEY})
    tenants.revoked.add(("acme", "0000000a"))
    counted = tenants.requests

    refused = subscribe(stage, "c1", JOB)
    body = json.loads(refused["body"])
    assert refused["statusCode"] == 403 and body["error"] == "UNAUTHORIZED", body
    assert "connect again" in body["message"]
    assert connections.subscribers("acme", JOB) == set()
    assert "revoked" in json.loads(subscribe(stage, "c1")["body"])["message"]
    assert tenants.requests == counted  # refused before counting against the request limit
    # Another key of the same tenant is not affected.
    stage.connect("c2", {}, {"key": ACME_OTHER_KEY})
    assert subscribe(stage, "c2", JOB)["statusCode"] == 200


def test_a_key_that_cannot_be_checked_now_is_not_pushed_to_and_the_event_is_retried(live: Any) -> None:
    stage, connections, inbox = live
    tenants, push = ports(stage)
    stage.connect("keyed", {}, {"key": ACME_KEY})
    subscribe(stage, "keyed")
    stage.connect("other", {}, {"key": ACME_OTHER_KEY})
    subscribe(stage, "other")
    tenants.busy_keys.add("0000000a")

    with pytest.raises(RetryableError, match="1 of 2 connections"):
        stage.publish(JOB)

    assert list(inbox) == ["other"]  # the other key's connection still got its view
    assert push.closed == [] and connections.connection("keyed") is not None  # kept for the retry


def test_a_connection_that_will_not_close_is_still_forgotten_and_gets_nothing(live: Any) -> None:
    stage, connections, inbox = live
    tenants, push = ports(stage)
    stage.connect("c1", {}, {"key": ACME_KEY})
    subscribe(stage, "c1")
    tenants.revoked.add(("acme", "0000000a"))
    push.refuse_close = True

    assert stage.publish(JOB) == 0  # no retry: nothing is pushed to it either way

    assert inbox == {} and connections.connection("c1") is None
