"""The jobs event bus, and an example downstream subscriber of job outcomes."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from infra.constructs.storage import Storage
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_FAILED, EVENT_SOURCE


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
        self.job_outcomes_dlq = storage.queue(self, "JobOutcomesDeadLetterQueue")
        self.job_outcomes_queue = storage.queue(
            self, "JobOutcomesQueue", dead_letter_queue=self.job_outcomes_dlq
        )
        rule = events.Rule(
            self,
            "JobOutcomesRule",
            description="Example downstream subscription: completed and failed jobs to a queue",
            # By name, as the functions publish: moto's Ref of an event bus is not its name.
            event_bus=events.EventBus.from_event_bus_name(self, "JobEventsByName", self.bus_name),
            event_pattern=events.EventPattern(
                source=[EVENT_SOURCE], detail_type=[EVENT_JOB_COMPLETED, EVENT_JOB_FAILED]
            ),
            targets=[
                targets.SqsQueue(
                    self.job_outcomes_queue,
                    dead_letter_queue=self.job_outcomes_dlq,
                    retry_attempts=8,
                    max_event_age=cdk.Duration.hours(24),
                )
            ],
        )
        rule.node.add_dependency(self.bus)
