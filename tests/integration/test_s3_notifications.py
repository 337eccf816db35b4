"""S3 notifications reach Lambda as AWS sends them: after the PUT, retried, then dead-lettered."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from localrun import s3_notifications
from localrun.s3_notifications import AsyncS3Notifications


@dataclass
class FlakyFunction:
    """Stands in for moto's LambdaFunction at the seam: fails its first ``failures`` calls."""

    failures: int
    function_name: str = "ingest"
    calls: list[str] = field(default_factory=list)

    def _invoke_lambda(self, event: str) -> tuple[str, bool, str]:
        self.calls.append(event)
        errored = len(self.calls) <= self.failures
        return json.dumps({"errorType": "RetryableError"} if errored else {}), errored, ""


def _deliver(function: FlakyFunction, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    import moto.awslambda.utils

    class Backend:
        @staticmethod
        def get_function(arn: str) -> FlakyFunction:
            return function

    monkeypatch.setattr(moto.awslambda.utils, "get_backend", lambda account, region: Backend())
    monkeypatch.setattr(s3_notifications, "RETRY_DELAYS_S", (0.0, 0.0))
    dead: list[tuple[str, str]] = []

    def dead_letter(name: str, event: str) -> None:
        dead.append((name, event))

    notifications = AsyncS3Notifications(dead_letter=dead_letter)
    notifications._pool.submit(notifications._deliver, "123", '{"Records": []}', "arn:fn", "us-east-1")
    notifications._pool.shutdown(wait=True)  # waits for the delivery and its retries
    return dead


def test_a_failed_delivery_is_retried_twice_then_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    always_failing = FlakyFunction(failures=99)
    dead = _deliver(always_failing, monkeypatch)
    assert len(always_failing.calls) == 3  # Lambda's async policy: one attempt and two retries
    assert dead == [("ingest", '{"Records": []}')]


def test_a_transient_failure_is_healed_by_a_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    once_failing = FlakyFunction(failures=1)
    assert _deliver(once_failing, monkeypatch) == []
    assert len(once_failing.calls) == 2


def test_notifications_wait_for_the_put_to_finish() -> None:
    notifications = AsyncS3Notifications(dead_letter=lambda name, event: None)
    queued: list[Any] = []
    notifications._pool.submit = lambda *call: queued.append(call)  # type: ignore[method-assign, assignment]
    with notifications._deferred():
        notifications._queue("123", "{}", "arn:fn", "us-east-1")
        assert queued == []  # still inside the PUT: the object's metadata is not stored yet
    assert len(queued) == 1
