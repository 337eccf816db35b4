"""The webhook sender against real local HTTP(S) servers on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.webhook_receiver import Receiver, serving
from transcriber.adapters.webhook_sender import (
    WebhookRejectedError,
    WebhookRetryableError,
    classify,
    post_webhook,
)
from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.webhooks import SIGNATURE_HEADER, sign, verify

SECRET = "whsec_test"
LOOPBACK = [ipaddress.ip_address("127.0.0.1")]
Refusal = TypeVar("Refusal", WebhookRetryableError, WebhookRejectedError)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving() as started:
        yield started


def _post(receiver: Receiver, body: bytes = b'{"ok":true}', **kw: Any) -> Any:
    headers = {SIGNATURE_HEADER: sign(SECRET, 1_790_000_000, body), "X-Transcriber-Delivery": "d-1"}
    return post_webhook(
        f"http://127.0.0.1:{receiver.port}/hooks/in?x=1", LOOPBACK, body, headers, local_mode=True, **kw
    )


def test_a_2xx_is_delivered_with_a_verifiable_signature(receiver: Receiver) -> None:
    delivered = _post(receiver)
    assert delivered.status == 204 and delivered.address == "127.0.0.1"
    (request,) = receiver.requests
    assert request["path"] == "/hooks/in?x=1"
    assert request["headers"]["Host"] == f"127.0.0.1:{receiver.port}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Transcriber-Delivery"] == "d-1"
    assert verify(SECRET, request["headers"][SIGNATURE_HEADER], request["body"], now=1_790_000_010)


def test_the_connection_goes_to_the_checked_address_with_the_url_host(receiver: Receiver) -> None:
    # The URL names localhost; the connection is pinned to 127.0.0.1 (no new DNS lookup).
    post_webhook(f"http://localhost:{receiver.port}/x", LOOPBACK, b"{}", {}, local_mode=True)
    assert receiver.requests[0]["headers"]["Host"] == f"localhost:{receiver.port}"


def _refused(receiver: Receiver, status: int, error: type[Refusal]) -> Refusal:
    """Post to a receiver answering `status`; the sender must raise `error` carrying that status."""
    receiver.status = status
    with pytest.raises(error) as caught:
        _post(receiver)
    assert caught.value.status == status
    return caught.value


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_server_errors_and_throttling_are_retryable(receiver: Receiver, status: int) -> None:
    assert isinstance(_refused(receiver, status, WebhookRetryableError), RetryableError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_client_errors_are_permanent(receiver: Receiver, status: int) -> None:
    assert isinstance(_refused(receiver, status, WebhookRejectedError), PermanentError)


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    with serving() as other:
        receiver.status = 307
        receiver.headers = {"Location": f"http://127.0.0.1:{other.port}/elsewhere"}
        with pytest.raises(WebhookRejectedError, match="redirects are not followed"):
            _post(receiver)
        assert len(receiver.requests) == 1
        assert other.requests == []


def test_a_refused_connection_is_retryable() -> None:
    with serving() as gone:
        port = gone.port
    with pytest.raises(WebhookRetryableError, match="could not connect"):
        post_webhook(f"http://127.0.0.1:{port}/x", LOOPBACK, b"{}", {}, local_mode=True, timeout_s=2)


def test_a_slow_receiver_times_out_as_retryable(receiver: Receiver) -> None:
    receiver.delay_s = 1.0
    with pytest.raises(WebhookRetryableError, match="failed after connecting"):
        _post(receiver, timeout_s=0.2)


@contextmanager
def raw_server(serve: Any) -> Iterator[int]:
    """A bare TCP server on 127.0.0.1 whose connections ``serve(conn)`` handles; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                serve(conn, stop)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_trickling_receiver_is_cut_at_the_deadline() -> None:
    def trickle(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
            if stop.wait(0.05):
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                return

    with raw_server(trickle) as port:
        started = time.monotonic()
        with pytest.raises(WebhookRetryableError, match="deadline passed"):
            post_webhook(f"http://127.0.0.1:{port}/x", LOOPBACK, b"{}", {}, local_mode=True, timeout_s=0.5)
        assert time.monotonic() - started < 2


def test_a_tls_handshake_that_never_ends_is_cut_at_the_deadline() -> None:
    def silent(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(3)

    with raw_server(silent) as port:
        started = time.monotonic()
        with pytest.raises(WebhookRetryableError):
            post_webhook(f"https://hooks.test:{port}/x", LOOPBACK, b"{}", {}, local_mode=False, timeout_s=0.5)
        assert time.monotonic() - started < 2


def test_the_next_checked_address_is_tried_when_connecting_fails(receiver: Receiver) -> None:
    refused = ipaddress.ip_address("127.0.0.2")  # loopback, but nothing listens there
    delivered = post_webhook(
        f"http://127.0.0.1:{receiver.port}/x", [refused, *LOOPBACK], b"{}", {}, local_mode=True, timeout_s=2
    )
    assert delivered.address == "127.0.0.1"
    assert len(receiver.requests) == 1


def test_plain_http_is_refused_outside_local_mode(receiver: Receiver) -> None:
    with pytest.raises(PermanentError, match="https"):
        post_webhook(f"http://127.0.0.1:{receiver.port}/x", LOOPBACK, b"{}", {}, local_mode=False)
    assert receiver.requests == []


def test_classify() -> None:
    assert classify(200) is None and classify(299) is None
    assert classify(503) is WebhookRetryableError
    assert classify(301) is WebhookRejectedError


# HTTPS: SNI and certificate verification against the URL's host, while connecting to the IP.


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.test")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(cert_pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cadata=cert_pem.decode())
    return Tls(server=server, client=client)


def test_https_verifies_the_certificate_for_the_url_host(tls: Tls) -> None:
    # hooks.test resolves nowhere: the request can only arrive through the pinned 127.0.0.1.
    seen_sni: list[str | None] = []
    tls.server.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    with serving(tls.server) as receiver:
        delivered = post_webhook(
            f"https://hooks.test:{receiver.port}/x",
            LOOPBACK,
            b"{}",
            {},
            local_mode=False,
            ssl_context=tls.client,
        )
        assert delivered.status == 204
        assert receiver.requests[0]["headers"]["Host"] == f"hooks.test:{receiver.port}"
    assert seen_sni == ["hooks.test"]


def test_https_with_a_certificate_for_another_host_sends_nothing(tls: Tls) -> None:
    with serving(tls.server) as receiver:
        with pytest.raises(WebhookRetryableError, match="certificate"):
            post_webhook(
                f"https://other.test:{receiver.port}/x",
                LOOPBACK,
                b"{}",
                {},
                local_mode=False,
                ssl_context=tls.client,
            )
        assert receiver.requests == []
