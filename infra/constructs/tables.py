"""The DynamoDB tables: jobs (with its three indexes), tenants and ingest's idempotency records."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from transcriber.domain.jobs import CONTENT_INDEX, TENANT_INDEX
from transcriber.domain.recovery import STATUS_INDEX
from transcriber.domain.retention import RETENTION_INDEX


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Concern):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, data_key: kms.IKey | None
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._data_key = data_key
        # ``expires_at``: a tenant's transcript retention ends the record (transcriber/domain/retention.py),
        # and a deleted job's tombstone expires (transcriber/adapters/jobs_table.py: TOMBSTONE_TTL).
        self.jobs = self._table("JobsTable", _string("job_id"), time_to_live_attribute="expires_at")
        every_attribute, keys_only = dynamodb.ProjectionType.ALL, dynamodb.ProjectionType.KEYS_ONLY
        indexes = [
            # Recent jobs of the same audio, for reusing a transcript (transcriber/domain/dedup.py).
            (CONTENT_INDEX, "sha256", "created_at", every_attribute),
            # Jobs that have not moved for a while, for the sweeper (transcriber/domain/recovery.py).
            # Keys only: the sweeper reads each candidate again, consistently, before acting on it.
            (STATUS_INDEX, "status", "updated_at", keys_only),
            # A tenant's jobs, newest first, for the HTTP API's list (transcriber/domain/jobs.py).
            (TENANT_INDEX, "tenant_id", "created_at", every_attribute),
            # Jobs with a pending retention deletion (sparse), for the sweeper (domain/retention.py).
            (RETENTION_INDEX, "retention_due", "retention_due_at", keys_only),
        ]
        for index_name, partition_key, sort_key, projection in indexes:
            self.jobs.add_global_secondary_index(
                index_name=index_name,
                partition_key=_string(partition_key),
                sort_key=_string(sort_key),
                projection_type=projection,
            )
        # The HTTP API's tenants: ``key#<sha256 of an API key>`` (keys are stored hashed only),
        # ``tenant#<id>`` (settings, webhook secret) and ``usage#...`` counters, which expire.
        self.tenants = self._table("TenantsTable", _string("pk"), time_to_live_attribute="expires_at")
        # Powertools Idempotency records of ingest: one per delivered upload, expiring after a day.
        self.idempotency = self._table("IdempotencyTable", _string("id"), time_to_live_attribute="expiration")

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
                if self._data_key
                else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=self._data_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=self._config.removal_policy,
        )
