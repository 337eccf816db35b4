"""``make serve``'s live status: API Gateway's WebSocket API, played locally by ``websockets``.

moto stores no WebSocket API that runs, so this does API Gateway's part with the same deployed
functions as AWS: each handshake becomes a ``$connect`` event for functions/live (a non-2xx
answer refuses the socket), each message a route event chosen by its ``action``
(``$request.body.action``), each close a ``$disconnect``. The pusher (functions/pusher) posts
with boto3's ``apigatewaymanagementapi`` client; its endpoint is pointed here, where a small
HTTP server answers ``POST /@connections/{id}`` by sending the body to that socket and ``DELETE``
by closing it (410 GoneException when it is closed), as the management API does.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection, serve

from localrun.pipeline import LocalPipeline

STAGE = "live"
SUBPROTOCOL = "transcriber.v1"


class LiveServer:
    """A WebSocket server on 127.0.0.1 in front of the deployed live-status functions."""

    def __init__(self, pipeline: LocalPipeline, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pipeline = pipeline
        self._lambda = pipeline.aws.client("lambda")
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for o in pipeline.aws.client("cloudformation").describe_stacks(StackName=pipeline.stack_name)[
                "Stacks"
            ][0]["Outputs"]
        }
        self.routes_function = outputs["LiveFunctionName"]
        self.pusher_function = outputs["PusherFunctionName"]
        self.api_function = pipeline.stack.api_function
        self.sockets: dict[str, ServerConnection] = {}
        #: messages the pusher delivered through @connections (the tests and the bench read it)
        self.delivered = 0
        self._lock = threading.Lock()
        self.ws = serve(
            self._session,
            host,
            port,
            process_request=self._connect,
            select_subprotocol=self._subprotocol,
            server_header=None,
        )
        self.management = ThreadingHTTPServer((host, 0), self._management_handler())
        self.management.daemon_threads = True
        self._threads = [
            threading.Thread(target=self.ws.serve_forever, name="live-ws", daemon=True),
            threading.Thread(target=self.management.serve_forever, name="live-management", daemon=True),
        ]

    @property
    def url(self) -> str:
        host, port = self.ws.socket.getsockname()[:2]
        return f"ws://{host}:{port}/"

    @property
    def management_url(self) -> str:
        host, port = self.management.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Serve, and point the pusher at the management endpoint and the API at the socket URL."""
        overrides = self.pipeline.aws.runtime.function_overrides
        extra = {
            self.pusher_function: {"WEBSOCKET_MANAGEMENT_URL": self.management_url},
            self.api_function: {"LIVE_STATUS_URL": self.url},
        }

        def with_live(function_name: str) -> dict[str, str]:
            return {**(overrides(function_name) if overrides else {}), **extra.get(function_name, {})}

        self.pipeline.aws.runtime.function_overrides = with_live
        self._restore = overrides
        for thread in self._threads:
            thread.start()
        return self.url

    def stop(self) -> None:
        self.ws.shutdown()
        self.management.shutdown()
        self.management.server_close()
        self.pipeline.aws.runtime.function_overrides = self._restore

    # API Gateway's part -----------------------------------------------------------------------

    def _event(self, route: str, connection_id: str, event_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "requestContext": {
                "routeKey": route,
                "eventType": event_type,
                "connectionId": connection_id,
                "stage": STAGE,
                "apiId": "local",
                "domainName": "127.0.0.1",
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
            },
            "isBase64Encoded": False,
            **extra,
        }

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        resp = self._lambda.invoke(FunctionName=self.routes_function, Payload=json.dumps(event).encode())
        payload = resp["Payload"].read()
        if resp.get("FunctionError"):
            sys.stderr.write(f"live function error: {payload[:2000]!r}\n")
            return {"statusCode": 500, "body": json.dumps({"message": "Internal server error"})}
        return dict(json.loads(payload))

    def _connect(self, connection: ServerConnection, request: Request) -> Response | None:
        connection_id = uuid.uuid4().hex
        headers = {name: value for name, value in request.headers.raw_items()}
        query = dict(parse_qsl(urlsplit(request.path).query))
        answer = self._invoke(
            self._event(
                "$connect", connection_id, "CONNECT", headers=headers, queryStringParameters=query or None
            )
        )
        status = int(answer.get("statusCode") or 500)
        if status // 100 != 2:
            body = str(answer.get("body") or "").encode()
            return Response(status, "Refused", Headers([("Content-Length", str(len(body)))]), body)
        connection.connection_id = connection_id  # type: ignore[attr-defined]
        return None

    @staticmethod
    def _subprotocol(connection: ServerConnection, offered: Any) -> Any:
        return SUBPROTOCOL if SUBPROTOCOL in offered else None

    def _session(self, connection: ServerConnection) -> None:
        connection_id: str = connection.connection_id  # type: ignore[attr-defined]
        with self._lock:
            self.sockets[connection_id] = connection
        try:
            for message in connection:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                try:
                    action = json.loads(text).get("action")
                except (ValueError, AttributeError):
                    action = None
                if action != "subscribe":  # no $default route: API Gateway answers this itself
                    connection.send(json.dumps({"message": "Forbidden", "connectionId": connection_id}))
                    continue
                answer = self._invoke(self._event("subscribe", connection_id, "MESSAGE", body=text))
                connection.send(str(answer.get("body") or ""))  # the route's response (two-way route)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.sockets.pop(connection_id, None)
            self._invoke(self._event("$disconnect", connection_id, "DISCONNECT"))

    def _management_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                path = unquote(urlsplit(self.path).path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix = "/@connections/"
                socket = server.sockets.get(path[len(prefix) :]) if path.startswith(prefix) else None
                if socket is None:
                    return self._answer(410, "GoneException", f"No connection at {path}")
                try:
                    socket.send(body.decode("utf-8"))
                except ConnectionClosed:
                    return self._answer(410, "GoneException", "The connection closed")
                server.delivered += 1
                return self._answer(200)

            def do_DELETE(self) -> None:
                path = unquote(urlsplit(self.path).path)
                prefix = "/@connections/"
                socket = server.sockets.get(path[len(prefix) :]) if path.startswith(prefix) else None
                if socket is None:
                    return self._answer(410, "GoneException", f"No connection at {path}")
                socket.close()  # its session then runs $disconnect
                return self._answer(204)

            def _answer(self, status: int, error: str | None = None, message: str = "") -> None:
                data = json.dumps({"message": message}).encode() if error else b""
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
