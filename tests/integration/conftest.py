"""One local stack per test session: the synthesized template deployed into the embedded AWS."""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localrun.environment import RuntimeSettings
from localrun.live_server import LiveServer
from localrun.pipeline import LocalPipeline
from localrun.serve import ApiServer
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain.jobs import EVENT_SOURCE


@pytest.fixture(scope="session")
def pipeline() -> Iterator[LocalPipeline]:
    # The real engine (faster-whisper, Whisper base int8). Short chunks so that the 22.6 s sample
    # is split and the Map really fans out over two warm workers.
    with LocalPipeline(
        overrides={"engine": "faster-whisper", "max_chunk_seconds": 8}, runtime=RuntimeSettings(concurrency=2)
    ) as running:
        yield running


class EventTap:
    """An SQS queue behind an EventBridge rule on the jobs bus: what a downstream consumer sees."""

    def __init__(self, pipeline: LocalPipeline) -> None:
        self._sqs = pipeline.aws.client("sqs")
        events = pipeline.aws.client("events")
        self.url = self._sqs.create_queue(QueueName="job-events-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = pipeline.stack.event_bus
        events.put_rule(
            Name="all-job-events", EventBusName=bus, EventPattern=json.dumps({"source": [EVENT_SOURCE]})
        )
        events.put_targets(Rule="all-job-events", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        self.seen: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while True:
            resp = self._sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = resp.get("Messages", [])
            if not messages:
                return self.seen
            for message in messages:
                self.seen.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e["detail"].get("job_id") == job_id]

    def until(self, job_id: str, detail_type: str, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        """The job's events once ``detail_type`` is among them: a stage records the job's status
        before it publishes the event, so a poller can see the status first."""
        deadline = time.monotonic() + timeout_s
        while True:
            events = self.for_job(job_id)
            if any(e["detail-type"] == detail_type for e in events) or time.monotonic() > deadline:
                return events
            time.sleep(0.2)


@pytest.fixture(scope="session")
def event_tap(pipeline: LocalPipeline) -> EventTap:
    return EventTap(pipeline)


# The HTTP API ---------------------------------------------------------------------------------


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """A plain HTTP client for the tests: what curl would send, nothing the SDK adds."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        url = path if path.startswith("http") else self.base_url + path
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            sent.setdefault("Content-Type", "application/json")
        elif data is not None:
            sent.setdefault("Content-Type", "application/octet-stream")
        req = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return HttpResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
        except urllib.error.HTTPError as err:
            return HttpResponse(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@dataclass
class ApiTenant:
    tenant_id: str
    key: str
    webhook_secret: str


@dataclass
class Api:
    server: ApiServer
    http: Http
    tenants: TenantRepository

    def tenant(
        self, tenant_id: str, *, jobs_per_day: int = 10_000, requests_per_minute: int = 100_000
    ) -> ApiTenant:
        api_key, _, tenant = self.tenants.create_key(
            tenant_id, jobs_per_day=jobs_per_day, requests_per_minute=requests_per_minute
        )
        return ApiTenant(tenant_id, api_key, tenant.webhook_secret)

    def create(self, tenant: ApiTenant, **body: Any) -> HttpResponse:
        """POST /v1/transcriptions as the tenant, with `body` as its JSON."""
        return self.http.request("POST", "/v1/transcriptions", key=tenant.key, json_body=body)

    def wait(
        self, tenant: ApiTenant, job_id: str, timeout_s: float = 300, poll_s: float = 0.5
    ) -> dict[str, Any]:
        """Poll the job as its tenant until it is COMPLETED or FAILED; fail the test past `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.http.request("GET", f"/v1/transcriptions/{job_id}", key=tenant.key).json()
            if job["status"] in ("COMPLETED", "FAILED"):
                return dict(job)
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']}: {job}"
            time.sleep(poll_s)


def tenant_fixture(prefix: str) -> Any:
    """A module-scoped fixture that makes a new tenant named `prefix-<random>` (assign it to the
    name the tests ask for: pytest names a fixture after the module attribute that holds it)."""

    @pytest.fixture(scope="module")
    def fresh_tenant(api: Api) -> ApiTenant:
        return api.tenant(f"{prefix}-{uuid.uuid4().hex[:6]}")

    return fresh_tenant


@pytest.fixture(scope="session")
def api(pipeline: LocalPipeline) -> Iterator[Api]:
    """``make serve``'s server on the session's stack: HTTP in, API Gateway proxy events out."""
    server = ApiServer(pipeline)
    server.start()
    tenants = TenantRepository(pipeline.stack.tenants_table, resource=pipeline.aws.resource("dynamodb"))
    try:
        yield Api(server=server, http=Http(server.base_url), tenants=tenants)
    finally:
        server.stop()


# The web app in a browser (tests/integration/test_webapp*.py) -------------------------------


@pytest.fixture(scope="module")
def live(pipeline: LocalPipeline) -> Iterator[LiveServer]:
    """Live status (the WebSocket server make serve starts)."""
    server = LiveServer(pipeline)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app_server(pipeline: LocalPipeline, live: LiveServer) -> Iterator[ApiServer]:
    """make serve's servers: the app and the API, with live status beside them."""
    server = ApiServer(pipeline)
    server.live_origins = [live.url.rstrip("/")]
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (installed by make browser), through Playwright (the dev extra)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make setup")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=shutil.which("chromium"),
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield chromium
        chromium.close()
