"""The transcription stack: the constructs of each concern (infra/constructs/), composed.

Resources keep the logical ids they had when this stack was one flat file (see
infra/constructs/concern.py), so a deployment made before the split is updated in place.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch_actions as cw_actions
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.api import ApiService
from infra.constructs.concern import keep_flat_logical_ids
from infra.constructs.events import JobEvents
from infra.constructs.firewall import ApiFirewall
from infra.constructs.functions import METRICS_NAMESPACE, Functions
from infra.constructs.identity import trusted_issuer
from infra.constructs.live_status import LiveStatus
from infra.constructs.monitoring import Monitoring
from infra.constructs.pipeline import Pipeline
from infra.constructs.search import Search
from infra.constructs.storage import Storage
from infra.constructs.sweeper import Sweeper
from infra.constructs.tables import Tables
from infra.constructs.web_hosting import WebHosting
from infra.constructs.webhooks import Webhooks

#: CDK context key: False leaves the web app's hosting out (the local runtime's synth).
WEB_HOSTING = "transcriber:web-hosting"


class TranscriptionStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        storage = Storage(self, "Storage", config=config)
        tables = Tables(self, "Tables", config=config, data_key=storage.data_key)
        job_events = JobEvents(self, "Events", config=config, storage=storage)
        functions = Functions(
            self,
            "Functions",
            config=config,
            common_env={
                "JOBS_TABLE": tables.jobs.table_name,
                "RESULTS_BUCKET": storage.results_bucket.bucket_name,
                "EVENT_BUS_NAME": job_events.bus_name,
            },
        )
        pipeline = Pipeline(
            self,
            "Pipeline",
            config=config,
            storage=storage,
            tables=tables,
            job_events=job_events,
            functions=functions,
        )
        sweeper = Sweeper(
            self,
            "Sweeper",
            functions=functions,
            state_machine=pipeline.state_machine,
            storage=storage,
            tables=tables,
            job_events=job_events,
        )
        issuer, self.users = trusted_issuer(self, config)
        api = ApiService(
            self,
            "ApiService",
            config=config,
            rest_api_scope=self,
            functions=functions,
            storage=storage,
            tables=tables,
            state_machine=pipeline.state_machine,
            issuer_env=issuer.env(),
        )
        self.firewall = ApiFirewall(
            self,
            "ApiFirewall",
            stage_arn=api.http_api.stage_arn,
            name_prefix=config.stack_name,
            requests_per_5_min_per_ip=config.waf.requests_per_5_min_per_ip,
            blocked_alarm_threshold=config.waf.blocked_alarm_threshold,
        )
        self.firewall.node.add_dependency(api.http_api.rest_api.deployment_stage)
        # Webhooks: job outcomes POSTed, signed, to their callback_url (functions/notifier).
        self.webhooks = Webhooks(
            self,
            "Webhooks",
            job_events=job_events,
            tables=tables,
            function_factory=lambda env: functions.zip_function("notifier", env=env),
            encryption_key=storage.data_key,
        )
        # Search (docs/search.md): the index kept by job events, GET /v1/search, its schedule.
        self.search = Search(
            self, "Search", functions=functions, storage=storage, tables=tables, job_events=job_events,
            api=api, issuer_env=issuer.env(),
        )  # fmt: skip

        # Live status: job changes pushed over a WebSocket (functions/live, functions/pusher).
        self.live_status = LiveStatus(
            self,
            "LiveStatus",
            functions=functions,
            encryption_key=storage.data_key,
            job_events=job_events,
            tables=tables,
            removal_policy=config.removal_policy,
        )
        api.function.add_environment("LIVE_STATUS_URL", self.live_status.url)
        # The web app: web/ and the JS SDK from a private bucket behind CloudFront, the API beside it.
        self.web: WebHosting | None = None
        if self.node.try_get_context(WEB_HOSTING) is not False:  # the local runtime serves it itself
            self.web = WebHosting(
                self,
                "WebApp",
                rest_api=api.http_api.rest_api,
                upload_bucket=storage.input_bucket,
                download_bucket=storage.results_bucket,
                access_logs_bucket=storage.access_logs_bucket,
                live_status_url=self.live_status.url,
                removal_policy=config.removal_policy,
                web_acl_arn=config.web_acl_arn,
            )

        # What the cdk-nag acknowledgements, the tests and the local runtime refer to.
        self.data_key = storage.data_key
        self.input_bucket, self.results_bucket = storage.input_bucket, storage.results_bucket
        self.jobs_table, self.tenants_table = tables.jobs, tables.tenants
        self.idempotency_table = tables.idempotency
        self.event_bus, self.event_bus_name = job_events.bus, job_events.bus_name
        self.state_machine = pipeline.state_machine
        self.ingest_fn, self.chunk_fn = pipeline.ingest_fn, pipeline.chunk_fn
        self.transcribe_fn, self.aggregate_fn = pipeline.transcribe_fn, pipeline.aggregate_fn
        self.fail_fn, self.sweeper_fn = pipeline.fail_fn, sweeper.function
        self.malware_protection = pipeline.malware_protection
        self.api_fn, self.api = api.function, api.http_api
        self.notifier_fn = self.webhooks.function
        self.ingest_dlq, self.execution_failures_dlq = pipeline.ingest_dlq, pipeline.execution_failures_dlq
        self.job_outcomes_dlq, self.job_outcomes_queue = (
            job_events.job_outcomes_dlq,
            job_events.job_outcomes_queue,
        )

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
                "search": self.search.search_fn,
                "indexer": self.search.indexer_fn,
                "search-maintenance": self.search.maintenance_fn,
            },
            dead_letter_queues={
                "ingest": self.ingest_dlq,
                "execution-failures": self.execution_failures_dlq,
                "job-outcomes": self.job_outcomes_dlq,
                "webhooks": self.webhooks.dead_letter_queue,
                "search-index": self.search.dead_letter_queue,
            },
            metrics_namespace=METRICS_NAMESPACE,
            topic_key=self.data_key,
        )
        self.firewall.blocked_alarm.add_alarm_action(cw_actions.SnsAction(self.monitoring.topic))
        self._outputs()
        keep_flat_logical_ids(self)

    def _outputs(self) -> None:
        outputs = {
            "InputBucketName": self.input_bucket.bucket_name,
            "ResultsBucketName": self.results_bucket.bucket_name,
            "JobsTableName": self.jobs_table.table_name,
            "EventBusName": self.event_bus_name,
            "StateMachineArn": self.state_machine.state_machine_arn,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "JobOutcomesQueueUrl": self.job_outcomes_queue.queue_url,
            "SweeperFunctionName": self.sweeper_fn.function_name,
            "ApiUrl": self.api.url,
            "ApiFunctionName": self.api_fn.function_name,
            "TenantsTableName": self.tenants_table.table_name,
            "NotifierFunctionName": self.notifier_fn.function_name,
            "WebhooksDeadLetterQueueUrl": self.webhooks.dead_letter_queue.queue_url,
            "SearchFunctionName": self.search.search_fn.function_name,
            "SearchMaintenanceFunctionName": self.search.maintenance_fn.function_name,
            "LiveStatusUrl": self.live_status.url,
            "LiveFunctionName": self.live_status.routes_fn.function_name,
            "PusherFunctionName": self.live_status.pusher_fn.function_name,
        }
        for output_id, value in outputs.items():
            cdk.CfnOutput(self, output_id, value=value)
