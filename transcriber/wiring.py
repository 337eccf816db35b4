"""The shared wiring: ports built once per process from a handler's environment model.

Lambda keeps a process warm between invocations, so the adapters (and the SDK clients inside
them) are built on the first call and reused; a different environment (tests switch moto
contexts) gets fresh ones through :func:`forget`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from transcriber.adapters import aws_clients
from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.adapters.workflow import Workflow
from transcriber.env import FunctionEnv, IngestEnv, WorkflowEnv
from transcriber.stages.ingest import IngestPolicy, IngestPorts
from transcriber.stages.ports import StagePorts

#: Longer than S3's redelivery horizon and Lambda's async retries (up to 6 hours).
IDEMPOTENCY_TTL_S = 24 * 3600
idempotency_config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_S)


@cache
def ports(env: FunctionEnv) -> StagePorts:
    return StagePorts(
        store=ObjectStore(),
        jobs=JobRepository(env.jobs_table),
        events=EventPublisher(env.event_bus_name),
        results_bucket=env.results_bucket,
    )


@cache
def workflow(env: WorkflowEnv) -> Workflow:
    return Workflow(env.state_machine_arn)


@cache
def tenants(table_name: str) -> TenantRepository:
    return TenantRepository(table_name)


def ingest_ports(env: IngestEnv) -> IngestPorts:
    shared = ports(env)
    return IngestPorts(
        store=shared.store,
        jobs=shared.jobs,
        events=shared.events,
        workflow=workflow(env),
        tenants=tenants(env.tenants_table),
    )


def ingest_policy(env: IngestEnv) -> IngestPolicy:
    return IngestPolicy(max_upload_bytes=env.max_upload_bytes, dedup_window_hours=env.dedup_window_hours)


@cache
def once_per_upload(table_name: str, ingest: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """``ingest(upload=...)`` guarded by Powertools Idempotency, keyed on the upload's identity
    (bucket, key, size, ETag and version): a repeated S3 event gets the first delivery's answer."""
    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=aws_clients.client("dynamodb"))
    guard = idempotent_function(
        data_keyword_argument="upload", persistence_store=persistence, config=idempotency_config
    )
    return guard(ingest)


def forget() -> None:
    """Drop every cached port and SDK client (tests that switch AWS contexts)."""
    ports.cache_clear()
    workflow.cache_clear()
    tenants.cache_clear()
    once_per_upload.cache_clear()
    aws_clients.forget()
