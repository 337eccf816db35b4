"""source_url fetching: the address rules of webhooks on every hop, a size cap, content sniffing."""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.local_http import http_server
from transcriber.adapters.media_fetch import fetch_media
from transcriber.adapters.resolver import resolve_host
from transcriber.domain.errors import TooLargeError, UnsupportedFormatError
from transcriber.domain.media_url import InvalidSourceUrlError, SourceUnreachableError, check_source_url

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(200)


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
        body = {"/talk.wav": WAV, "/page.html": b"<html>hello</html>" * 10}.get(self.path)
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


def _fetch(url: str, *, max_bytes: int = 10_000) -> tuple[bytes, str]:
    sink = io.BytesIO()
    fetched = fetch_media(url, sink, local_mode=True, resolve=resolve_host, max_bytes=max_bytes, timeout_s=5)
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
