"""Live job status over a WebSocket: API Gateway's WebSocket API, a connections table, a pusher.

::

    client --$connect (key), subscribe--> live λ --> connections table (TTL)
                                                              ▲ subscribers
    jobs bus --rule--> queue --> pusher λ ────────────────────┘
    client <-- @connections POST (job view) -- pusher λ

``$connect`` is authorized by the route's own function with the HTTP API's keys (the tenants
table): browsers cannot send an Authorization header, so the key arrives as a subprotocol or a
query parameter, which a Lambda authorizer's identity sources cannot take as alternatives. The
connection's record keeps the key's id; the pusher reads the tenants table before each push (is
that key revoked?) and closes the connection through the management API when it is.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import FunctionSizing
from infra.constructs.events import JobEvents
from infra.constructs.functions import Functions
from infra.constructs.permissions import allow
from infra.constructs.rules import job_events_queue, visibility_for
from infra.constructs.tables import Tables
from transcriber.adapters.connections_table import TENANT_INDEX
from transcriber.domain.jobs import JOB_EVENT_TYPES

STAGE_NAME = "live"
ROUTES_SIZING = FunctionSizing(memory_mb=256, timeout_s=10)
PUSHER_SIZING = FunctionSizing(memory_mb=256, timeout_s=30)
#: Status changes are short-lived news: a push older than this is not worth a retry.
MAX_EVENT_AGE = cdk.Duration.minutes(15)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The stage's access log: one JSON line per connect, message and disconnect."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        fields = (
            "requestId",
            "routeKey",
            "eventType",
            "connectionId",
            "status",
            "requestTime",
            "error.message",
        )
        record = {name: f"$context.{name}" for name in fields} | {"ip": "$context.identity.sourceIp"}
        return apigateway.AccessLogFormat.custom(json.dumps(record))


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class LiveStatus(Construct):
    """The WebSocket API, its two functions, the connections table and the events' queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Functions,
        encryption_key: kms.IKey | None,
        job_events: JobEvents,
        tables: Tables,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        jobs_table, tenants_table = tables.jobs, tables.tenants
        self.connections = dynamodb.Table(
            self,
            "ConnectionsTable",
            partition_key=_string("connection_id"),
            sort_key=_string("topic"),
            time_to_live_attribute="expires_at",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=(
                dynamodb.TableEncryption.CUSTOMER_MANAGED
                if encryption_key
                else dynamodb.TableEncryption.AWS_MANAGED
            ),
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )
        self.connections.add_global_secondary_index(
            index_name=TENANT_INDEX,
            partition_key=_string("tenant_id"),
            sort_key=_string("topic"),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
        env = {
            "CONNECTIONS_TABLE": self.connections.table_name,
            "JOBS_TABLE": jobs_table.table_name,
            "TENANTS_TABLE": tenants_table.table_name,
        }
        self.routes_fn = functions.zip_function("live", env=env, sizing=ROUTES_SIZING)
        self.pusher_fn = functions.zip_function("pusher", env=env, sizing=PUSHER_SIZING)

        routes = integrations.WebSocketLambdaIntegration("Routes", self.routes_fn)
        self.api = apigwv2.WebSocketApi(
            self,
            "Api",
            description="Live job status: subscribe to a job or all of the tenant's jobs",
            connect_route_options=apigwv2.WebSocketRouteOptions(integration=routes),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=routes),
        )
        self.api.add_route("subscribe", integration=routes, return_response=True)
        access_logs = functions.log_group(self, "AccessLogs")
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE_NAME,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
            access_log_settings=_AccessLogs(access_logs),
        )
        #: what clients connect to (wss://...) and what the pusher posts to (https://...)
        self.url = self.stage.url
        self.pusher_fn.add_environment("WEBSOCKET_MANAGEMENT_URL", self.stage.callback_url)
        self.stage.grant_management_api_access(self.pusher_fn)
        self._feed_pusher(job_events, encryption_key)
        self._grant(jobs_table, tenants_table, encryption_key)

    def _feed_pusher(self, job_events: JobEvents, key: kms.IKey | None) -> None:
        fed = job_events_queue(
            self, bus_name=job_events.bus_name, bus_dependency=job_events.bus, detail_types=JOB_EVENT_TYPES,
            key=key, description="Job status and progress changes to the live-status pusher",
            retention=MAX_EVENT_AGE, dead_letter_retention=cdk.Duration.days(1), max_receive_count=3,
            visibility_timeout=visibility_for(PUSHER_SIZING.timeout_s),
            retry_attempts=3, max_event_age=MAX_EVENT_AGE,
        )  # fmt: skip
        self.queue, self.dead_letter_queue = fed.queue, fed.dead_letter_queue
        self.pusher_fn.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=cdk.Duration.seconds(0),
                report_batch_item_failures=True,
            )
        )

    def _grant(self, jobs: dynamodb.ITable, tenants: dynamodb.ITable, key: kms.IKey | None) -> None:
        """Only the calls the stage makes (transcriber/adapters/connections_table.py)."""
        table, index = self.connections.table_arn, f"{self.connections.table_arn}/index/{TENANT_INDEX}"
        grants = {
            # $connect and subscribe record; $disconnect reads the connection's items and deletes them.
            self.routes_fn: [
                (
                    ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"],
                    [table],
                ),
                (["dynamodb:GetItem"], [jobs.table_arn]),
                # Keys (looked up by hash) and the per-minute request counter.
                (["dynamodb:GetItem", "dynamodb:UpdateItem"], [tenants.table_arn]),
            ],
            # A job's subscribers via the tenant index, each one's record (the key that opened it)
            # and whether that key is revoked since (tenants, by key id); gone and closed
            # connections deleted.
            self.pusher_fn: [
                (["dynamodb:Query"], [table, index]),
                (["dynamodb:GetItem", "dynamodb:BatchWriteItem"], [table]),
                (["dynamodb:GetItem"], [jobs.table_arn]),
                (["dynamodb:GetItem"], [tenants.table_arn]),
            ],
        }
        for fn, statements in grants.items():
            allow(fn, statements)
            if key is not None:
                key.grant(fn, "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
