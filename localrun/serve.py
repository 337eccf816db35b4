"""``make serve``: the local stack with its HTTP API on 127.0.0.1.

moto's API Gateway stores the REST API but does not run Lambda proxy integrations, so this
server does API Gateway's part: each HTTP request becomes an API Gateway (REST, proxy) event,
the deployed API function is invoked with it through Lambda (moto, then the local runtime's warm
workers, like every other function), and the proxy response becomes the HTTP response.

    python -m localrun.serve [--port 8080] [--engine faster-whisper|pocketsphinx]

It prints the base URL and a development API key, and writes both (with the embedded AWS's
endpoint and the tenants table, for ``transcribe-api keys``) to .local/serve.json.
"""

from __future__ import annotations

import argparse
import base64
import json
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localrun import webapp
from localrun.environment import REPO_ROOT
from localrun.http_thread import ThreadedHttpServer
from localrun.live_server import LiveServer
from localrun.pipeline import LocalPipeline
from transcriber.api import problems

#: API Gateway refuses request bodies over 10 MB before the function sees them.
MAX_BODY_BYTES = 10 * 1024 * 1024
STAGE = "local"
SERVE_FILE = REPO_ROOT / ".local" / "serve.json"
DEV_TENANT = "dev"


def proxy_event(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event API Gateway's REST proxy integration sends for one request."""
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": "/{proxy+}",
        "path": url.path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": url.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{url.path}",
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "protocol": "HTTP/1.1",
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {"sourceIp": source_ip, "userAgent": multi_headers.get("User-Agent", [""])[-1]},
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


class ApiServer(ThreadedHttpServer):
    """An HTTP server on 127.0.0.1 in front of the deployed API function."""

    def __init__(self, pipeline: LocalPipeline, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.pipeline = pipeline
        self.function_name = pipeline.stack.api_function
        #: the live-status WebSocket's origin, which the web app's CSP must let it reach
        self.live_origins: list[str] = []
        self._lambda = pipeline.aws.client("lambda")
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                server.forward(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a request log per poll would drown the console

        super().__init__(Handler, host=host, port=port, name="api-server")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run the API function on one proxy event; a function error is API Gateway's 502.

        ``/v1/search`` goes to the search function, as API Gateway's ``v1/search`` resource does.
        """
        search = self.pipeline.stack.search_function
        target = search if search and event["path"].rstrip("/") == "/v1/search" else self.function_name
        resp = self._lambda.invoke(FunctionName=target, Payload=json.dumps(event).encode())
        payload = resp["Payload"].read()
        if resp.get("FunctionError"):
            sys.stderr.write(f"API function error: {payload[:2000]!r}\n")
            return {"statusCode": 502, "body": json.dumps({"message": "Internal server error"})}
        return dict(json.loads(payload))

    def forward(self, request: BaseHTTPRequestHandler) -> None:
        if webapp.serve(
            request, storage_origins=[self.pipeline.aws.endpoint], live_origins=self.live_origins
        ):
            return
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:  # as API Gateway's REQUEST_TOO_LARGE GatewayResponse answers
            for start in range(0, length, 1 << 20):  # read and drop it, so the client reads the answer
                request.rfile.read(min(1 << 20, length - start))
            problem, request.close_connection = problems.request_too_large(), True
            headers = {"Content-Type": problems.PROBLEM_CONTENT_TYPE}
            self._reply(request, {"statusCode": 413, "headers": headers, "body": json.dumps(problem.body())})
            return
        body = request.rfile.read(length) if length else b""
        event = proxy_event(
            request.command, request.path, list(request.headers.items()), body, request.client_address[0]
        )
        self._reply(request, self.invoke(event))

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
        body = response.get("body") or ""
        data = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
        request.send_response(int(response.get("statusCode", 502)))
        headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (response.get("headers") or {}).items()]
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers += [(name, str(v)) for v in values if (name, str(v)) not in headers]
        for name, value in headers:
            if name.lower() not in ("content-length", "connection"):
                request.send_header(name, value)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)


def dev_key(pipeline: LocalPipeline, tenant_id: str = DEV_TENANT) -> str:
    """A fresh API key for a development tenant of the local stack."""
    from transcriber.adapters.tenants_table import TenantRepository

    tenants = TenantRepository(pipeline.stack.tenants_table, resource=pipeline.aws.resource("dynamodb"))
    api_key, _, _ = tenants.create_key(tenant_id)
    return api_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localrun.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0: any)")
    parser.add_argument("--engine", choices=("faster-whisper", "pocketsphinx"), default=None)
    parser.add_argument("--env", default="dev", help="environment settings from cdk.json (default: dev)")
    args = parser.parse_args(argv)
    overrides = {"engine": args.engine} if args.engine else {}
    print("Starting the local stack (synthesize, deploy, warm the workers)...", file=sys.stderr)
    with LocalPipeline(env_name=args.env, overrides=overrides) as pipeline:
        server = ApiServer(pipeline, port=args.port)
        base_url = server.start()
        live = LiveServer(pipeline)
        live_url = live.start()
        server.live_origins = [live_url.rstrip("/")]
        api_key = dev_key(pipeline)
        SERVE_FILE.parent.mkdir(parents=True, exist_ok=True)
        SERVE_FILE.write_text(
            json.dumps(
                {
                    "base_url": base_url,
                    "api_key": api_key,
                    "aws_endpoint_url": pipeline.aws.endpoint,
                    "tenants_table": pipeline.stack.tenants_table,
                    "live_status_url": live_url,
                },
                indent=2,
            )
        )
        print(f"Web app:  {base_url}/")
        print(f"API:      {base_url}/v1  (OpenAPI: {base_url}/v1/openapi.json)")
        print(f"API key:  {api_key}  (tenant {DEV_TENANT!r})")
        print(f"Live:     {live_url}  (WebSocket: subprotocols transcriber.v1, key.<API key>)")
        print(f"Try:      curl -H 'Authorization: Bearer {api_key}' {base_url}/v1/transcriptions")
        mint = f"python -m localrun.tokens mint --tenant {DEV_TENANT}"
        print(f'JWT:      curl -H "Authorization: Bearer $({mint})" {base_url}/v1/transcriptions')
        print(f"Settings: {Path(SERVE_FILE).relative_to(REPO_ROOT)}; Ctrl-C stops the stack.", flush=True)
        stopped = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopped.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        stopped.wait()
        live.stop()
        server.stop()
        SERVE_FILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
