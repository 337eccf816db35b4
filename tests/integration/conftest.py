"""One local stack per test session: the synthesized template deployed into the embedded AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from transcriber.domain.jobs import EVENT_SOURCE


@pytest.fixture(scope="session")
def pipeline() -> Iterator[LocalPipeline]:
    # The real engine (faster-whisper, Whisper base int8). Short chunks so that the 22.6 s sample
    # is split and the Map really fans out over two warm workers.
    with LocalPipeline(
        overrides={"engine": "faster-whisper", "chunk_max_seconds": 8}, concurrency=2
    ) as running:
        yield running


class EventTap:
    """An SQS queue behind an EventBridge rule on the jobs bus: what a downstream consumer sees."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        self._sqs = pipeline.aws.client("sqs")
        events = pipeline.aws.client("events")
        self.url = self._sqs.create_queue(QueueName="job-events-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = pipeline.stack.event_bus
        events.put_rule(
            Name="all-job-events", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        events.put_targets(Rule="all-job-events", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            resp = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = resp.get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e["detail"].get("job_id") == job_id]


@pytest.fixture(scope="session")
def event_tap(pipeline: LocalPipeline) -> EventTap:
    return EventTap(pipeline)
