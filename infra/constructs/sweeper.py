"""The sweeper: every five minutes, jobs that stopped moving are requeued or failed."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import FunctionSizing
from infra.constructs.concern import Concern
from infra.constructs.events import JobEvents
from infra.constructs.functions import Functions
from infra.constructs.permissions import allow, delete_every_version, list_bucket
from infra.constructs.rules import schedule
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables
from transcriber.domain.jobs import CONTENT_INDEX, TRANSCRIPTS_PREFIX, WORK_PREFIX
from transcriber.domain.recovery import STATUS_INDEX
from transcriber.domain.retention import RETENTION_INDEX

# The sweeper (functions/sweeper) is small and the same in every environment: no cdk.json entry.
SWEEPER_SIZING = FunctionSizing(memory_mb=256, timeout_s=120)
SWEEP_EVERY = cdk.Duration.minutes(5)


class Sweeper(Concern):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        state_machine: sfn.StateMachine,
        storage: Storage,
        tables: Tables,
        job_events: JobEvents,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.zip_function(
            "sweeper", env={"STATE_MACHINE_ARN": state_machine.state_machine_arn}, sizing=SWEEPER_SIZING
        )
        self._schedule()
        # Stale jobs through their index, each read and updated (requeued or failed) on the table,
        # its latest execution's status, a new execution for a requeued job, and a Failed event.
        fn = self.function
        job_events.bus.grant_put_events_to(fn)
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{tables.jobs.table_arn}/index/{STATUS_INDEX}"]
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[tables.jobs.table_arn]
            )
        )
        self._grant_retention(storage, tables)
        state_machine.grant_execution(fn, "states:DescribeExecution")
        state_machine.grant_start_execution(fn)
        storage.grant_key(fn, encrypt=True)

    def _grant_retention(self, storage: Storage, tables: Tables) -> None:
        """Tenants' retention (transcriber/stages/expire.py): due jobs through their sparse index,
        their audio, transcripts and work files deleted, then their record. Duplicates that reuse
        an expiring job's transcript are found through the content index and get their own copy."""
        fn, results = self.function, storage.results_bucket
        prefixes = [f"{TRANSCRIPTS_PREFIX}/*", f"{WORK_PREFIX}/*"]
        transcripts = results.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")
        statements = [
            (["dynamodb:Query"], [f"{tables.jobs.table_arn}/index/{RETENTION_INDEX}"]),
            (["dynamodb:Query"], [f"{tables.jobs.table_arn}/index/{CONTENT_INDEX}"]),
            (["s3:GetObject", "s3:PutObject"], [transcripts]),
            (["dynamodb:DeleteItem"], [tables.jobs.table_arn]),
            *delete_every_version(storage.input_bucket),
            (["s3:DeleteObject"], [results.arn_for_objects(p) for p in prefixes]),
        ]
        allow(fn, statements)
        fn.add_to_role_policy(list_bucket(results, prefixes))

    def _schedule(self) -> None:
        """A missed sweep is harmless (the next one finds the same jobs), so a failed invocation is
        retried twice and then dropped, with no dead-letter queue to watch."""
        what = "Requeue or fail transcription jobs that stopped making progress"
        schedule(self, "SweeperSchedule", what, self.function, SWEEP_EVERY, retries=2, max_age=SWEEP_EVERY)
