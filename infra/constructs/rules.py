"""The stack's EventBridge rules, built one way: queues fed by the jobs bus, and schedules.

Four consumers read job events from a queue (the downstream example, webhooks, search, live
status). Each is the same arrangement, so it is built here once: an encrypted, TLS-only queue and
its dead-letter queue, and a rule on the jobs bus that puts matching events on the queue and, when
it cannot, on the same dead-letter queue. What differs (retention, visibility, receives, retries)
is a parameter. The builders create their resources directly in ``scope`` under the ids they are
given (no construct of their own), so the resources keep the logical ids they had before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct, IConstruct

from transcriber.domain.jobs import EVENT_SOURCE

#: SQS's longest retention: what a dead-letter queue keeps for an operator to look at.
LONGEST_RETENTION = cdk.Duration.days(14)
#: EventBridge's retries for a target it cannot reach, then the event goes to the DLQ.
TARGET_RETRIES = 8
TARGET_MAX_EVENT_AGE = cdk.Duration.hours(24)
#: AWS's advice for a queue feeding Lambda: a visibility timeout of six times the function's timeout
#: (and AWS refuses an event source mapping whose queue's is shorter than the function's).
VISIBILITY_PER_FUNCTION_TIMEOUT = 6
#: SQS's range of visibility timeouts (its default, 30 s, is the shortest this stack sets).
_VISIBILITY_RANGE_S = (30, 12 * 3600)


class TargetDelivery(TypedDict):
    """The keyword arguments every ``aws_events_targets`` target takes for a failed delivery."""

    dead_letter_queue: sqs.IQueue
    retry_attempts: int
    max_event_age: cdk.Duration


def delivery(
    dead_letter_queue: sqs.IQueue,
    *,
    retry_attempts: int = TARGET_RETRIES,
    max_event_age: cdk.Duration = TARGET_MAX_EVENT_AGE,
) -> TargetDelivery:
    """A target's events retried for a while, then kept in ``dead_letter_queue``, never dropped."""
    return {
        "dead_letter_queue": dead_letter_queue,
        "retry_attempts": retry_attempts,
        "max_event_age": max_event_age,
    }


def visibility_for(function_timeout_s: float) -> cdk.Duration:
    """The visibility timeout of a queue that feeds a function of ``function_timeout_s``: a message
    stays hidden while a batch (and Lambda's retry of it) may still be running."""
    shortest, longest = _VISIBILITY_RANGE_S
    return cdk.Duration.seconds(
        min(longest, max(shortest, int(VISIBILITY_PER_FUNCTION_TIMEOUT * function_timeout_s)))
    )


def encrypted_queue(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey | None,
    retention: cdk.Duration = LONGEST_RETENTION,
    dead_letter_queue: sqs.IQueue | None = None,
    max_receive_count: int = 5,
    visibility_timeout: cdk.Duration | None = None,
) -> sqs.Queue:
    """A TLS-only queue encrypted with ``key`` (the stack's data key) or, without one, by SQS."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS if key else sqs.QueueEncryption.SQS_MANAGED,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=(
            sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=max_receive_count)
            if dead_letter_queue
            else None
        ),
    )


@dataclass(frozen=True)
class QueueIds:
    """The construct ids of a job-events queue's resources (they make its logical ids)."""

    dead_letter_queue: str = "DeadLetterQueue"
    queue: str = "Queue"
    rule: str = "Rule"
    bus: str = "JobsBus"

    @classmethod
    def prefixed(cls, prefix: str, *, bus: str) -> QueueIds:
        return cls(f"{prefix}DeadLetterQueue", f"{prefix}Queue", f"{prefix}Rule", bus)


@dataclass(frozen=True)
class JobEventsQueue:
    """What :func:`job_events_queue` made: the consumer reads ``queue``; alarms watch the DLQ."""

    queue: sqs.Queue
    dead_letter_queue: sqs.Queue
    rule: events.Rule


def _allow_rule_to_send(queue: sqs.IQueue, rule: events_refs.IRuleRef, sid: str) -> None:
    """``rule`` (and no other rule or account) may put messages on ``queue``."""
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.rule_ref.rule_arn}},
        )
    )


@jsii.implements(events.IRuleTarget)
class QueueTarget:
    """A queue as a rule's target, with ``delivery``'s retries and dead-letter queue.

    ``aws_events_targets.SqsQueue`` would also grant EventBridge the queue's customer key in the
    key policy, for every use and with no condition; where there is a data key, its own policy
    already lets EventBridge use it for this account's queues only (infra/constructs/storage.py),
    and elsewhere SQS's own keys need no grant. So this target grants only what SQS checks:
    SendMessage on the queue and on its dead-letter queue, and only from this rule.
    """

    def __init__(
        self,
        queue: sqs.IQueue,
        *,
        dead_letter_queue: sqs.IQueue,
        retry_attempts: int,
        max_event_age: cdk.Duration,
    ) -> None:
        self.queue, self.dead_letter_queue = queue, dead_letter_queue
        self.retry_attempts, self.max_event_age = retry_attempts, max_event_age

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        _allow_rule_to_send(self.queue, rule, "AllowEventRuleToSend")
        _allow_rule_to_send(self.dead_letter_queue, rule, "AllowEventRuleToDeadLetter")
        return events.RuleTargetConfig(
            arn=self.queue.queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letter_queue.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=self.retry_attempts,
                maximum_event_age_in_seconds=int(self.max_event_age.to_seconds()),
            ),
        )


def job_events_queue(
    scope: Construct,
    *,
    bus_name: str,
    detail_types: Sequence[str],
    description: str,
    key: kms.IKey | None,
    bus_dependency: IConstruct | None,
    ids: QueueIds = QueueIds(),  # frozen: safe to share
    retention: cdk.Duration = LONGEST_RETENTION,
    dead_letter_retention: cdk.Duration = LONGEST_RETENTION,
    visibility_timeout: cdk.Duration | None = None,
    max_receive_count: int = 5,
    retry_attempts: int = TARGET_RETRIES,
    max_event_age: cdk.Duration = TARGET_MAX_EVENT_AGE,
) -> JobEventsQueue:
    """The jobs bus's events of ``detail_types`` on a queue; undeliverable ones, and messages
    received ``max_receive_count`` times, in its dead-letter queue (same body: a redrive retries).

    The rule finds the bus by name, as the functions publish (moto's Ref of an event bus is not its
    name), so it must be created after ``bus_dependency`` (the bus).
    """
    dead_letter_queue = encrypted_queue(
        scope, ids.dead_letter_queue, key=key, retention=dead_letter_retention
    )
    queue = encrypted_queue(
        scope,
        ids.queue,
        key=key,
        retention=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
        max_receive_count=max_receive_count,
    )
    rule = events.Rule(
        scope,
        ids.rule,
        description=description,
        event_bus=events.EventBus.from_event_bus_name(scope, ids.bus, bus_name),
        event_pattern=events.EventPattern(source=[EVENT_SOURCE], detail_type=list(detail_types)),
        targets=[
            QueueTarget(
                queue,
                **delivery(dead_letter_queue, retry_attempts=retry_attempts, max_event_age=max_event_age),
            )
        ],
    )
    if bus_dependency is not None:
        rule.node.add_dependency(bus_dependency)
    return JobEventsQueue(queue, dead_letter_queue, rule)


def schedule(
    scope: Construct,
    construct_id: str,
    description: str,
    function: lambda_.IFunction,
    every: cdk.Duration,
    retries: int,
    max_age: cdk.Duration,
) -> events.Rule:
    """``function`` invoked every ``every``; for work whose next run redoes a missed one, so a
    failed invocation is retried ``retries`` times within ``max_age``, then dropped (no dead-letter
    queue to watch)."""
    return events.Rule(
        scope,
        construct_id,
        description=description,
        schedule=events.Schedule.rate(every),
        targets=[targets.LambdaFunction(function, retry_attempts=retries, max_event_age=max_age)],
    )
