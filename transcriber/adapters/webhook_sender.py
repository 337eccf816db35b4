"""POST a webhook to a callback URL that :func:`transcriber.domain.webhooks.check_callback_url`
accepted, over a connection to one of the addresses it checked.

The TCP connection goes to the checked IP address, never to a fresh DNS answer (so DNS
rebinding cannot swap the destination), while the ``Host`` header, TLS SNI and the certificate
check use the URL's host name. No proxy, no redirects (a 3xx is an answer like any other), a
timeout on every socket operation, and only a little of the response is read.

Outcomes: 2xx is delivered; 408, 425, 429, 5xx, a network or TLS error (a certificate that does
not verify included: nothing is sent then) or a timeout is worth retrying
(:class:`WebhookRetryableError`); any other status, 3xx and 4xx, is permanent
(:class:`WebhookRejectedError`): trying again would get the same answer.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.webhooks import CallbackTarget, IPAddress, parse_callback_url

#: The whole delivery (connecting, sending, the response's head) must be done within this.
DEFAULT_TIMEOUT_S = 10.0
#: At most this long per connection attempt (within the whole delivery's timeout).
CONNECT_TIMEOUT_S = 5.0
#: Addresses tried, in order, when connecting fails; bounds a delivery's worst-case time.
MAX_ADDRESSES_TRIED = 2
USER_AGENT = "audio-transcriber-webhooks/1"
_RESPONSE_BYTES_READ = 1024
_RETRYABLE_STATUSES = frozenset({408, 425, 429})


class WebhookRetryableError(RetryableError):
    """The receiver was unreachable, slow or overloaded: the same POST may succeed later."""

    reason_code = "WEBHOOK_RETRYABLE"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WebhookRejectedError(PermanentError):
    """The receiver refused the POST in a way that retrying cannot change (a 4xx, a redirect)."""

    reason_code = "WEBHOOK_REJECTED"

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Delivered:
    status: int
    address: str
    elapsed_ms: int


class _Watchdog:
    """Cuts a connection that outlives the delivery's deadline.

    Socket timeouts bound each read; this bounds them all together (TLS handshake, request,
    response head), so a receiver that trickles bytes cannot hold the notifier past the deadline.
    It shuts the connection's file descriptor down, which unblocks a pending read in the sending
    thread, and never touches a descriptor after the delivery is done (it may be reused).
    """

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._done = False
        self._timer: threading.Timer | None = None
        self.fired = False

    def arm(self, sock: socket.socket) -> None:
        with self._lock:
            if self._done:
                return
            self._fd = sock.fileno()
            self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done or self._fd is None:
                return
            self.fired = True
            try:
                view = socket.socket(fileno=self._fd)
            except OSError:
                return
            try:
                view.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                view.detach()  # the descriptor stays the connection's to close

    def disarm(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to ``address``, with ``host`` in the Host header."""

    def __init__(
        self, host: str, port: int, *, address: IPAddress, timeout: float, watchdog: _Watchdog
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address
        self._watchdog = watchdog

    def _tcp(self) -> socket.socket:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._watchdog.arm(sock)
        return sock

    def connect(self) -> None:
        self.sock = self._tcp()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to ``address``; SNI and certificate verification against ``host``."""

    default_port = http.client.HTTPS_PORT

    def __init__(
        self,
        host: str,
        port: int,
        *,
        address: IPAddress,
        timeout: float,
        watchdog: _Watchdog,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, address=address, timeout=timeout, watchdog=watchdog)
        self._tls = context

    def connect(self) -> None:
        sock = self._tcp()
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _connection(
    target: CallbackTarget,
    address: IPAddress,
    *,
    timeout: float,
    watchdog: _Watchdog,
    context: ssl.SSLContext | None,
) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(
            target.host,
            target.port,
            address=address,
            timeout=timeout,
            watchdog=watchdog,
            context=context or ssl.create_default_context(),
        )
    return _PinnedHTTPConnection(
        target.host, target.port, address=address, timeout=timeout, watchdog=watchdog
    )


def classify(status: int) -> type[WebhookRetryableError] | type[WebhookRejectedError] | None:
    """None for a delivered POST (2xx), else the error class of a failed one."""
    if 200 <= status < 300:
        return None
    if status in _RETRYABLE_STATUSES or status >= 500:
        return WebhookRetryableError
    return WebhookRejectedError


def post_webhook(
    url: str,
    addresses: Sequence[IPAddress],
    body: bytes,
    headers: Mapping[str, str],
    *,
    local_mode: bool,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    ssl_context: ssl.SSLContext | None = None,
) -> Delivered:
    """POST ``body`` (JSON) to ``url`` through one of ``addresses`` (the checked ones).

    Tries the next address only when connecting fails, at most :data:`MAX_ADDRESSES_TRIED`;
    everything happens within ``timeout_s``.
    Returns :class:`Delivered` for a 2xx; raises :class:`WebhookRetryableError` or
    :class:`WebhookRejectedError` otherwise.
    """
    target = parse_callback_url(url, local_mode=local_mode)
    if not addresses:
        raise WebhookRetryableError("no address to connect to")
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
        **headers,
    }
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    for address in list(addresses)[:MAX_ADDRESSES_TRIED]:
        started = time.monotonic()
        remaining = deadline - started
        if remaining <= 0:
            break
        watchdog = _Watchdog(deadline)
        conn = _connection(
            target,
            address,
            timeout=min(remaining, CONNECT_TIMEOUT_S),
            watchdog=watchdog,
            context=ssl_context,
        )
        try:
            try:
                conn.connect()
            except ssl.SSLCertVerificationError as err:
                # Nothing is sent over an unverified connection. An expired or wrong certificate
                # is usually fixed by the receiver within the retry window, so it is retried.
                raise WebhookRetryableError(
                    f"TLS certificate of {target.host} could not be verified: {err.verify_message}"
                ) from None
            except (OSError, ssl.SSLError) as err:  # refused, unreachable, timeout, TLS handshake
                last_error = err
                continue
            response = _exchange(conn, target, body, request_headers, deadline)
        finally:
            watchdog.disarm()
            conn.close()
        status = response.status
        elapsed_ms = int((time.monotonic() - started) * 1000)
        failure = classify(status)
        if failure is None:
            return Delivered(status=status, address=str(address), elapsed_ms=elapsed_ms)
        detail = f"{target.host} answered {status} {response.reason}".rstrip()
        if 300 <= status < 400:
            detail += " (redirects are not followed: set callback_url to the final URL)"
        raise failure(detail, status=status)
    raise WebhookRetryableError(
        f"could not connect to {target.host} within {timeout_s:g} s: "
        f"{type(last_error).__name__}: {last_error}"
    )


def _exchange(
    conn: http.client.HTTPConnection,
    target: CallbackTarget,
    body: bytes,
    headers: Mapping[str, str],
    deadline: float,
) -> http.client.HTTPResponse:
    """Send the request; read the response's head and a little of its body, before ``deadline``."""
    remaining = deadline - time.monotonic()
    if remaining <= 0 or conn.sock is None:
        raise WebhookRetryableError(f"no time left to POST to {target.host}")
    conn.sock.settimeout(remaining)
    try:
        conn.request("POST", target.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        response.read(_RESPONSE_BYTES_READ)
        return response
    except (OSError, http.client.HTTPException) as err:  # includes socket timeouts and the watchdog
        # The receiver may have got the request: a retry could deliver it twice, which the
        # delivery id lets it recognise.
        late = " (deadline passed)" if time.monotonic() >= deadline else ""
        raise WebhookRetryableError(
            f"POST to {target.host} failed after connecting{late}: {type(err).__name__}: {err}"
        ) from None
