"""The transcription stack: buckets, jobs table, event bus, functions and the state machine."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import bundling
from infra.api import HttpApi
from infra.config import EnvironmentConfig, FunctionSizing
from infra.monitoring import Monitoring
from infra.webhooks import Webhooks
from transcriber.domain.errors import RETRYABLE_ERROR_NAMES
from transcriber.domain.jobs import (
    CONTENT_INDEX,
    EVENT_JOB_COMPLETED,
    EVENT_JOB_FAILED,
    EVENT_SOURCE,
    TENANT_INDEX,
    TRANSCRIPTS_PREFIX,
    WORK_PREFIX,
)
from transcriber.domain.recovery import STATUS_INDEX
from transcriber.domain.tenants import TENANTS_PREFIX

METRICS_NAMESPACE = "AudioTranscriber"
# The sweeper (functions/sweeper) is small and the same in every environment: no cdk.json entry.
SWEEPER_SIZING = FunctionSizing(memory_mb=256, timeout_s=120)
SWEEP_EVERY = cdk.Duration.minutes(5)
#: Lifetime of a presigned upload URL (the API's contract: at most 15 minutes).
UPLOAD_URL_EXPIRY_S = 900
# Step Functions reports these terminal statuses on the default bus; each must leave its job FAILED.
ABNORMAL_EXECUTION_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")

_RETENTION = {
    0: logs.RetentionDays.INFINITE,
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class TranscriptionStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        self.removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        self.log_retention = _RETENTION[config.log_retention_days]
        architecture = (
            lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        )

        # One customer key for the data at rest where the environment asks for it (prod): audio,
        # transcripts, job records, queued events and alarm notifications. Elsewhere the services'
        # own keys encrypt everything, with no key to pay for or to lose.
        self.data_key: kms.Key | None = None
        if config.customer_managed_key:
            self.data_key = kms.Key(
                self,
                "DataKey",
                description=f"{config.stack_name}: audio, transcripts, job records and queues",
                enable_key_rotation=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            # EventBridge (rule targets and their DLQs) and CloudWatch (alarms to SNS) write into
            # encrypted queues and topics as services, so the key policy must let them.
            for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com"):
                self.data_key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")

        self._buckets()
        self.jobs_table = self._table(
            "JobsTable", dynamodb.Attribute(name="job_id", type=dynamodb.AttributeType.STRING)
        )
        # Recent jobs of the same audio, for reusing a transcript (transcriber/domain/dedup.py).
        self.jobs_table.add_global_secondary_index(
            index_name=CONTENT_INDEX,
            partition_key=dynamodb.Attribute(name="sha256", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # Jobs that have not moved for a while, for the sweeper (transcriber/domain/recovery.py).
        # Keys only: the sweeper reads each candidate again, consistently, before acting on it.
        self.jobs_table.add_global_secondary_index(
            index_name=STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="updated_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        # A tenant's jobs, newest first, for the HTTP API's list (transcriber/domain/jobs.py).
        self.jobs_table.add_global_secondary_index(
            index_name=TENANT_INDEX,
            partition_key=dynamodb.Attribute(name="tenant_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        # The HTTP API's tenants: ``key#<sha256 of an API key>`` (keys are stored hashed only),
        # ``tenant#<id>`` (settings, webhook secret) and ``usage#...`` counters, which expire.
        self.tenants_table = self._table(
            "TenantsTable",
            dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
        )
        # Powertools Idempotency records of ingest: one per delivered upload, expiring after a day.
        self.idempotency_table = self._table(
            "IdempotencyTable",
            dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
        )
        # The bus name is a plain string, not a Ref: it is known at synth time, and moto's Ref of an
        # event bus does not resolve to its name.
        self.event_bus_name = f"{config.stack_name}-jobs"
        self.event_bus = events.EventBus(self, "JobEvents", event_bus_name=self.event_bus_name)
        self.ingest_dlq = self._queue("IngestDeadLetterQueue")

        common_env = {
            "JOBS_TABLE": self.jobs_table.table_name,
            "RESULTS_BUCKET": self.results_bucket.bucket_name,
            "EVENT_BUS_NAME": self.event_bus_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
        }
        # Fault injection (transcriber/faults.py), for tests and soak runs: only where cdk.json's
        # fault_rate is above 0, which the prod configuration refuses. The state machine's tasks get
        # it (their Retry is what a soak tests); ingest does not (its failures go to its DLQ).
        fault_env: dict[str, str] = {}
        if config.fault_rate > 0:
            fault_env = {"FAULT_RATE": str(config.fault_rate), "FAULT_TARGETS": "engine,s3"}
        deps_layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=bundling.dependencies_layer_code(config.architecture),
            compatible_architectures=[architecture],
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            description="Powertools and pydub for the zip functions",
        )
        ffmpeg_layer = lambda_.LayerVersion(
            self,
            "FfmpegLayer",
            code=bundling.ffmpeg_layer_code(config.architecture),
            compatible_architectures=[architecture],
            description="ffmpeg from the imageio-ffmpeg wheel",
        )

        def zip_function(
            name: str,
            *,
            layers: list[lambda_.ILayerVersion],
            env: dict[str, str] | None = None,
            sizing: FunctionSizing | None = None,
        ) -> lambda_.Function:
            sizing = sizing or config.function(name)
            return lambda_.Function(
                self,
                f"{name.title()}Function",
                runtime=lambda_.Runtime.PYTHON_3_12,
                architecture=architecture,
                handler=f"functions.{name}.handler.handler",
                code=bundling.function_code(name),
                layers=layers,
                memory_size=sizing.memory_mb,
                timeout=cdk.Duration.seconds(sizing.timeout_s),
                tracing=lambda_.Tracing.ACTIVE,
                log_group=self._log_group(f"{name.title()}Logs"),
                environment={**common_env, "POWERTOOLS_SERVICE_NAME": f"transcriber-{name}", **(env or {})},
            )

        chunk_env = {
            "MAX_DURATION_SECONDS": str(config.max_duration_minutes * 60),
            "CHUNK_MAX_SECONDS": str(config.chunk_max_seconds),
            **fault_env,
        }
        self.chunk_fn = zip_function("chunk", layers=[deps_layer, ffmpeg_layer], env=chunk_env)
        self.aggregate_fn = zip_function("aggregate", layers=[deps_layer], env=fault_env)
        self.fail_fn = zip_function("fail", layers=[deps_layer])

        transcribe_sizing = config.function("transcribe")
        self.transcribe_fn = lambda_.DockerImageFunction(
            self,
            "TranscribeFunction",
            code=bundling.transcribe_image_code(),
            architecture=architecture,
            memory_size=transcribe_sizing.memory_mb,
            timeout=cdk.Duration.seconds(transcribe_sizing.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self._log_group("TranscribeLogs"),
            environment={
                **common_env,
                "POWERTOOLS_SERVICE_NAME": "transcriber-transcribe",
                "TRANSCRIBE_ENGINE": config.engine,
                "WHISPER_CPU_THREADS": "2",
                **fault_env,
            },
        )

        self.state_machine = self._state_machine()
        self.ingest_fn = zip_function(
            "ingest",
            layers=[deps_layer],
            env={
                "STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "MAX_UPLOAD_BYTES": str(config.max_upload_mb * 1024 * 1024),
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                "DEDUP_WINDOW_HOURS": str(config.dedup_window_hours),
            },
        )
        self.ingest_fn.configure_async_invoke(retry_attempts=2)
        # Events S3 could not deliver after Lambda's async retries are kept, not lost.
        cfn_ingest = self.ingest_fn.node.default_child
        assert isinstance(cfn_ingest, lambda_.CfnFunction)
        cfn_ingest.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.ingest_dlq.queue_arn
        )
        self.input_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.ingest_fn)
        )
        self.sweeper_fn = zip_function(
            "sweeper",
            layers=[deps_layer],
            env={"STATE_MACHINE_ARN": self.state_machine.state_machine_arn},
            sizing=SWEEPER_SIZING,
        )

        self.api_fn = zip_function(
            "api",
            layers=[deps_layer],
            env={
                "TENANTS_TABLE": self.tenants_table.table_name,
                "INPUT_BUCKET": self.input_bucket.bucket_name,
                "STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "MAX_UPLOAD_BYTES": str(config.max_upload_mb * 1024 * 1024),
                "UPLOAD_URL_EXPIRY_S": str(UPLOAD_URL_EXPIRY_S),
            },
        )
        self.api = HttpApi(
            self,
            "Api",
            function=self.api_fn,
            settings=config.api,
            stage_name=config.name,
            api_name=f"{config.stack_name}-api",
            log_retention=self.log_retention,
            removal_policy=self.removal,
        )

        # Webhooks: job outcomes POSTed, signed, to their callback_url (functions/notifier).
        self.webhooks = Webhooks(
            self,
            "Webhooks",
            event_bus_name=self.event_bus_name,
            jobs_table=self.jobs_table,
            tenants_table=self.tenants_table,
            function_factory=lambda env: zip_function("notifier", layers=[deps_layer], env=env),
            encryption_key=self.data_key,
            bus_dependency=self.event_bus,
        )
        self.notifier_fn = self.webhooks.function

        self._abnormal_executions_rule()
        self._sweeper_schedule()
        self._downstream_example()
        self._grant()
        self._grant_api()
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=self.state_machine,
            functions={
                "ingest": self.ingest_fn,
                "chunk": self.chunk_fn,
                "transcribe": self.transcribe_fn,
                "aggregate": self.aggregate_fn,
                "fail": self.fail_fn,
                "sweeper": self.sweeper_fn,
                "api": self.api_fn,
                "notifier": self.notifier_fn,
            },
            dead_letter_queues={
                "ingest": self.ingest_dlq,
                "execution-failures": self.execution_failures_dlq,
                "job-outcomes": self.job_outcomes_dlq,
                "webhooks": self.webhooks.dead_letter_queue,
            },
            metrics_namespace=METRICS_NAMESPACE,
            topic_key=self.data_key,
        )
        cdk.CfnOutput(self, "InputBucketName", value=self.input_bucket.bucket_name)
        cdk.CfnOutput(self, "ResultsBucketName", value=self.results_bucket.bucket_name)
        cdk.CfnOutput(self, "JobsTableName", value=self.jobs_table.table_name)
        cdk.CfnOutput(self, "EventBusName", value=self.event_bus_name)
        cdk.CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        cdk.CfnOutput(self, "JobOutcomesQueueUrl", value=self.job_outcomes_queue.queue_url)
        cdk.CfnOutput(self, "SweeperFunctionName", value=self.sweeper_fn.function_name)
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        cdk.CfnOutput(self, "ApiFunctionName", value=self.api_fn.function_name)
        cdk.CfnOutput(self, "TenantsTableName", value=self.tenants_table.table_name)
        cdk.CfnOutput(self, "NotifierFunctionName", value=self.notifier_fn.function_name)
        cdk.CfnOutput(self, "WebhooksDeadLetterQueueUrl", value=self.webhooks.dead_letter_queue.queue_url)

    # Storage ----------------------------------------------------------------------------------

    def _buckets(self) -> None:
        config = self.config
        encryption = {
            "encryption": s3.BucketEncryption.KMS if self.data_key else s3.BucketEncryption.S3_MANAGED,
            "encryption_key": self.data_key,
            "bucket_key_enabled": bool(self.data_key),  # one KMS call per bucket key, not per object
        }
        private = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "removal_policy": self.removal,
        }
        # Server access logs land here. S3 cannot deliver them into a bucket encrypted with a customer
        # key, so this bucket keeps S3-managed keys in every environment.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(max(config.log_retention_days, 90)),
                )
            ],
            **private,  # type: ignore[arg-type]
        )
        input_rules = [
            s3.LifecycleRule(
                id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
            )
        ]
        if config.lifecycle.raw_to_glacier_days is not None:
            input_rules.append(
                s3.LifecycleRule(
                    id="raw-uploads-to-glacier",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(config.lifecycle.raw_to_glacier_days),
                        )
                    ],
                )
            )
        if config.version_input_bucket:
            # Versions keep an overwritten or deleted upload recoverable for a while, not forever.
            input_rules.append(
                s3.LifecycleRule(
                    id="expire-old-versions", noncurrent_version_expiration=cdk.Duration.days(30)
                )
            )
        self.input_bucket = s3.Bucket(
            self,
            "InputBucket",
            versioned=config.version_input_bucket,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="input/",
            lifecycle_rules=input_rules,
            **encryption,  # type: ignore[arg-type]
            **private,  # type: ignore[arg-type]
        )
        self.results_bucket = s3.Bucket(
            self,
            "ResultsBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="results/",
            # Converted audio, chunks and partial transcripts are intermediate; transcripts/ is kept.
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-work",
                    prefix=f"{WORK_PREFIX}/",
                    expiration=cdk.Duration.days(config.lifecycle.work_expiry_days),
                ),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
                ),
            ],
            **encryption,  # type: ignore[arg-type]
            **private,  # type: ignore[arg-type]
        )

    def _queue(self, construct_id: str, *, dead_letter_queue: sqs.IQueue | None = None) -> sqs.Queue:
        """An encrypted, TLS-only queue that keeps messages for the 14 days SQS allows."""
        return sqs.Queue(
            self,
            construct_id,
            retention_period=cdk.Duration.days(14),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.KMS if self.data_key else sqs.QueueEncryption.SQS_MANAGED,
            encryption_master_key=self.data_key,
            dead_letter_queue=(
                sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=5)
                if dead_letter_queue
                else None
            ),
        )

    def _log_group(self, construct_id: str) -> logs.LogGroup:
        return logs.LogGroup(self, construct_id, retention=self.log_retention, removal_policy=self.removal)

    # Events -----------------------------------------------------------------------------------

    def _abnormal_executions_rule(self) -> None:
        """Executions that end FAILED, TIMED_OUT or ABORTED mark their job FAILED (default bus).

        The state machine's Catch already handles task errors; this covers what it cannot: the
        execution timeout, an operator's StopExecution and failures outside any Catch. The fail
        function ignores jobs that are already terminal, so a Catch-handled failure is not
        reported twice. Events it cannot take after EventBridge's retries go to a DLQ.
        """
        self.execution_failures_dlq = self._queue("ExecutionFailuresDeadLetterQueue")
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
            targets=[
                targets.LambdaFunction(
                    self.fail_fn,
                    dead_letter_queue=self.execution_failures_dlq,
                    retry_attempts=8,
                    max_event_age=cdk.Duration.hours(24),
                )
            ],
        )

    def _sweeper_schedule(self) -> None:
        """Every five minutes the sweeper requeues or fails jobs that stopped moving.

        A missed sweep is harmless (the next one finds the same jobs), so a failed invocation is
        retried twice and then dropped, with no dead-letter queue to watch.
        """
        events.Rule(
            self,
            "SweeperSchedule",
            description="Requeue or fail transcription jobs that stopped making progress",
            schedule=events.Schedule.rate(SWEEP_EVERY),
            targets=[
                targets.LambdaFunction(
                    self.sweeper_fn, retry_attempts=2, max_event_age=cdk.Duration.minutes(5)
                )
            ],
        )

    def _downstream_example(self) -> None:
        """An example consumer: every job outcome (completed or failed) queued for another team.

        A consumer subscribes the same way from its own stack or account: a rule on the jobs bus
        matching ``source`` and ``detail-type``, targeting its own queue, function or API.
        """
        self.job_outcomes_dlq = self._queue("JobOutcomesDeadLetterQueue")
        self.job_outcomes_queue = self._queue("JobOutcomesQueue", dead_letter_queue=self.job_outcomes_dlq)
        rule = events.Rule(
            self,
            "JobOutcomesRule",
            description="Example downstream subscription: completed and failed jobs to a queue",
            # By name, as the functions publish: moto's Ref of an event bus is not its name.
            event_bus=events.EventBus.from_event_bus_name(self, "JobEventsByName", self.event_bus_name),
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
        rule.node.add_dependency(self.event_bus)

    def _table(
        self, construct_id: str, partition_key: dynamodb.Attribute, time_to_live_attribute: str | None = None
    ) -> dynamodb.Table:
        """An on-demand table, encrypted (the data key in prod), with point-in-time recovery."""
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=partition_key,
            time_to_live_attribute=time_to_live_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=(
                dynamodb.TableEncryption.CUSTOMER_MANAGED
                if self.data_key
                else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=self.data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self.removal,
        )

    # Workflow ---------------------------------------------------------------------------------

    def _state_machine(self) -> sfn.StateMachine:
        retryable = list(RETRYABLE_ERROR_NAMES)
        mark_failed = tasks.LambdaInvoke(
            self,
            "MarkFailed",
            lambda_function=self.fail_fn,
            payload=sfn.TaskInput.from_object(
                {
                    "job_id": sfn.JsonPath.string_at("$.job_id"),
                    "bucket": sfn.JsonPath.string_at("$.bucket"),
                    "key": sfn.JsonPath.string_at("$.key"),
                    "error": sfn.JsonPath.object_at("$.error"),
                }
            ),
            payload_response_only=True,
            result_path=sfn.JsonPath.DISCARD,
            retry_on_service_exceptions=True,
        ).next(
            sfn.Fail(
                self, "JobFailed", error="TranscriptionFailed", cause="See the job record for the reason"
            )
        )

        def step(
            name: str, function: lambda_.IFunction, payload: dict[str, Any], result_path: str | None
        ) -> tasks.LambdaInvoke:
            """One Lambda task: its payload out, its answer at ``result_path``; retried only on
            retryable errors (backoff and full jitter), anything else to MarkFailed."""
            task = tasks.LambdaInvoke(
                self,
                name,
                lambda_function=function,
                payload=sfn.TaskInput.from_object(payload),
                payload_response_only=True,
                result_path=result_path,
                retry_on_service_exceptions=False,
            )
            task.add_retry(
                errors=retryable,
                interval=cdk.Duration.seconds(2),
                max_attempts=3,
                backoff_rate=2.0,
                jitter_strategy=sfn.JitterType.FULL,
            )
            task.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
            return task

        chunk = step(
            "ChunkAudio",
            self.chunk_fn,
            {
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.string_at("$.key"),
                "options": sfn.JsonPath.object_at("$.options"),
            },
            result_path="$.audio",
        )

        # The job's language is decided once and pinned for every chunk: asked for, or voted on
        # by a few chunks spread over the file (see transcriber/domain/language.py).
        requested_language = sfn.Pass(
            self,
            "UseRequestedLanguage",
            parameters={
                "language": sfn.JsonPath.string_at("$.options.language"),
                "source": "requested",
                "confidence": 1,
                "samples": 0,
            },
            result_path="$.language",
        )
        detect_language = step(
            "DetectLanguage",
            self.transcribe_fn,
            {
                "action": "detect_language",
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "chunks": sfn.JsonPath.list_at("$.audio.chunks"),
            },
            result_path="$.language",
        )
        # One chunk needs no vote: the engine detects on it while transcribing, at no extra cost.
        # ("" rather than null: CDK drops null values from a state's parameters.)
        single_chunk = sfn.Pass(
            self,
            "DetectWhileTranscribing",
            parameters={"language": "", "source": "detected", "samples": 1},
            result_path="$.language",
        )
        language = (
            sfn.Choice(self, "LanguageRequested")
            .when(sfn.Condition.is_present("$.options.language"), requested_language)
            .when(sfn.Condition.is_not_present("$.audio.chunks[1]"), single_chunk)
            .otherwise(detect_language)
        )

        transcribe = tasks.LambdaInvoke(
            self,
            "TranscribeChunk",
            lambda_function=self.transcribe_fn,
            payload_response_only=True,
            retry_on_service_exceptions=False,
        )
        transcribe.add_retry(
            errors=retryable,
            interval=cdk.Duration.seconds(2),
            max_attempts=4,
            backoff_rate=2.0,
            jitter_strategy=sfn.JitterType.FULL,
        )
        fan_out = sfn.Map(
            self,
            "TranscribeChunks",
            items_path="$.audio.chunks",
            item_selector={
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "chunk": sfn.JsonPath.object_at("$$.Map.Item.Value"),
                "language": sfn.JsonPath.string_at("$.language.language"),
                "options": sfn.JsonPath.object_at("$.options"),
            },
            max_concurrency=self.config.map_max_concurrency,
            # Each chunk's transcript is in S3 under a key derived from the job and chunk index, so
            # the Map's results are dropped: a 4-hour job's state holds one list, not two.
            result_path=sfn.JsonPath.DISCARD,
        )
        fan_out.item_processor(transcribe)
        fan_out.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")

        aggregate = step(
            "AggregateTranscript",
            self.aggregate_fn,
            {
                "job_id": sfn.JsonPath.string_at("$.job_id"),
                "bucket": sfn.JsonPath.string_at("$.bucket"),
                "key": sfn.JsonPath.string_at("$.key"),
                "duration": sfn.JsonPath.number_at("$.audio.duration"),
                "language": sfn.JsonPath.object_at("$.language"),
                "chunks": sfn.JsonPath.list_at("$.audio.chunks"),
            },
            result_path=None,
        )

        requested_language.next(fan_out)
        single_chunk.next(fan_out)
        detect_language.next(fan_out)
        fan_out.next(aggregate).next(sfn.Succeed(self, "JobCompleted"))
        definition = chunk.next(language)
        return sfn.StateMachine(
            self,
            "TranscriptionStateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=cdk.Duration.hours(6),
            tracing_enabled=True,
            # Every state transition, without its input and output: the history is there to follow
            # a job, and the payloads (object keys, chunk lists) stay out of the logs.
            logs=sfn.LogOptions(
                destination=self._log_group("StateMachineLogs"),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,
            ),
        )

    def _grant(self) -> None:
        """One role per function, each with the prefixes and actions its handler really calls.

        Written out rather than through ``grant_read``/``grant_read_write_data``: those add wildcard
        actions (``s3:GetObject*``, ``s3:List*``, ``dynamodb:Batch*``, ``kms:ReEncrypt*``) that no
        handler uses.
        """
        input_objects = self.input_bucket.arn_for_objects("*")
        work_objects = self.results_bucket.arn_for_objects(f"{WORK_PREFIX}/*")
        transcripts = self.results_bucket.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")
        # Multipart uploads (boto3 switches to them above 8 MB) need AbortMultipartUpload on failure.
        put = ["s3:PutObject", "s3:AbortMultipartUpload"]
        s3_access: dict[lambda_.IFunction, list[tuple[list[str], str]]] = {
            self.ingest_fn: [(["s3:GetObject"], input_objects)],
            self.chunk_fn: [(["s3:GetObject"], input_objects), (put, work_objects)],
            self.transcribe_fn: [(["s3:GetObject", *put], work_objects)],
            self.aggregate_fn: [(["s3:GetObject"], work_objects), (put, transcripts)],
            self.fail_fn: [],
        }
        for fn, statements in s3_access.items():
            for actions, resource in statements:
                fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[resource]))
            # Job records: the repository only gets, puts (conditional create) and updates items.
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                    resources=[self.jobs_table.table_arn],
                )
            )
            self._grant_key(fn, encrypt=True)
        # The checkpoint test is a HEAD on a partial that may not exist yet: without ListBucket S3
        # answers 403 instead of 404. Limited to the work/ prefix.
        self.transcribe_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.results_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{WORK_PREFIX}/*"]}},
            )
        )
        # Who publishes what: ingest (created, or failed at intake), chunk (started), transcribe
        # (progress), aggregate (completed), fail and sweeper (failed).
        for fn in (*s3_access, self.sweeper_fn):
            self.event_bus.grant_put_events_to(fn)
        # The sweeper: stale jobs through their index, each read and updated (requeued or failed)
        # on the table, its latest execution's status, and a new execution for a requeued job.
        self.sweeper_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{self.jobs_table.table_arn}/index/{STATUS_INDEX}"]
            )
        )
        self.sweeper_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[self.jobs_table.table_arn]
            )
        )
        self.state_machine.grant_execution(self.sweeper_fn, "states:DescribeExecution")
        self.state_machine.grant_start_execution(self.sweeper_fn)
        self._grant_key(self.sweeper_fn, encrypt=True)
        self.state_machine.grant_start_execution(self.ingest_fn)
        # Content reuse: recent jobs of the same audio, through the index only.
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"], resources=[f"{self.jobs_table.table_arn}/index/{CONTENT_INDEX}"]
            )
        )
        # What Powertools Idempotency calls on its table.
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[self.idempotency_table.table_arn],
            )
        )
        self.ingest_fn.add_to_role_policy(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.ingest_dlq.queue_arn])
        )

    def _grant_api(self) -> None:
        """The API function: jobs and tenants records, uploads, deletes, retries and stops.

        Written out like ``_grant``: only the actions the handler calls, on the narrowest resource.
        """
        fn = self.api_fn
        statements = [
            # Job records: read, create, update (status, deletion); a tenant's list via its index.
            (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [self.jobs_table.table_arn]),
            (["dynamodb:Query"], [f"{self.jobs_table.table_arn}/index/{TENANT_INDEX}"]),
            # Keys (looked up by hash), tenant settings, rate and quota counters (conditional updates).
            (["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], [self.tenants_table.table_arn]),
            # Presigned and inline uploads, only under tenants/<tenant id>/ (upload_key in
            # transcriber/domain/tenants.py); a multipart upload needs its abort.
            (
                ["s3:PutObject", "s3:AbortMultipartUpload"],
                [self.input_bucket.arn_for_objects(f"{TENANTS_PREFIX}/*")],
            ),
            # Deleting a job deletes its audio, which a bucket-dropped job may have under any key.
            (["s3:DeleteObject"], [self.input_bucket.arn_for_objects("*")]),
            # Transcripts to return; a deleted job's intermediate files and outputs.
            (["s3:GetObject"], [self.results_bucket.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")]),
            (
                ["s3:DeleteObject"],
                [
                    self.results_bucket.arn_for_objects(f"{WORK_PREFIX}/*"),
                    self.results_bucket.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*"),
                ],
            ),
        ]
        for actions, resources in statements:
            fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
        # Listing a job's objects to delete them (and a 404 rather than a 403 for a missing
        # transcript), only under the prefixes it may delete from.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.results_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{WORK_PREFIX}/*", f"{TRANSCRIPTS_PREFIX}/*"]}},
            )
        )
        # Retry starts a new execution; delete stops a running one after reading its status.
        self.state_machine.grant_start_execution(fn)
        self.state_machine.grant_execution(fn, "states:StopExecution", "states:DescribeExecution")
        self._grant_key(fn, encrypt=True)

    def _grant_key(self, grantee: iam.IGrantable, *, encrypt: bool) -> None:
        """Use of the customer key (prod): decrypt to read, data keys to write; no wildcards."""
        if self.data_key is None:
            return
        actions = ["kms:Decrypt", "kms:DescribeKey"]
        if encrypt:
            actions += ["kms:Encrypt", "kms:GenerateDataKey"]
        self.data_key.grant(grantee, *actions)
