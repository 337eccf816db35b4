"""Posting to WebSocket connections through API Gateway's management API (``@connections``).

In AWS the endpoint is the WebSocket API's stage URL; ``make serve`` points it at its own
WebSocket server, which answers the same ``POST /@connections/{id}`` (localrun/live_server.py).
"""

from __future__ import annotations

from typing import Any

import boto3

from transcriber.adapters.aws_clients import CLIENT_CONFIG


class ConnectionPoster:
    def __init__(self, endpoint_url: str, client: Any | None = None) -> None:
        self._client = client or boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )

    def __call__(self, connection_id: str, data: bytes) -> bool:
        """Deliver ``data``; False when the connection is gone (closed, or never existed)."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return False
        return True
