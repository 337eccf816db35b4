"""Live status over the local WebSocket server (``make serve``'s), from the deployed functions:
a subscriber gets its tenant's job changes pushed and nothing of another tenant's, and nothing
more once its key is revoked; and the audio endpoint hands the owner, and only the owner, the
original recording."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from localrun.live_server import LiveServer
from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, ApiTenant
from tests.integration.test_webapp import SAMPLE, _first_seconds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(pipeline: LocalPipeline, api: Api) -> Iterator[LiveServer]:
    server = LiveServer(pipeline)
    server.start()
    yield server
    server.stop()


class Subscriber:
    """A WebSocket client that records every pushed message on a thread."""

    def __init__(self, url: str, key: str, job_id: str | None = None) -> None:
        self.socket: ClientConnection = connect(url, subprotocols=["transcriber.v1", f"key.{key}"])  # type: ignore[list-item]
        self.socket.send(json.dumps({"action": "subscribe", **({"job_id": job_id} if job_id else {})}))
        self.reply = json.loads(self.socket.recv(timeout=30))
        self.messages: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for message in self.socket:
            self.messages.append(json.loads(message))

    def close(self) -> None:
        self.socket.close()
        self._thread.join(timeout=10)

    def closed_by_server(self, timeout: float) -> bool:
        """Whether the server closed the socket (the reading loop ended) within ``timeout``."""
        self._thread.join(timeout=timeout)
        return not self._thread.is_alive() and self.socket.close_code is not None


def _create(api: Api, tenant: ApiTenant, audio: bytes, name: str) -> str:
    body = {"filename": name, "content_base64": base64.b64encode(audio).decode()}
    created = api.http.request("POST", "/v1/transcriptions", key=tenant.key, json_body=body)
    assert created.status == 201, created.body
    return str(created.json()["job_id"])


def test_a_subscriber_gets_its_tenants_job_changes_and_nothing_of_another_tenants(
    api: Api, live: LiveServer
) -> None:
    stamp = int(time.time() * 1000) % 10**8
    alice, bob = api.tenant(f"alice-live-{stamp}"), api.tenant(f"bob-live-{stamp}")
    document = api.http.request("GET", "/v1/openapi.json").json()
    assert document["x-live-status-url"] == live.url

    with pytest.raises(InvalidStatus) as refused:
        connect(live.url, subprotocols=["transcriber.v1", "key.trk_00000000_" + "x" * 43])  # type: ignore[list-item]
    assert refused.value.response.status_code == 401

    alice_all, bob_all = Subscriber(live.url, alice.key), Subscriber(live.url, bob.key)
    assert alice_all.reply == {"subscribed": "*"} and bob_all.reply == {"subscribed": "*"}
    clip = _first_seconds(SAMPLE, 4)
    job_id = _create(api, alice, clip, "clip.flac")
    # Another tenant may not subscribe to it: the same "not found" as an unknown job.
    bob_one = Subscriber(live.url, bob.key, job_id)
    assert bob_one.reply["error"] == "NOT_FOUND"

    deadline = time.monotonic() + 120
    while not any(m.get("status") == "COMPLETED" for m in alice_all.messages):
        assert time.monotonic() < deadline, alice_all.messages
        time.sleep(0.1)
    statuses = [m["status"] for m in alice_all.messages if m["job_id"] == job_id]
    assert statuses[0] == "PENDING" and "PROCESSING" in statuses and statuses[-1] == "COMPLETED", statuses
    done = next(m for m in alice_all.messages if m["status"] == "COMPLETED")
    assert done["progress"] == 100 and done["language"] == "en" and done["duration"] > 3
    assert "transcript" not in done and done["filename"] == "clip.flac"
    time.sleep(1)  # anything misrouted would have arrived by now
    assert bob_all.messages == [] and bob_one.messages == []
    for subscriber in (alice_all, bob_all, bob_one):
        subscriber.close()

    # The audio endpoint: the owner gets the recording, another tenant a 404.
    answer = api.http.request("GET", f"/v1/transcriptions/{job_id}/audio", key=alice.key)
    assert answer.status == 200 and answer.json()["expires_in"] > 0
    with urllib.request.urlopen(answer.json()["url"], timeout=30) as resp:
        assert resp.read() == clip
    assert api.http.request("GET", f"/v1/transcriptions/{job_id}/audio", key=bob.key).status == 404


def test_the_python_sdk_waits_on_pushes(api: Api, live: LiveServer) -> None:
    from client import Client

    tenant = api.tenant(f"sdk-live-{int(time.time() * 1000) % 10**8}")
    sdk = Client(api.server.base_url, tenant.key)
    assert sdk.live_status_url() == live.url
    job_id = _create(api, tenant, _first_seconds(SAMPLE, 3), "short.flac")
    before, seen = live.delivered, []
    job = sdk.wait(job_id, poll_s=30, timeout_s=120, on_progress=lambda j: seen.append(j.status))
    assert job.status == "COMPLETED" and job.transcript is not None
    # Pushed, not polled: the 30 s poll interval never came round, and the socket delivered.
    assert live.delivered > before and seen[-1] == "COMPLETED"


def test_once_its_key_is_revoked_a_subscriber_gets_no_further_push_and_its_socket_closes(
    api: Api, live: LiveServer
) -> None:
    tenant = api.tenant(f"revoked-live-{int(time.time() * 1000) % 10**8}")
    other_key, _, _ = api.tenants.create_key(tenant.tenant_id)
    revoked, kept = Subscriber(live.url, tenant.key), Subscriber(live.url, other_key)
    assert revoked.reply == kept.reply == {"subscribed": "*"}
    api.tenants.revoke_key(tenant.key.split("_")[1])  # what `transcriber keys revoke <id>` does

    by_other_key = ApiTenant(tenant.tenant_id, other_key, tenant.webhook_secret)
    job_id = _create(api, by_other_key, _first_seconds(SAMPLE, 2), "r.flac")

    deadline = time.monotonic() + 120
    while not any(m.get("job_id") == job_id for m in kept.messages):  # the other key still gets it
        assert time.monotonic() < deadline, kept.messages
        time.sleep(0.1)
    assert revoked.closed_by_server(timeout=30)  # by the pusher, at that first event
    assert revoked.messages == []
    kept.close()
