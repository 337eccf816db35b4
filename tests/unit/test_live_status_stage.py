"""The live-status stage without AWS: who may connect, what a subscription covers, what is pushed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api_requests import KeyedTenants, tenant
from transcriber.domain.tenants import AuthenticationError
from transcriber.stages.live_status import SUBPROTOCOL, LiveStatus, api_key_of

ACME_KEY, GLOBEX_KEY, WRONG_KEY = (f"trk_0000000{c}_" + c.upper() * 43 for c in "abc")
KEYS = {
    ACME_KEY: tenant("acme", per_day=9, per_minute=9),
    GLOBEX_KEY: tenant("globex", per_day=9, per_minute=9),
}
JOB, OTHER_JOB = "a" * 32, "b" * 32


class FakeConnections:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], str] = {}

    def add(self, connection_id: str, tenant_id: str, *, expires_at: int) -> None:
        self.items[(connection_id, "connection")] = tenant_id

    def tenant_of(self, connection_id: str) -> str | None:
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


@pytest.fixture
def live() -> tuple[LiveStatus, FakeConnections, dict[str, list[dict[str, Any]]]]:
    inbox: dict[str, list[dict[str, Any]]] = {}

    def push(connection_id: str, data: bytes) -> bool:
        if connection_id == "gone":
            return False
        inbox.setdefault(connection_id, []).append(json.loads(data))
        return True

    connections = FakeConnections()
    return LiveStatus(connections, FakeJobs(), KeyedTenants(KEYS), push), connections, inbox


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
    assert refused["statusCode"] == 401 and connections.tenant_of("c1") is None
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
