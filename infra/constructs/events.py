"""The jobs event bus, and an example downstream subscriber of job outcomes."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from infra.constructs.rules import JobEventsQueue, QueueIds, job_events_queue
from infra.constructs.storage import Storage
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_FAILED


class JobEvents(Concern):
    """The bus the functions publish Created/Started/Progress/Completed/Failed events on.

    ``bus_name`` is a plain string, not a Ref: it is known at synth time, and moto's Ref of an
    event bus does not resolve to its name. Rules on the bus refer to it by that name.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, storage: Storage
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus_name = f"{config.stack_name}-jobs"
        self.bus = events.EventBus(self, "JobEvents", event_bus_name=self.bus_name)
        self._downstream_example(storage)

    def _downstream_example(self, storage: Storage) -> None:
        """An example consumer: every job outcome (completed or failed) queued for another team.

        A consumer subscribes the same way from its own stack or account: a rule on the jobs bus
        matching ``source`` and ``detail-type``, targeting its own queue, function or API.
        """
        outcomes = self.queue(
            self, "JobOutcomes", [EVENT_JOB_COMPLETED, EVENT_JOB_FAILED], key=storage.data_key,
            description="Example downstream subscription: completed and failed jobs to a queue",
        )  # fmt: skip
        self.job_outcomes_dlq, self.job_outcomes_queue = outcomes.dead_letter_queue, outcomes.queue

    def queue(
        self,
        scope: Construct,
        prefix: str,
        detail_types: list[str],
        *,
        key: kms.IKey | None,
        description: str,
        visibility_timeout: cdk.Duration | None = None,
    ) -> JobEventsQueue:
        """A queue (``<prefix>Queue``, ``<prefix>DeadLetterQueue``) of this bus's ``detail_types``
        events in ``scope``, fed by the rule ``<prefix>Rule`` (see :func:`job_events_queue`). A
        queue a function drains needs ``visibility_timeout`` (``rules.visibility_for``): SQS's
        default 30 s is shorter than most functions' timeout, and AWS refuses that mapping."""
        return job_events_queue(
            scope,
            bus_name=self.bus_name,
            detail_types=detail_types,
            description=description,
            key=key,
            bus_dependency=self.bus,
            ids=QueueIds.prefixed(prefix, bus="JobEventsByName"),
            visibility_timeout=visibility_timeout,
        )
