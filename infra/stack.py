"""The transcription stack: buckets, jobs table, event bus, functions and the state machine."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra import bundling
from infra.config import EnvironmentConfig
from transcriber.domain.errors import RETRYABLE_ERROR_NAMES
from transcriber.domain.jobs import TRANSCRIPTS_PREFIX, WORK_PREFIX

METRICS_NAMESPACE = "AudioTranscriber"


class TranscriptionStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        removal = cdk.RemovalPolicy.RETAIN if config.retain_data else cdk.RemovalPolicy.DESTROY
        architecture = (
            lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        )

        bucket_defaults = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "removal_policy": removal,
        }
        self.input_bucket = s3.Bucket(self, "InputBucket", **bucket_defaults)  # type: ignore[arg-type]
        self.results_bucket = s3.Bucket(
            self,
            "ResultsBucket",
            lifecycle_rules=[s3.LifecycleRule(prefix=f"{WORK_PREFIX}/", expiration=cdk.Duration.days(30))],
            **bucket_defaults,  # type: ignore[arg-type]
        )
        self.jobs_table = dynamodb.Table(
            self,
            "JobsTable",
            partition_key=dynamodb.Attribute(name="job_id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal,
        )
        # The bus name is a plain string, not a Ref: it is known at synth time, and moto's Ref of an
        # event bus does not resolve to its name.
        self.event_bus_name = f"{config.stack_name}-jobs"
        self.event_bus = events.EventBus(self, "JobEvents", event_bus_name=self.event_bus_name)
        self.ingest_dlq = sqs.Queue(
            self,
            "IngestDeadLetterQueue",
            retention_period=cdk.Duration.days(14),
            enforce_ssl=True,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
        )

        common_env = {
            "JOBS_TABLE": self.jobs_table.table_name,
            "RESULTS_BUCKET": self.results_bucket.bucket_name,
            "EVENT_BUS_NAME": self.event_bus_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
        }
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
            memory: int,
            timeout_s: int,
            layers: list[lambda_.ILayerVersion],
            env: dict[str, str] | None = None,
        ) -> lambda_.Function:
            log_group = logs.LogGroup(
                self, f"{name.title()}Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=removal
            )
            return lambda_.Function(
                self,
                f"{name.title()}Function",
                runtime=lambda_.Runtime.PYTHON_3_12,
                architecture=architecture,
                handler=f"functions.{name}.handler.handler",
                code=bundling.function_code(name),
                layers=layers,
                memory_size=memory,
                timeout=cdk.Duration.seconds(timeout_s),
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                environment={**common_env, "POWERTOOLS_SERVICE_NAME": f"transcriber-{name}", **(env or {})},
            )

        chunk_env = {
            "MAX_DURATION_SECONDS": str(config.max_duration_minutes * 60),
            "CHUNK_MAX_SECONDS": str(config.chunk_max_seconds),
        }
        self.chunk_fn = zip_function(
            "chunk", memory=2048, timeout_s=900, layers=[deps_layer, ffmpeg_layer], env=chunk_env
        )
        self.aggregate_fn = zip_function("aggregate", memory=1024, timeout_s=300, layers=[deps_layer])
        self.fail_fn = zip_function("fail", memory=256, timeout_s=60, layers=[deps_layer])

        transcribe_logs = logs.LogGroup(
            self, "TranscribeLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=removal
        )
        self.transcribe_fn = lambda_.DockerImageFunction(
            self,
            "TranscribeFunction",
            code=bundling.transcribe_image_code(),
            architecture=architecture,
            memory_size=config.transcribe_memory_mb,
            timeout=cdk.Duration.seconds(config.transcribe_timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=transcribe_logs,
            environment={
                **common_env,
                "POWERTOOLS_SERVICE_NAME": "transcriber-transcribe",
                "TRANSCRIBE_ENGINE": config.engine,
                "WHISPER_CPU_THREADS": "2",
            },
        )

        self.state_machine = self._state_machine()
        self.ingest_fn = zip_function(
            "ingest",
            memory=512,
            timeout_s=300,
            layers=[deps_layer],
            env={
                "STATE_MACHINE_ARN": self.state_machine.state_machine_arn,
                "MAX_UPLOAD_BYTES": str(config.max_upload_mb * 1024 * 1024),
            },
        )
        self.ingest_fn.configure_async_invoke(retry_attempts=2)
        # Events S3 could not deliver after Lambda's async retries are kept, not lost.
        cfn_ingest = self.ingest_fn.node.default_child
        assert isinstance(cfn_ingest, lambda_.CfnFunction)
        cfn_ingest.dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
            target_arn=self.ingest_dlq.queue_arn
        )
        self.ingest_dlq.grant_send_messages(self.ingest_fn)
        self.input_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.ingest_fn)
        )

        self._grant()
        cdk.CfnOutput(self, "InputBucketName", value=self.input_bucket.bucket_name)
        cdk.CfnOutput(self, "ResultsBucketName", value=self.results_bucket.bucket_name)
        cdk.CfnOutput(self, "JobsTableName", value=self.jobs_table.table_name)
        cdk.CfnOutput(self, "EventBusName", value=self.event_bus_name)
        cdk.CfnOutput(self, "StateMachineArn", value=self.state_machine.state_machine_arn)

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

        def retried(task: tasks.LambdaInvoke, attempts: int) -> tasks.LambdaInvoke:
            task.add_retry(
                errors=retryable,
                interval=cdk.Duration.seconds(2),
                max_attempts=attempts,
                backoff_rate=2.0,
                jitter_strategy=sfn.JitterType.FULL,
            )
            task.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")
            return task

        chunk = retried(
            tasks.LambdaInvoke(
                self,
                "ChunkAudio",
                lambda_function=self.chunk_fn,
                payload=sfn.TaskInput.from_object(
                    {
                        "job_id": sfn.JsonPath.string_at("$.job_id"),
                        "bucket": sfn.JsonPath.string_at("$.bucket"),
                        "key": sfn.JsonPath.string_at("$.key"),
                    }
                ),
                payload_response_only=True,
                result_path="$.audio",
                retry_on_service_exceptions=False,
            ),
            attempts=3,
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
            },
            max_concurrency=self.config.map_max_concurrency,
            result_path="$.transcripts",
        )
        fan_out.item_processor(transcribe)
        fan_out.add_catch(mark_failed, errors=["States.ALL"], result_path="$.error")

        aggregate = retried(
            tasks.LambdaInvoke(
                self,
                "AggregateTranscript",
                lambda_function=self.aggregate_fn,
                payload=sfn.TaskInput.from_object(
                    {
                        "job_id": sfn.JsonPath.string_at("$.job_id"),
                        "bucket": sfn.JsonPath.string_at("$.bucket"),
                        "key": sfn.JsonPath.string_at("$.key"),
                        "duration": sfn.JsonPath.number_at("$.audio.duration"),
                        "transcripts": sfn.JsonPath.list_at("$.transcripts"),
                    }
                ),
                payload_response_only=True,
                retry_on_service_exceptions=False,
            ),
            attempts=3,
        )

        definition = chunk.next(fan_out).next(aggregate).next(sfn.Succeed(self, "JobCompleted"))
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=cdk.RemovalPolicy.RETAIN if self.config.retain_data else cdk.RemovalPolicy.DESTROY,
        )
        return sfn.StateMachine(
            self,
            "TranscriptionStateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=cdk.Duration.hours(6),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR),
        )

    def _grant(self) -> None:
        self.input_bucket.grant_read(self.ingest_fn)
        self.input_bucket.grant_read(self.chunk_fn)
        self.results_bucket.grant_put(self.chunk_fn, f"{WORK_PREFIX}/*")
        self.results_bucket.grant_read(self.transcribe_fn, f"{WORK_PREFIX}/*")
        self.results_bucket.grant_put(self.transcribe_fn, f"{WORK_PREFIX}/*")
        self.results_bucket.grant_read(self.aggregate_fn, f"{WORK_PREFIX}/*")
        self.results_bucket.grant_put(self.aggregate_fn, f"{TRANSCRIPTS_PREFIX}/*")
        for fn in (self.ingest_fn, self.chunk_fn, self.transcribe_fn, self.aggregate_fn, self.fail_fn):
            self.jobs_table.grant_read_write_data(fn)
        for fn in (self.ingest_fn, self.aggregate_fn, self.fail_fn):
            self.event_bus.grant_put_events_to(fn)
        self.state_machine.grant_start_execution(self.ingest_fn)
