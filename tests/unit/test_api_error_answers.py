"""Errors that used to escape the API function (API Gateway then answers a bare 502 and the call
goes unaudited) are answered: a URL with non-ASCII characters is sent percent-encoded, an
unreachable JWKS endpoint is a 503 (with Retry-After, as every 503), an OpenAI upload the job
model refuses a 400, and anything unanticipated a logged 500 problem with its audit line.

Through Powertools' resolver without AWS, as tests/unit/test_api_routes.py does; URLs against
real servers on 127.0.0.1.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.typing import LambdaContext

from localrun.tokens import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer
from tests.api_requests import KeyedTenants
from tests.local_http import http_server
from tests.unit.test_api_auth import _header
from tests.unit.test_api_routes import ALICE, KEY, NO_CONTEXT, NoService, _event, _problem
from tests.webhook_receiver import serving
from transcriber.adapters.jwt_verifier import JwtSettings, JwtVerifier
from transcriber.adapters.media_fetch import fetch_media
from transcriber.adapters.resolver import resolve_host
from transcriber.adapters.webhook_sender import post_webhook
from transcriber.api.http_api import FAILURE_MESSAGE, HttpApi
from transcriber.api.models import CreateTranscription
from transcriber.api.problems import RETRY_LATER_S
from transcriber.domain.errors import RetryableError
from transcriber.domain.media_url import InvalidSourceUrlError, parse_source_url
from transcriber.domain.tenants import Tenant
from transcriber.domain.webhooks import InvalidCallbackUrlError, parse_callback_url

JOB_ID = "c" * 32
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)
#: Enough of Lambda's context for the OpenAI routes, which budget their wait by it.
CONTEXT = cast(LambdaContext, SimpleNamespace(get_remaining_time_in_millis=lambda: 10_000))


def _audit(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [record.__dict__ for record in caplog.records if record.getMessage() == "api_call"]


# Anything unanticipated: a 500 problem, logged, audited --------------------------------------


class Broken(NoService):
    """A service whose every use case fails in a way no handler anticipates."""

    engine = "faster-whisper"

    def get(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        raise KeyError("internal detail")

    def create(self, tenant: Tenant, request: CreateTranscription) -> dict[str, Any]:
        raise KeyError("internal detail")


def test_a_route_failing_unexpectedly_is_a_logged_and_audited_500_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = HttpApi(service=Broken(), tenants=KeyedTenants({KEY: ALICE}))
    problem = _problem(api.handle(_event("GET", f"/v1/transcriptions/{JOB_ID}"), NO_CONTEXT), 500)
    assert problem["type"] == "urn:transcriber:problem:internal-error"
    assert "request id r" in problem["detail"] and "internal detail" not in problem["detail"]
    (failure,) = [record for record in caplog.records if record.getMessage() == FAILURE_MESSAGE]
    assert failure.exc_info and failure.exc_info[0] is KeyError  # the traceback is in the log
    (audit,) = _audit(caplog)
    assert audit["action"] == "GetTranscription" and audit["job_id"] == JOB_ID
    assert audit["tenant_id"] == "alice" and audit["status"] == 500 and audit["outcome"] == "server_error"


class FailingTenants(KeyedTenants):
    """The tenants table failing as no one expected (say, an SDK error nobody wrapped)."""

    def authenticate(self, api_key: str) -> Tenant:
        raise RuntimeError("the table is gone")


def test_authentication_failing_unexpectedly_is_an_audited_500_problem(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = HttpApi(service=NoService(), tenants=FailingTenants({}))
    _problem(api.handle(_event("GET", "/v1/transcriptions"), NO_CONTEXT), 500)
    (audit,) = _audit(caplog)
    assert audit["action"] == "ListTranscriptions" and audit["tenant_id"] is None
    assert audit["status"] == 500 and audit["key_id"] == "0123abcd"


# The JWKS endpoint down: 503 ---------------------------------------------------------------


@pytest.fixture
def unreachable_jwks() -> JwtVerifier:
    with socket.socket() as probe:  # a port nothing listens on: connecting is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = JwtSettings(
        issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE, jwks_url=f"http://127.0.0.1:{port}/jwks.json"
    )
    return JwtVerifier(settings)


def test_an_unreachable_jwks_endpoint_is_a_503_not_a_crash(
    tmp_path: Path, unreachable_jwks: JwtVerifier, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = LocalIssuer(tmp_path / "key.pem").mint("alice")
    with pytest.raises(RetryableError, match="signing keys could not be fetched"):
        unreachable_jwks.tenant_of(token)
    api = HttpApi(service=NoService(), tenants=KeyedTenants({KEY: ALICE}), tokens=unreachable_jwks)
    problem = _problem(api.handle(_event("GET", "/v1/transcriptions", key=token), NO_CONTEXT), 503)
    assert problem["reason_code"] == "ISSUER_UNAVAILABLE"
    (audit,) = _audit(caplog)
    assert audit["status"] == 503 and audit["outcome"] == "server_error"


@pytest.mark.parametrize("path", ["/v1/transcriptions", "/v1/audio/transcriptions"])
def test_a_503_for_an_unreachable_jwks_endpoint_says_when_to_retry(
    tmp_path: Path, unreachable_jwks: JwtVerifier, path: str
) -> None:
    """Both SDKs (and OpenAI's) wait as Retry-After says; without it they guess with a backoff."""
    token = LocalIssuer(tmp_path / "key.pem").mint("alice")
    api = HttpApi(service=NoService(), tenants=KeyedTenants({KEY: ALICE}), tokens=unreachable_jwks)
    answer = api.handle(_event("GET", path, key=token), NO_CONTEXT)
    assert answer["statusCode"] == 503
    assert _header(answer, "Retry-After") == str(RETRY_LATER_S)


class Busy(NoService):
    """A service whose dependency stays busy past the SDK's own retries (DynamoDB throttling)."""

    def get(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        raise RetryableError("get_item: ProvisionedThroughputExceededException")


def test_a_503_for_a_busy_dependency_says_when_to_retry() -> None:
    api = HttpApi(service=Busy(), tenants=KeyedTenants({KEY: ALICE}))
    answer = api.handle(_event("GET", f"/v1/transcriptions/{JOB_ID}"), NO_CONTEXT)
    assert _problem(answer, 503)["type"] == "urn:transcriber:problem:service-unavailable"
    assert _header(answer, "Retry-After") == str(RETRY_LATER_S)


# OpenAI-compatible uploads the job model refuses: 400 in OpenAI's shape ----------------------


def _audio_event(filename: str, content_type: str = "audio/wav") -> dict[str, Any]:
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + WAV
        + f"\r\n--{boundary}--\r\n".encode()
    )
    event = _event("POST", "/v1/audio/transcriptions")
    content = f"multipart/form-data; boundary={boundary}"
    event["headers"]["Content-Type"], event["multiValueHeaders"]["Content-Type"] = content, [content]
    event["body"] = body.decode("latin-1")
    return event


def _openai_error(answer: dict[str, Any], status: int) -> dict[str, Any]:
    assert answer["statusCode"] == status, answer["body"]
    assert answer["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return cast(dict[str, Any], json.loads(answer["body"])["error"])


@pytest.mark.parametrize(
    ("filename", "content_type", "named"),
    [("a" * 300 + ".wav", "audio/wav", "name"), ("talk.wav", "audio/" + "x" * 300, "Content-Type")],
)
def test_an_openai_upload_the_job_model_refuses_is_a_400_naming_the_file(
    filename: str, content_type: str, named: str
) -> None:
    api = HttpApi(service=Broken(), tenants=KeyedTenants({KEY: ALICE}))
    error = _openai_error(api.handle(_audio_event(filename, content_type), CONTEXT), 400)
    assert error["param"] == "file" and error["type"] == "invalid_request_error"
    assert f"The file's {named} is not accepted" in error["message"] and "255" in error["message"]


def test_an_openai_route_failing_unexpectedly_is_a_500_in_openais_shape() -> None:
    api = HttpApi(service=Broken(), tenants=KeyedTenants({KEY: ALICE}))
    error = _openai_error(api.handle(_audio_event("talk.wav"), CONTEXT), 500)
    assert error["type"] == "server_error" and "request id r" in error["message"]


# Non-ASCII URLs: percent-encoded once parsed, so they can be sent -----------------------------


def test_a_non_ascii_path_and_query_are_percent_encoded_and_escapes_kept() -> None:
    target = parse_callback_url("https://bücher.example/hooks/ü?name=ä&x=%20&y=[1]", local_mode=False)
    assert target.host == "xn--bcher-kva.example"
    assert target.path == "/hooks/%C3%BC?name=%C3%A4&x=%20&y=[1]"
    assert parse_source_url("https://example.com/Grüße.wav", local_mode=False).path == "/Gr%C3%BC%C3%9Fe.wav"


def test_a_url_that_is_not_unicode_text_is_refused_with_a_message() -> None:
    with pytest.raises(InvalidCallbackUrlError, match="callback_url's path or query"):
        parse_callback_url("https://example.com/\ud800", local_mode=False)
    with pytest.raises(InvalidSourceUrlError, match="source_url's path or query"):
        parse_source_url("https://example.com/a.wav?\ud800", local_mode=False)


#: Redirects whose Location carries raw bytes: UTF-8, and a Latin-1 byte that is no UTF-8.
REDIRECTS = {"/utf8": b"/b\xc3\xbccher.wav", "/latin1": b"/caf\xe9.wav"}


class _Media(BaseHTTPRequestHandler):
    """Serves the WAV at the two escaped paths; answers REDIRECTS to them."""

    def do_GET(self) -> None:
        if self.path in REDIRECTS:  # http.server would refuse to send these bytes
            location = REDIRECTS[self.path]
            self.wfile.write(
                b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
            )
            return
        found = self.path in ("/b%C3%BCcher.wav", "/caf%E9.wav")
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(WAV) if found else 0))
        self.end_headers()
        self.wfile.write(WAV if found else b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def media() -> Iterator[str]:
    with http_server(_Media) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "filename"),
    [("/bücher.wav", "bücher.wav"), ("/utf8", "bücher.wav"), ("/latin1", "caf\ufffd.wav")],
)
def test_a_source_url_or_redirect_with_non_ascii_bytes_is_fetched(
    media: str, path: str, filename: str
) -> None:
    sink = io.BytesIO()
    fetched = fetch_media(
        media + path, sink, local_mode=True, resolve=resolve_host, max_bytes=10_000, timeout_s=5
    )
    assert sink.getvalue() == WAV and fetched.format == "wav"
    assert fetched.filename == filename  # a Latin-1 byte is no UTF-8: replaced in the name only


def test_a_webhook_to_a_non_ascii_path_is_delivered_percent_encoded() -> None:
    with serving() as receiver:
        url = receiver.url("/hooks/ü?für=ä")
        post_webhook(url, [ipaddress.ip_address("127.0.0.1")], b"{}", {}, local_mode=True)
        assert receiver.requests[0]["path"] == "/hooks/%C3%BC?f%C3%BCr=%C3%A4"
