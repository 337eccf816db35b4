"""source_url fetching: the address rules of webhooks on every hop, a size cap, content sniffing."""

from __future__ import annotations

import io
import ipaddress
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.local_http import http_server
from transcriber.adapters.media_fetch import fetch_media
from transcriber.adapters.resolver import resolve_host
from transcriber.api.problems import problem_for
from transcriber.domain.errors import TooLargeError, UnsupportedFormatError
from transcriber.domain.media_url import (
    InvalidSourceUrlError,
    SourceTemporarilyUnreachableError,
    SourceUnreachableError,
    check_source_url,
)
from transcriber.domain.webhooks import CallbackHostNotFoundError, HostLookupUnavailableError

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)
_TRY_LATER = {"/busy.wav": 503, "/throttled.wav": 429, "/slow.wav": 408, "/broken.wav": 500}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/to-metadata"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        if self.path.startswith("/hop"):
            self.send_response(301)
            self.send_header("Location", "/talk.wav")
            self.end_headers()
            return
        if self.path in _TRY_LATER:
            self.send_response(_TRY_LATER[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/hangs.wav":  # answers long after the fetch's deadline
            time.sleep(1.5)
        if self.path == "/cut.wav":  # promises more than it sends, then drops the connection
            self.send_response(200)
            self.send_header("Content-Length", str(len(WAV) * 10))
            self.end_headers()
            self.wfile.write(WAV)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = {"/talk.wav": WAV, "/hangs.wav": WAV, "/page.html": b"<html>hello</html>" * 10}.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with http_server(_Handler) as url:
        yield url


def _fetch(url: str, *, max_bytes: int = 10_000, timeout_s: float = 5) -> tuple[bytes, str]:
    sink = io.BytesIO()
    fetched = fetch_media(
        url, sink, local_mode=True, resolve=resolve_host, max_bytes=max_bytes, timeout_s=timeout_s
    )
    return sink.getvalue(), fetched.filename


def test_a_localhost_file_is_fetched_whole_and_named(base: str) -> None:
    assert _fetch(f"{base}/talk.wav") == (WAV, "talk.wav")
    assert _fetch(f"{base}/hop") == (WAV, "talk.wav")  # a redirect to an allowed URL is followed


def test_a_redirect_to_the_metadata_address_is_refused(base: str) -> None:
    with pytest.raises(InvalidSourceUrlError, match="source_url"):
        _fetch(f"{base}/to-metadata")


def test_http_errors_non_audio_and_oversized_files_are_refused(base: str) -> None:
    with pytest.raises(SourceUnreachableError, match="404"):
        _fetch(f"{base}/missing.wav")
    with pytest.raises(UnsupportedFormatError):
        _fetch(f"{base}/page.html")
    with pytest.raises(TooLargeError):
        _fetch(f"{base}/talk.wav", max_bytes=100)


def test_a_refused_port_is_a_clear_permanent_error() -> None:
    with pytest.raises(SourceUnreachableError, match=r"Fetching source_url from 127\.0\.0\.1 failed"):
        _fetch("http://127.0.0.1:9/x.wav")


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.5", "127.0.0.1", "fd00::1"])
def test_private_addresses_are_refused_in_aws_and_in_local_mode(address: str) -> None:
    def resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        return [ipaddress.ip_address(address)]

    for local_mode in (False, True):
        with pytest.raises(InvalidSourceUrlError, match="not a public address"):
            check_source_url("https://media.example.com/a.wav", local_mode=local_mode, resolve=resolve)


@pytest.mark.parametrize("path", sorted(_TRY_LATER))
def test_a_source_that_says_try_later_is_a_retryable_error(base: str, path: str) -> None:
    with pytest.raises(SourceTemporarilyUnreachableError, match=str(_TRY_LATER[path])) as raised:
        _fetch(f"{base}{path}")
    problem = problem_for(raised.value)  # the API: 503 with Retry-After, and what happened
    assert problem.status == 503 and problem.headers["Retry-After"]
    assert "source_url" in problem.detail


def test_a_timeout_and_a_dropped_connection_are_retryable(base: str) -> None:
    with pytest.raises(SourceTemporarilyUnreachableError, match=r"took longer than 0\.5 s"):
        _fetch(f"{base}/hangs.wav", timeout_s=0.5)
    with pytest.raises(SourceTemporarilyUnreachableError, match="cut off"):
        _fetch(f"{base}/cut.wav")


def test_a_4xx_answer_stays_permanent(base: str) -> None:
    with pytest.raises(SourceUnreachableError, match="404") as raised:
        _fetch(f"{base}/missing.wav")
    assert problem_for(raised.value).status == 422


def test_dns_without_an_answer_is_retryable_and_an_unknown_name_is_not() -> None:
    def no_answer(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        raise HostLookupUnavailableError(f"{host} did not resolve in time")

    def no_such_name(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        raise CallbackHostNotFoundError(f"{host} does not exist")

    with pytest.raises(SourceTemporarilyUnreachableError, match=r"media\.example\.com"):
        check_source_url("https://media.example.com/a.wav", local_mode=False, resolve=no_answer)
    with pytest.raises(InvalidSourceUrlError):
        check_source_url("https://media.example.com/a.wav", local_mode=False, resolve=no_such_name)


def test_the_resolver_tells_a_temporary_dns_failure_from_a_missing_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def temporary_failure(*args: object, **kwargs: object) -> list[object]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", temporary_failure)
    with pytest.raises(HostLookupUnavailableError):
        resolve_host("media.example.com", 443)
