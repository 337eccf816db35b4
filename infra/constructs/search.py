"""Search across a tenant's transcripts (docs/search.md): the index, the functions that keep and
read it, and ``GET /v1/search`` on the HTTP API.

The index is LanceDB on S3 under ``search-index/`` in the results bucket (derived data beside the
transcripts it is made from). Completed and Deleted job events go from the jobs bus to a queue
(with a dead-letter queue) that the indexer drains in batches; a schedule compacts the index.
The engine is over a zip's size limit, so the three functions are container images, built only
at deploy time; the local runtime runs them from their build context in cdk.out.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.bundling import REPO_ROOT
from infra.config import FunctionSizing
from infra.constructs.api import ApiService
from infra.constructs.concern import Concern
from infra.constructs.events import JobEvents
from infra.constructs.functions import Functions
from infra.constructs.permissions import list_bucket
from infra.constructs.pipeline import PUT_OBJECT
from infra.constructs.rules import schedule, visibility_for
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, TENANT_INDEX, TRANSCRIPTS_PREFIX
from transcriber.domain.search import EVENT_JOB_DELETED

INDEX_PREFIX = "search-index"
# The same in every environment (like the sweeper's): no cdk.json entries.
SEARCH_SIZING = FunctionSizing(memory_mb=1024, timeout_s=29)  # API Gateway waits 29 s at most
INDEXER_SIZING = FunctionSizing(memory_mb=1024, timeout_s=120)
MAINTENANCE_SIZING = FunctionSizing(memory_mb=2048, timeout_s=900)
#: Events per indexer invocation, and how long SQS may gather them (one LanceDB commit each).
INDEXER_BATCH = 10
MAINTAIN_EVERY = cdk.Duration.minutes(15)


def image_code(name: str, handler: str) -> lambda_.DockerImageCode:
    """The search engine's image (``functions/search/Dockerfile``) with ``functions/<name>/`` in it
    and ``handler`` as its command (so the local runtime knows what to run from the build context)."""
    return lambda_.DockerImageCode.from_image_asset(
        str(REPO_ROOT),
        file="functions/search/Dockerfile",
        build_args={"FUNCTION": name},
        ignore_mode=cdk.IgnoreMode.DOCKER,
        exclude=["*", "!functions", "!transcriber", "**/__pycache__", "**/*.pyc"],
        cmd=[handler],
        # One image asset per command: the local runtime finds a function's handler by its image
        # tag, and the indexer and the maintenance function share a package.
        extra_hash=handler,
    )


class Search(Concern):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        storage: Storage,
        tables: Tables,
        job_events: JobEvents,
        api: ApiService,
        issuer_env: Mapping[str, str] | None = None,
    ) -> None:
        """``issuer_env``: the bearer-JWT settings the API function gets (``TrustedIssuer.env()``,
        infra/constructs/identity.py): the search function authenticates the same callers."""
        super().__init__(scope, construct_id)
        results = storage.results_bucket
        self.index_uri = f"s3://{results.bucket_name}/{INDEX_PREFIX}"
        self.index_objects = results.arn_for_objects(f"{INDEX_PREFIX}/*")
        env = {"SEARCH_INDEX_URI": self.index_uri}
        self.indexer_fn = self._function(functions, "indexer", "IndexerFunction", INDEXER_SIZING, env)
        self.maintenance_fn = self._function(
            functions,
            "indexer",
            "SearchMaintenanceFunction",
            MAINTENANCE_SIZING,
            env,
            handler="functions.indexer.operations.handler",
        )
        search_env = {**env, "TENANTS_TABLE": tables.tenants.table_name, **(issuer_env or {})}
        self.search_fn = self._function(functions, "search", "SearchFunction", SEARCH_SIZING, search_env)
        self._queue(storage, job_events)
        # Deleting a job through the API announces it on the bus (the indexer removes it).
        job_events.bus.grant_put_events_to(api.function)
        self._route(api)
        self._schedule()
        self._grant(storage, tables)

    def _function(
        self,
        functions: Functions,
        name: str,
        construct_id: str,
        sizing: FunctionSizing,
        env: dict[str, str],
        *,
        handler: str | None = None,
    ) -> lambda_.DockerImageFunction:
        handler = handler or f"functions.{name}.handler.handler"
        service = construct_id.removesuffix("Function").lower()
        return lambda_.DockerImageFunction(
            self,
            construct_id,
            code=image_code(name, handler),
            architecture=functions.architecture,
            memory_size=sizing.memory_mb,
            timeout=cdk.Duration.seconds(sizing.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=functions.log_group(self, f"{construct_id.removesuffix('Function')}Logs"),
            environment={**functions.common_env, "POWERTOOLS_SERVICE_NAME": f"transcriber-{service}", **env},
            reserved_concurrent_executions=1 if handler.endswith("operations.handler") else None,
        )

    def _queue(self, storage: Storage, job_events: JobEvents) -> None:
        """Completed and Deleted events -> queue -> indexer (batched; failures per message)."""
        index_queue = job_events.queue(
            self, "SearchIndex", [EVENT_JOB_COMPLETED, EVENT_JOB_DELETED], key=storage.data_key,
            description="Keep the search index in step: completed jobs are indexed, deleted ones removed",
            visibility_timeout=visibility_for(INDEXER_SIZING.timeout_s),
        )  # fmt: skip
        self.dead_letter_queue, self.queue = index_queue.dead_letter_queue, index_queue.queue
        self.indexer_fn.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=INDEXER_BATCH,
                max_batching_window=cdk.Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )

    def _route(self, api: ApiService) -> None:
        """``GET /v1/search`` to the search function; the rest of ``/v1`` stays the API function's."""
        rest_api = api.http_api.rest_api
        v1 = rest_api.root.add_resource("v1")
        v1.add_proxy(default_integration=apigateway.LambdaIntegration(api.function), any_method=True)
        v1.add_resource("search").add_method("GET", apigateway.LambdaIntegration(self.search_fn))

    def _schedule(self) -> None:
        """A missed compaction is harmless (the next one does it), so no dead-letter queue."""
        what = "Compact the search index (fold new rows into the full-text index)"
        ten_minutes = cdk.Duration.minutes(10)
        schedule(
            self,
            "SearchMaintenanceSchedule",
            what,
            self.maintenance_fn,
            MAINTAIN_EVERY,
            retries=1,
            max_age=ten_minutes,
        )

    def _grant(self, storage: Storage, tables: Tables) -> None:
        """Only the actions each function calls, on the index's prefix: the indexer and the
        maintenance function list, read, write and (removing a job, compacting) delete its files
        and create the table; the public search function only lists and reads them."""
        results, jobs_arn = storage.results_bucket, tables.jobs.table_arn
        list_index = list_bucket(results, [f"{INDEX_PREFIX}/*", INDEX_PREFIX])
        write_index = iam.PolicyStatement(
            actions=["s3:GetObject", "s3:DeleteObject", *PUT_OBJECT], resources=[self.index_objects]
        )
        transcripts = iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[results.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")]
        )
        for fn in (self.indexer_fn, self.maintenance_fn):
            for statement in (list_index, write_index, transcripts):
                fn.add_to_role_policy(statement)
            fn.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:GetItem"], resources=[jobs_arn]))
            storage.grant_key(fn, encrypt=True)
        self.maintenance_fn.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{jobs_arn}/index/{TENANT_INDEX}"])
        )
        # The search function reads the index (answering "no hits" until the indexer has made it),
        # and authenticates and rate-limits like the API (tenants table: key lookup, counters).
        self.search_fn.add_to_role_policy(list_index)
        self.search_fn.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.index_objects])
        )
        self.search_fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[tables.tenants.table_arn]
            )
        )
        storage.grant_key(self.search_fn, encrypt=False)
