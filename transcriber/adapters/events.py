"""Job events on the EventBridge bus: the contract downstream systems subscribe to."""

from __future__ import annotations

import json
from typing import Any

from transcriber.adapters import aws_clients
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.errors import RetryableError
from transcriber.domain.jobs import EVENT_SOURCE, utc_now
from transcriber.domain.messages import JobEvent


class EventPublisher:
    def __init__(self, bus_name: str, client: Any | None = None, source: str = EVENT_SOURCE) -> None:
        self._bus_name = bus_name
        self._client = client or aws_clients.client("events")
        self._source = source

    def emit(self, event: JobEvent) -> None:
        """Put one job event (transcriber.domain.messages) on the bus."""
        self.publish(event.detail_type, event.to_wire())

    @translate_client_errors
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one event on the bus; every detail carries ``occurred_at`` (UTC, ISO 8601).

        The envelope's ``time`` has only whole seconds, too coarse to order a job's progress events.
        """
        detail = {"occurred_at": utc_now(), **detail}
        resp = self._client.put_events(
            Entries=[
                {
                    "EventBusName": self._bus_name,
                    "Source": self._source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, default=str),
                }
            ]
        )
        if resp.get("FailedEntryCount"):
            raise RetryableError(f"EventBridge rejected {detail_type!r}: {resp.get('Entries')}")
