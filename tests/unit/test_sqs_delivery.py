"""The local SQS-to-Lambda delivery: apart from the sender, retried, and quiet once shut down."""

from __future__ import annotations

import threading
from typing import Any, cast

import pytest
from moto.awslambda.models import LambdaBackend

from localrun import sqs_delivery
from localrun.sqs_delivery import AsyncQueueDeliveries

#: The consumer below never looks at the backend it is handed.
BACKEND = cast(LambdaBackend, None)


class Consumer:
    """Stands in for moto's delivery to the function: fails ``failures`` times, then takes the batch."""

    def __init__(self, failures: int = 0, gate: threading.Event | None = None) -> None:
        self.failures = failures
        self.gate = gate
        self.calls: list[list[Any]] = []
        self.delivered = threading.Event()

    def __call__(self, backend: Any, function_arn: str, messages: list[Any], queue_arn: str) -> bool:
        if self.gate is not None:
            self.gate.wait(5)
        self.calls.append(messages)
        if len(self.calls) <= self.failures:
            return False
        self.delivered.set()
        return True


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sqs_delivery, "_redrive", lambda backend, queue_arn: (3, None))
    monkeypatch.setattr(sqs_delivery, "RETRY_DELAY_S", 0.01)
    original = LambdaBackend.send_sqs_batch
    made = AsyncQueueDeliveries(max_workers=2)
    made.install()
    yield made
    made.uninstall()
    assert LambdaBackend.send_sqs_batch is original


def test_a_batch_is_taken_at_once_and_delivered_apart_after_a_failure(
    deliveries: AsyncQueueDeliveries,
) -> None:
    consumer = Consumer(failures=1)
    deliveries._send = consumer
    assert LambdaBackend.send_sqs_batch(BACKEND, "fn", ["m1", "m2"], "arn:q") is True  # the sender goes on
    assert consumer.delivered.wait(5)
    assert consumer.calls == [["m1", "m2"], ["m1", "m2"]]
    assert deliveries.retried == 1 and deliveries.dead_lettered == 0


def test_a_batch_in_flight_at_shutdown_ends_quietly(
    deliveries: AsyncQueueDeliveries, caplog: pytest.LogCaptureFixture
) -> None:
    gate = threading.Event()
    consumer = Consumer(failures=1, gate=gate)
    deliveries._send = consumer
    LambdaBackend.send_sqs_batch(BACKEND, "fn", ["m1"], "arn:q")
    deliveries.uninstall()  # the local AWS stops while the first attempt runs
    gate.set()
    deliveries._pool.shutdown(wait=True)
    assert consumer.calls == [["m1"]]  # no retry against a stopped AWS
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
