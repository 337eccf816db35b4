"""Posting to WebSocket connections through API Gateway's management API (``@connections``).

In AWS the endpoint is the WebSocket API's stage URL; ``make serve`` points it at its own
WebSocket server, which answers the same ``POST`` and ``DELETE /@connections/{id}``
(localrun/live_server.py).

Each connection's failure is classified for the stage (transcriber/stages/live_status.py), which
posts to every subscriber whatever the others did: gone (False), may pass later (RetryableError)
or cannot pass for this connection and message (PushRefusedError). Closing a connection (its
credential no longer holds) is classified the same way, a gone one being closed already.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import ClientError

from transcriber.adapters.aws_clients import CLIENT_CONFIG
from transcriber.adapters.retry import is_retryable_client_error, translate_client_errors
from transcriber.domain.errors import PermanentError, RetryableError

#: The management API's throttling answer (429): the SDK retries it, then so does the job event.
_THROTTLED_CODES = frozenset({"LimitExceededException", "TooManyRequestsException"})


class PushRefusedError(PermanentError):
    """The management API refused this message for this connection (forbidden, too large, ...)."""

    reason_code = "PUSH_REFUSED"


def _is_transient(err: ClientError) -> bool:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _THROTTLED_CODES or status == 429 or is_retryable_client_error(err)


def _classified(call: str, connection_id: str, err: ClientError) -> RetryableError | PushRefusedError:
    if _is_transient(err):
        return RetryableError(f"{call} {connection_id}: {err}")
    return PushRefusedError(f"{call} {connection_id}: {err}")


class ConnectionPoster:
    def __init__(self, endpoint_url: str, client: Any | None = None) -> None:
        self._client = client or boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint_url, config=CLIENT_CONFIG
        )

    @translate_client_errors  # network faults and 5xx: RetryableError
    def __call__(self, connection_id: str, data: bytes) -> bool:
        """Deliver ``data``; False when the connection is gone (closed, or never existed).

        Raises RetryableError when throttled or the service or network failed, PushRefusedError
        for any other refusal (ForbiddenException, PayloadTooLargeException, ...)."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return False
        except ClientError as err:
            raise _classified("post_to_connection", connection_id, err) from err
        return True

    @translate_client_errors
    def close(self, connection_id: str) -> None:
        """Close the connection (API Gateway then runs its ``$disconnect``); one that is gone
        already is done. Raises RetryableError or PushRefusedError as posting does."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except self._client.exceptions.GoneException:
            return
        except ClientError as err:
            raise _classified("delete_connection", connection_id, err) from err
