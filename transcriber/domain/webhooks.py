"""Webhooks: what a finished job POSTs to its ``callback_url``, how it is signed, and which URLs
may receive it. Plain Python, no I/O: the API checks a URL here when a job is created, and the
notify stage (transcriber/stages/notify.py) checks it again, signs and builds the body here at
delivery. Resolving the host is the caller's: it passes a resolver (transcriber/adapters/resolver.py).

**Signature.** Every POST carries ``X-Transcriber-Signature: t=<unix seconds>,v1=<hex>``, where
``<hex>`` is HMAC-SHA256 with the tenant's webhook secret over ``"<t>." + body`` (the raw bytes
received). A receiver recomputes it with :func:`verify`, compares in constant time and rejects a
timestamp more than five minutes away from its clock, so a captured request cannot be replayed
later. ``X-Transcriber-Event`` names the event (the detail-type) and ``X-Transcriber-Delivery`` is
an id that stays the same when one event is delivered again: receivers deduplicate on it.

**Destinations.** In AWS only ``https`` URLs whose host resolves to global (public) addresses
only: never private, loopback, link-local (the instance metadata service), shared, reserved,
multicast or unspecified addresses, nor IPv6 forms that embed one (IPv4-mapped, 6to4, NAT64).
The check returns the addresses it accepted and the sender connects to one of those, so a DNS
answer that changes between check and connection (DNS rebinding) cannot redirect the request.
In local mode (the moto-based local stack, never in AWS) plain ``http`` is allowed too, only to
``localhost``, ``127.0.0.1`` or ``::1``, and addresses are not restricted.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_FAILED, OUTPUT_FORMATS

SIGNATURE_HEADER = "X-Transcriber-Signature"
EVENT_HEADER = "X-Transcriber-Event"
DELIVERY_HEADER = "X-Transcriber-Delivery"
SIGNATURE_VERSION = "v1"
#: How far a signature's timestamp may be from the receiver's clock (either way).
DEFAULT_TOLERANCE_S = 300
#: The detail-types that are POSTed to a job's callback_url.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (EVENT_JOB_COMPLETED, EVENT_JOB_FAILED)

MAX_URL_LENGTH = 2048
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: Kept as they are in a path and query: every printable ASCII character, so existing
#: percent-escapes and reserved characters keep their meaning and only non-ASCII is escaped.
KEPT_IN_PATH = string.punctuation
_DEFAULT_PORTS = {"http": 80, "https": 443}

#: Backoff between delivery attempts: the first retry after 30 s, then up to twice as long each
#: time (full jitter), never more than 15 minutes.
RETRY_BASE_S = 30
RETRY_CAP_S = 15 * 60

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]


class InvalidCallbackUrlError(PermanentError):
    """A ``callback_url`` that may not receive webhooks; the message says what to change."""

    reason_code = "INVALID_CALLBACK_URL"


class CallbackHostNotFoundError(InvalidCallbackUrlError):
    """The URL's host name does not resolve (now). At job creation that is the user's to fix; at
    delivery the host resolved before, so the notifier treats it as transient and tries again."""


class HostLookupUnavailableError(CallbackHostNotFoundError):
    """DNS gave no answer in time, or a temporary failure (not "no such name"): the same lookup
    may succeed in a moment. A fetched ``source_url`` is refused as retryable for it."""


# Signing ------------------------------------------------------------------------------------


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Transcriber-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={int(timestamp)},{SIGNATURE_VERSION}={_digest(secret, int(timestamp), body)}"


def verify(
    secret: str, header: str, body: bytes, *, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S
) -> bool:
    """Whether ``header`` is a valid signature of ``body`` with ``secret``, made within
    ``tolerance_s`` of ``now`` (unix seconds). Several ``v1=`` values are accepted (any may match),
    so a sender can sign with an old and a new secret while a secret is being rotated."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == SIGNATURE_VERSION:
            candidates.append(value)
    if timestamp is None or not candidates or abs(now - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, timestamp, body)
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
    return matched


# Destinations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackTarget:
    """A syntactically valid callback URL, split for the sender."""

    scheme: str
    #: lower-case, ASCII (IDNA) host name or IP literal, without brackets: for SNI and Host
    host: str
    port: int
    #: path and query, as sent in the request line ('/' when the URL has no path; non-ASCII
    #: characters percent-encoded as UTF-8)
    path: str


def parse_callback_url(url: str, *, local_mode: bool) -> CallbackTarget:
    """Check a callback URL's form (no DNS): scheme, host, port, no credentials, length. A non-ASCII
    host becomes its IDNA name and a non-ASCII path or query is percent-encoded, so the target can
    be sent as it is (the webhook sender and the source_url fetcher both connect with it)."""
    if not isinstance(url, str) or not url:
        raise InvalidCallbackUrlError("callback_url must be a non-empty https URL.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidCallbackUrlError(f"callback_url must be at most {MAX_URL_LENGTH} characters long.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidCallbackUrlError("callback_url must not contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InvalidCallbackUrlError(f"callback_url is not a valid URL ({err}).") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidCallbackUrlError("callback_url must be an https:// URL.")
    if "@" in parts.netloc:
        raise InvalidCallbackUrlError(
            "callback_url must not contain a user name or password; authenticate the request with "
            f"its {SIGNATURE_HEADER} header instead."
        )
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidCallbackUrlError("callback_url must name a host, as in https://example.com/hook.")
    if port == 0:
        raise InvalidCallbackUrlError("callback_url must not use port 0.")
    if ":" not in host:  # a name (not an IPv6 literal): to ASCII for DNS, SNI and Host
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise InvalidCallbackUrlError(f"callback_url's host {host!r} is not a valid name.") from None
    if scheme == "http" and not (local_mode and host in LOCAL_HOSTS):
        raise InvalidCallbackUrlError(
            "callback_url must use https:// (plain http:// is accepted only for localhost when "
            "running locally)."
        )
    path = _request_target(parts.path or "/", parts.query)
    return CallbackTarget(scheme=scheme, host=host, port=port or _DEFAULT_PORTS[scheme], path=path)


def _request_target(path: str, query: str) -> str:
    """Path and query as an ASCII request line needs them: non-ASCII characters percent-encoded
    as UTF-8 (RFC 3986, as browsers send them), since http.client cannot send them raw."""
    try:
        target = quote(path, safe=KEPT_IN_PATH)
        return f"{target}?{quote(query, safe=KEPT_IN_PATH)}" if query else target
    except UnicodeEncodeError:  # a lone surrogate (JSON may escape one: "\ud800") has no UTF-8 form
        raise InvalidCallbackUrlError("callback_url's path or query is not valid Unicode text.") from None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (6to4, NAT64), if any; mapped addresses are
    handled by the caller, which judges them as the IPv4 address itself."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether webhooks may be sent to ``address`` from AWS: a global unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # a socket connects to the IPv4 address itself
            return is_public_address(address.ipv4_mapped)
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public_address(embedded):
            return False
        if address.teredo is not None:
            return False
    return bool(
        address.is_global
        and not address.is_private
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_multicast
        and not address.is_reserved
        and not address.is_unspecified
    )


def check_callback_url(url: str, *, local_mode: bool, resolve: Resolver) -> list[IPAddress]:
    """Check that ``url`` may receive webhooks; returns the addresses to connect to.

    Raises :class:`InvalidCallbackUrlError` (reason ``INVALID_CALLBACK_URL``) with a message the
    user can act on. ``resolve`` asks DNS (transcriber/adapters/resolver.py in AWS; fixed answers
    in tests). Outside local mode every address the host resolves to must be public: one
    private answer among public ones is refused too, as the client could be steered to it.
    """
    target = parse_callback_url(url, local_mode=local_mode)
    addresses = list(resolve(target.host, target.port))
    if not addresses:
        raise CallbackHostNotFoundError(f"callback_url's host {target.host!r} has no addresses.")
    if not local_mode:
        for address in addresses:
            if not is_public_address(address):
                raise InvalidCallbackUrlError(
                    f"callback_url's host {target.host!r} resolves to {address}, which is not a public "
                    "address; webhooks are only sent to public https endpoints."
                )
    return addresses


# Payload ------------------------------------------------------------------------------------


def payload_for(event: Mapping[str, Any], job: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body POSTed for a job event (an EventBridge event of the jobs bus).

    ``{"id", "type", "job_id", "status", "occurred_at", "links": {"self"}}`` always; for a
    completed job also ``language``, ``duration`` (seconds), ``segments`` and ``outputs`` (the
    API's download path of each format); for a failed one ``reason_code`` and ``message``. No
    transcript text and no bucket names: receivers fetch results through the API.
    """
    detail: Mapping[str, Any] = event.get("detail") or {}
    job_id = str(detail.get("job_id") or job.get("job_id") or "")
    status = str(detail.get("status") or job.get("status") or "")
    self_link = f"/v1/transcriptions/{job_id}"
    body: dict[str, Any] = {
        "id": event.get("id"),
        "type": event.get("detail-type"),
        "job_id": job_id,
        "status": status,
        "occurred_at": detail.get("occurred_at") or event.get("time"),
    }
    if event.get("detail-type") == EVENT_JOB_FAILED or status == "FAILED":
        body["reason_code"] = detail.get("reason_code") or job.get("reason_code")
        body["message"] = detail.get("message") or job.get("error_message")
    elif event.get("detail-type") == EVENT_JOB_COMPLETED or status == "COMPLETED":
        body["language"] = detail.get("language", job.get("language"))
        body["duration"] = detail.get("duration", job.get("duration"))
        body["segments"] = detail.get("segments", job.get("segments"))
        body["outputs"] = {fmt: f"{self_link}/download?format={fmt}" for fmt in OUTPUT_FORMATS}
    body["links"] = {"self": self_link}
    return body


# Retries ------------------------------------------------------------------------------------


def retry_delay_s(attempt: int, *, rand: Callable[[], float] = random.random) -> int:
    """Seconds to wait before delivery attempt ``attempt + 1`` (``attempt`` counts from 1).

    Exponential with full jitter above a floor: uniform in [30, min(900, 30 * 2**(attempt-1))],
    so retries of many failed deliveries spread out instead of arriving together.
    """
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(max(attempt, 1) - 1, 16))
    return int(RETRY_BASE_S + rand() * (ceiling - RETRY_BASE_S))
