"""Webhooks: job outcomes on the jobs bus -> a queue -> the notifier function -> callback URLs.

::

    jobs bus --rule (Completed, Failed)--> queue --SQS event source--> notifier λ --POST--> callback_url
                      │ undeliverable                │ retried with backoff (the function sets
                      └──────────────▶ DLQ ◀─────────┘ each message's visibility), then here

The rule puts the whole EventBridge event on the queue; the function reads the job and its
tenant's webhook secret, and reports each message's outcome (partial batch responses). A
message that fails ``max_receive_count`` times, and an event EventBridge could not queue, end
in the same dead-letter queue, with the same event body: redriving it to the queue retries it.
"""

from __future__ import annotations

from collections.abc import Callable

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra.constructs.events import JobEvents
from infra.constructs.rules import job_events_queue, visibility_for
from infra.constructs.tables import Tables
from transcriber.domain.webhooks import WEBHOOK_EVENT_TYPES

#: Messages per invocation. A delivery takes at most about 10 s (the sender's deadline), and the
#: notifier hands back, untried, a message it has under 15 s left for: with cdk.json's 60 s timeout
#: a batch of five always fits.
DEFAULT_BATCH_SIZE = 5
#: Deliveries tried before a message goes to the dead-letter queue. With the notifier's backoff
#: (30 s doubling, full jitter, capped at 15 minutes) ten attempts span up to about 1.5 hours.
DEFAULT_MAX_RECEIVE_COUNT = 10

FunctionFactory = Callable[[dict[str, str]], lambda_.Function]


class Webhooks(Construct):
    """The notifier, its queue and DLQ, the rule that feeds it, and its (least) permissions.

    ``function_factory`` gets the function's extra environment (``JOBS_TABLE``, ``TENANTS_TABLE``)
    and returns the notifier function (handler ``functions.notifier.handler.handler``); the queue
    URL is added to its environment here. ``encryption_key`` (the stack's data key, or None for
    SQS-managed encryption) encrypts both queues, and the function may decrypt with it (the
    tables and queues it reads). The rule is on ``job_events``'s bus, created after it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_events: JobEvents,
        tables: Tables,
        function_factory: FunctionFactory,
        encryption_key: kms.IKey | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_receive_count: int = DEFAULT_MAX_RECEIVE_COUNT,
    ) -> None:
        super().__init__(scope, construct_id)
        jobs_table, tenants_table = tables.jobs, tables.tenants
        self.function = function_factory(
            {"JOBS_TABLE": jobs_table.table_name, "TENANTS_TABLE": tenants_table.table_name}
        )
        timeout_s = (self.function.timeout or cdk.Duration.seconds(3)).to_seconds()

        fed = job_events_queue(
            self, bus_name=job_events.bus_name, detail_types=WEBHOOK_EVENT_TYPES, key=encryption_key,
            description="Job outcomes to the webhook notifier's queue", bus_dependency=job_events.bus,
            retention=cdk.Duration.days(4), visibility_timeout=visibility_for(timeout_s),
            max_receive_count=max_receive_count,
        )  # fmt: skip
        self.queue, self.dead_letter_queue, self.rule = fed.queue, fed.dead_letter_queue, fed.rule
        self.function.add_environment("QUEUE_URL", self.queue.queue_url)

        # Receive, delete and ChangeMessageVisibility on this queue (and decrypt its messages):
        # granted by the event source, which the function's backoff relies on.
        self.function.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=batch_size, report_batch_item_failures=True)
        )
        # The job and the tenant (its webhook secret): one GetItem each, nothing else.
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem"], resources=[jobs_table.table_arn, tenants_table.table_arn]
            )
        )
        if encryption_key is not None:
            encryption_key.grant(self.function, "kms:Decrypt", "kms:DescribeKey")
