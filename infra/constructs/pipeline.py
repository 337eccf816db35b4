"""The pipeline: ingest (S3 upload -> job -> execution), the step functions and the state machine,
each function's least permissions, and the rule that fails the job of an abnormal execution."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from infra.constructs.events import JobEvents
from infra.constructs.functions import Functions, env_number
from infra.constructs.malware_protection import InputMalwareProtection
from infra.constructs.permissions import allow, delete_every_version, list_bucket
from infra.constructs.rules import delivery
from infra.constructs.state_machine import StepFunctions, transcription_state_machine
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables
from transcriber.domain.jobs import CONTENT_INDEX, TRANSCRIPTS_PREFIX, WORK_PREFIX
from transcriber.stages.manifest import manifest_key

# Step Functions reports these terminal statuses on the default bus; each must leave its job FAILED.
ABNORMAL_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")
#: Multipart uploads (boto3 switches to them above 8 MB) need AbortMultipartUpload on failure.
PUT_OBJECT = ["s3:PutObject", "s3:AbortMultipartUpload"]
#: The chunks the language vote sends back (RedoChunks), as aggregate writes them: every job's.
REDO_MANIFESTS = manifest_key("*", redo=True)
#: What the repositories (jobs, tenants) call: gets, puts (conditional creates) and updates of one item.
SINGLE_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def keep_failed_events(function: lambda_.Function, dead_letter_queue: sqs.IQueue) -> None:
    """An asynchronous event ``function`` still fails on after Lambda's two retries goes to
    ``dead_letter_queue`` instead of being dropped. Granted SendMessage only: ``grant_send_messages``
    would add the queue key's wildcard actions (``kms:ReEncrypt*``); the function's own key grant
    (``Storage.grant_key`` with ``encrypt``) covers an encrypted queue."""
    function.configure_async_invoke(retry_attempts=2)
    cfn_function = function.node.default_child
    assert isinstance(cfn_function, lambda_.CfnFunction)
    cfn_function.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
        target_arn=dead_letter_queue.queue_arn
    )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn])
    )


class Pipeline(Concern):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        storage: Storage,
        tables: Tables,
        job_events: JobEvents,
        functions: Functions,
    ) -> None:
        super().__init__(scope, construct_id)
        self.ingest_dlq = storage.queue(self, "IngestDeadLetterQueue")
        chunk_env = {
            "MAX_DURATION_SECONDS": str(config.max_duration_minutes * 60),
            "MAX_CHUNK_SECONDS": str(config.max_chunk_seconds),
            **functions.fault_env,
        }
        self.chunk_fn = functions.zip_function(
            "chunk", env=chunk_env, with_ffmpeg=True, scratch_mb=config.chunk_scratch_mb
        )
        self.aggregate_fn = functions.zip_function("aggregate", env=functions.fault_env)
        self.fail_fn = functions.zip_function("fail")
        self.transcribe_fn = functions.transcribe_function()
        self.state_machine = transcription_state_machine(
            self,
            functions=StepFunctions(
                chunk=self.chunk_fn,
                transcribe=self.transcribe_fn,
                aggregate=self.aggregate_fn,
                fail=self.fail_fn,
            ),
            map_max_concurrency=config.map_max_concurrency,
            log_group=functions.log_group(self, "StateMachineLogs"),
            manifest_bucket=storage.results_bucket,
        )
        storage.grant_key(self.state_machine, encrypt=False)  # the Map reads the chunk manifest
        self.ingest_fn = functions.zip_function(
            "ingest",
            env={
                "STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "MAX_UPLOAD_BYTES": str(config.max_upload_bytes),
                "IDEMPOTENCY_TABLE": tables.idempotency.table_name,
                "DEDUP_WINDOW_HOURS": env_number(config.dedup_window_hours),
                "TENANTS_TABLE": tables.tenants.table_name,
            },
        )
        # Events S3 could not deliver after Lambda's async retries are kept, not lost.
        keep_failed_events(self.ingest_fn, self.ingest_dlq)
        self.malware_protection: InputMalwareProtection | None = None
        if config.malware_scanning:
            # Uploads reach ingest only through GuardDuty's verdict, never straight from S3.
            self.malware_protection = InputMalwareProtection(
                self,
                "MalwareProtection",
                bucket=storage.input_bucket,
                ingest=self.ingest_fn,
                dead_letter_queue=self.ingest_dlq,
                key=storage.data_key,
            )
            # A threat's object is deleted (transcriber/stages/ingest.py: refuse_scanned_object),
            # with the deletions ingest is granted in _grant.
        else:
            storage.input_bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.ingest_fn)
            )
        self.execution_failures_dlq = storage.queue(self, "ExecutionFailuresDeadLetterQueue")
        keep_failed_events(self.fail_fn, self.execution_failures_dlq)
        self._abnormal_executions_rule()
        self._grant(storage, tables, job_events)

    def _abnormal_executions_rule(self) -> None:
        """Executions that end FAILED, TIMED_OUT or ABORTED mark their job FAILED (default bus).

        The state machine's Catch already handles task errors; this covers what it cannot: the
        execution timeout, an operator's StopExecution and failures outside any Catch. The fail
        function ignores jobs that are already terminal, so a Catch-handled failure is not
        reported twice. EventBridge invokes it asynchronously: an event it cannot deliver after its
        retries, and one the function itself still fails on after Lambda's two async retries, both
        go to ``execution_failures_dlq`` (with the same event body: redriving it retries the job's
        failure).
        """
        events.Rule(
            self,
            "AbnormalExecutionsRule",
            description="Mark the job FAILED when its execution fails, times out or is aborted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": list(ABNORMAL_EXECUTION_STATUSES),
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                },
            ),
            targets=[targets.LambdaFunction(self.fail_fn, **delivery(self.execution_failures_dlq))],
        )

    def _grant(self, storage: Storage, tables: Tables, job_events: JobEvents) -> None:
        """One role per function, each with the prefixes and actions its handler really calls.

        Written out rather than through ``grant_read``/``grant_read_write_data``: those add wildcard
        actions (``s3:GetObject*``, ``s3:List*``, ``dynamodb:Batch*``, ``kms:ReEncrypt*``) that no
        handler uses.
        """
        input_objects = storage.input_bucket.arn_for_objects("*")
        work_objects = storage.results_bucket.arn_for_objects(f"{WORK_PREFIX}/*")
        transcripts = storage.results_bucket.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")
        s3_access: dict[lambda_.IFunction, list[tuple[list[str], str]]] = {
            self.ingest_fn: [(["s3:GetObject"], input_objects)],
            self.chunk_fn: [(["s3:GetObject"], input_objects), (PUT_OBJECT, work_objects)],
            self.transcribe_fn: [(["s3:GetObject", *PUT_OBJECT], work_objects)],
            # Deleting work files: the job's converted WAV, and a redacting job's chunk transcripts
            # (the words as heard) once its outputs exist (uploads: below). Its one write in work/
            # is the list of chunks the language vote sends back (one small PUT, never multipart).
            self.aggregate_fn: [
                (["s3:GetObject", "s3:DeleteObject"], work_objects),
                (PUT_OBJECT, transcripts),
                (["s3:PutObject"], storage.results_bucket.arn_for_objects(REDO_MANIFESTS)),
            ],
            self.fail_fn: [],
        }
        for fn, statements in s3_access.items():
            for actions, resource in statements:
                fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
            fn.add_to_role_policy(
                iam.PolicyStatement(actions=SINGLE_ITEM_ACTIONS, resources=[tables.jobs.table_arn])
            )
            storage.grant_key(fn, encrypt=True)
        # The checkpoint test is a HEAD on a partial that may not exist yet: without ListBucket S3
        # answers 403 instead of 404. Limited to the work/ prefix.
        self.transcribe_fn.add_to_role_policy(list_bucket(storage.results_bucket, [f"{WORK_PREFIX}/*"]))
        # A job deleted while it runs: the step that wrote for it deletes the job's files
        # (transcriber/stages/deleted.py); ingest deletes uploads it refuses (a deleted job's, or
        # not the declared size).
        erasable = {
            self.chunk_fn: [WORK_PREFIX],
            self.transcribe_fn: [WORK_PREFIX],
            self.aggregate_fn: [WORK_PREFIX, TRANSCRIPTS_PREFIX],
        }
        for fn, prefixes in erasable.items():
            objects = [storage.results_bucket.arn_for_objects(f"{prefix}/*") for prefix in prefixes]
            fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:DeleteObject"], resources=objects))
            fn.add_to_role_policy(list_bucket(storage.results_bucket, [f"{prefix}/*" for prefix in prefixes]))
        # Uploads, every version: ingest's refused ones (and, with scanning, a threat's); aggregate's
        # under a tenant's "audio: after-transcript" retention.
        allow(self.ingest_fn, delete_every_version(storage.input_bucket))
        allow(self.aggregate_fn, delete_every_version(storage.input_bucket))
        # Who publishes what: ingest (created, or failed at intake), chunk (started), transcribe
        # (progress), aggregate (completed), fail (failed); the sweeper is granted in its construct.
        for fn in s3_access:
            job_events.bus.grant_put_events_to(fn)
        self.state_machine.grant_start_execution(self.ingest_fn)
        # A file dropped into the bucket gets its tenant's retention: one tenant record read.
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[tables.tenants.table_arn])
        )
        # Content reuse: recent jobs of the same audio, through the index only.
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{tables.jobs.table_arn}/index/{CONTENT_INDEX}"]
            )
        )
        # What Powertools Idempotency calls on its table.
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=[*SINGLE_ITEM_ACTIONS, "dynamodb:DeleteItem"],
                resources=[tables.idempotency.table_arn],
            )
        )
