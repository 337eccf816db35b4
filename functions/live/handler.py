"""Live status routes of the WebSocket API: ``$connect``, ``subscribe``, ``$disconnect``.

Thin: API Gateway names the route in ``requestContext.routeKey``; the stage
(transcriber/stages/live_status.py) authenticates, records (with the key's public id, which each
push and ``subscribe`` checks against revocation) and answers.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.connections_table import ConnectionRepository
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.api.env import LiveStatusEnv
from transcriber.stages.live_status import LiveStatus

logger = Logger()


def wire(env: LiveStatusEnv) -> LiveStatus:
    """No push port: the routes function answers its caller; functions/pusher pushes."""
    return LiveStatus(
        connections=ConnectionRepository(env.connections_table),
        jobs=JobRepository(env.jobs_table),
        tenants=TenantRepository(env.tenants_table),
    )


aws_clients.build_now(resources=("dynamodb",))
live = wire(LiveStatusEnv.from_env())


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId") or "")
    if route == "$connect":
        return live.connect(
            connection_id, event.get("headers") or {}, event.get("queryStringParameters") or {}
        )
    if route == "$disconnect":
        return live.disconnect(connection_id)
    if route == "subscribe":
        return live.subscribe(connection_id, event.get("body"))
    return {
        "statusCode": 400,
        "body": '{"error":"UNKNOWN_ACTION","message":"Send {\\"action\\": \\"subscribe\\"}."}',
    }
