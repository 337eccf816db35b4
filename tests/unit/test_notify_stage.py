"""The notify stage (transcriber/stages/notify.py) without AWS: fake jobs, tenants, DNS and sender."""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from transcriber.adapters.webhook_sender import Delivered, WebhookRetryableError
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_SOURCE
from transcriber.domain.tenants import Tenant
from transcriber.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    CallbackHostNotFoundError,
    IPAddress,
    verify,
)
from transcriber.stages import notify
from transcriber.stages.notify import DELIVERED, REJECTED, Notifier, OutOfTimeError, QueuedEvent

SECRET = "whsec_" + "ab" * 32
JOB = "a" * 32
URL = "https://hooks.example.com/x"
PUBLIC = [ipaddress.ip_address("93.184.216.34")]


class Jobs:
    def __init__(self, **job: Any) -> None:
        self.job = {"job_id": JOB, "tenant_id": "acme", "status": "COMPLETED", **job}

    def get(self, job_id: str) -> dict[str, Any] | None:
        return dict(self.job) if job_id == JOB else None


class Tenants:
    def tenant(self, tenant_id: str) -> Tenant | None:
        return Tenant(tenant_id, SECRET, 10, 10) if tenant_id == "acme" else None


class Sender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[IPAddress], bytes, dict[str, str]]] = []

    def __call__(
        self,
        url: str,
        addresses: Sequence[IPAddress],
        body: bytes,
        headers: Mapping[str, str],
        *,
        local_mode: bool,
    ) -> Delivered:
        self.sent.append((url, list(addresses), body, dict(headers)))
        return Delivered(status=204, address=str(addresses[0]), elapsed_ms=1)


def public(host: str, port: int) -> list[IPAddress]:
    return list(PUBLIC)


def _event(**detail: Any) -> str:
    return json.dumps(
        {
            "version": "0",
            "id": "evt-1",
            "detail-type": EVENT_JOB_COMPLETED,
            "source": EVENT_SOURCE,
            "account": "123456789012",
            "time": "2026-11-24T12:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"job_id": JOB, "status": "COMPLETED", **detail},
        }
    )


def _stage(sender: Sender, resolve: Any = public, **job: Any) -> Notifier:
    return Notifier(jobs=Jobs(callback_url=URL, **job), tenants=Tenants(), resolve=resolve, send=sender)


def test_an_event_is_signed_and_sent_to_the_checked_addresses() -> None:
    sender, postponed = Sender(), list[int]()
    assert _stage(sender).handle(QueuedEvent(_event(), "m-1", 1), postponed.append) == DELIVERED
    ((url, addresses, body, headers),) = sender.sent
    assert (url, addresses, postponed) == (URL, PUBLIC, [])
    assert verify(SECRET, headers[SIGNATURE_HEADER], body, now=time.time())
    assert (headers[EVENT_HEADER], headers[DELIVERY_HEADER]) == (EVENT_JOB_COMPLETED, "evt-1")
    # Without occurred_at in the detail, the event's own time, exactly as EventBridge wrote it.
    assert json.loads(body)["occurred_at"] == "2026-11-24T12:00:00Z"


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"detail-type": EVENT_JOB_COMPLETED})])
def test_a_message_that_is_not_an_event_is_dropped(body: str) -> None:
    sender, postponed = Sender(), list[int]()
    assert _stage(sender).handle(QueuedEvent(body, "m-1", 1), postponed.append) == REJECTED
    assert sender.sent == [] and postponed == []


def test_out_of_time_hands_the_message_back_untried() -> None:
    sender, postponed = Sender(), list[int]()
    with pytest.raises(OutOfTimeError):
        _stage(sender).handle(QueuedEvent(_event(), "m-1", 1, remaining_ms=1_000), postponed.append)
    assert sender.sent == [] and postponed == [0]


def test_a_host_that_no_longer_resolves_is_retried_after_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(host: str, port: int) -> list[IPAddress]:
        raise CallbackHostNotFoundError("no such host")

    monkeypatch.setattr(notify, "retry_delay_s", lambda attempt: 30 * attempt)
    sender, postponed = Sender(), list[int]()
    with pytest.raises(WebhookRetryableError):
        _stage(sender, resolve=gone).handle(QueuedEvent(_event(), "m-1", 3), postponed.append)
    assert sender.sent == [] and postponed == [90]


def test_a_private_address_is_refused_for_good() -> None:
    sender, postponed = Sender(), list[int]()
    stage = _stage(sender, resolve=lambda host, port: [ipaddress.ip_address("10.0.0.1")])
    assert stage.handle(QueuedEvent(_event(), "m-1", 1), postponed.append) == REJECTED
    assert sender.sent == [] and postponed == []
