"""Fetch a ``source_url`` into a file, as safely as webhooks are sent.

Every hop (the URL, then each redirect's target) is checked by
:func:`transcriber.domain.media_url.check_source_url` and connected to through the checked
address only (the webhook sender's pinned connections), so neither a redirect nor a DNS answer
that changes after the check can reach a private or metadata address. One deadline covers the
whole fetch, the body is capped, and its first bytes are sniffed like an upload's before the
rest is read.
"""

from __future__ import annotations

import http.client
import ssl
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import quote, unquote, urljoin, urlsplit

from transcriber.adapters.webhook_sender import CONNECT_TIMEOUT_S, MAX_ADDRESSES_TRIED, _connection, _Watchdog
from transcriber.domain.audio import SUPPORTED_EXTENSIONS
from transcriber.domain.errors import TooLargeError
from transcriber.domain.intake import SNIFF_BYTES, check_content
from transcriber.domain.media_url import (
    SourceTemporarilyUnreachableError,
    SourceUnreachableError,
    check_source_url,
    parse_source_url,
)
from transcriber.domain.webhooks import KEPT_IN_PATH, CallbackTarget, IPAddress, Resolver

DEFAULT_TIMEOUT_S = 20.0
MAX_REDIRECTS = 3
USER_AGENT = "audio-transcriber-fetch/1"
_PIECE = 1024 * 1024
#: A source's answers that say "not now": the same request may succeed later.
_TRY_LATER_STATUSES = frozenset({408, 429})
#: Connection faults that say "not now" (a timeout, a reset, a dropped connection), unlike a
#: refused connection or a TLS certificate that does not verify.
_TRANSIENT_FAULTS = (
    TimeoutError,
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.IncompleteRead,
)


@dataclass(frozen=True)
class FetchedMedia:
    filename: str
    size: int
    #: the container sniffed from the first bytes (``wav``, ``mp3``, ...)
    format: str


def fetch_media(
    url: str,
    sink: IO[bytes],
    *,
    local_mode: bool,
    resolve: Resolver,
    max_bytes: int,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    ssl_context: ssl.SSLContext | None = None,
) -> FetchedMedia:
    """Write the media at ``url`` to ``sink``; raises InvalidSourceUrlError (a refused address),
    SourceUnreachableError, TooLargeError or UnsupportedFormatError (not audio), all permanent,
    or SourceTemporarilyUnreachableError where asking again later may succeed."""
    deadline = time.monotonic() + timeout_s
    for _hop in range(MAX_REDIRECTS + 1):
        addresses = check_source_url(url, local_mode=local_mode, resolve=resolve)
        target = parse_source_url(url, local_mode=local_mode)
        watchdog = _Watchdog(deadline)
        conn: http.client.HTTPConnection | None = None
        try:
            conn = _connect(target, addresses, deadline, watchdog, ssl_context)
            if conn.sock is not None:
                conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            conn.request("GET", target.path, headers={"User-Agent": USER_AGENT, "Accept": "*/*"})
            response = conn.getresponse()
            if 300 <= response.status < 400 and response.getheader("Location"):
                url = _redirect_url(url, str(response.getheader("Location")))
                continue
            if response.status != 200:
                raise _refusal(response.status, response.reason)
            return _read(response, sink, url, max_bytes)
        except (OSError, ssl.SSLError, http.client.HTTPException) as err:
            late = time.monotonic() >= deadline
            if late or (isinstance(err, _TRANSIENT_FAULTS) and not isinstance(err, ssl.SSLError)):
                why = f"took longer than {timeout_s:g} s" if late else f"was cut off ({type(err).__name__})"
                raise SourceTemporarilyUnreachableError(
                    f"Fetching source_url from {target.host} {why}; try again in a moment, or upload "
                    "the file instead."
                ) from None
            raise SourceUnreachableError(
                f"Fetching source_url from {target.host} failed ({type(err).__name__}: {err}); check "
                "the URL, or upload the file instead."
            ) from None
        finally:
            watchdog.disarm()
            if conn is not None:
                conn.close()
    raise SourceUnreachableError(f"source_url redirected more than {MAX_REDIRECTS} times.")


def _refusal(status: int, reason: str) -> SourceUnreachableError | SourceTemporarilyUnreachableError:
    """A non-200 answer: 408, 429 and 5xx say "try later"; any other is the URL's to fix."""
    if status in _TRY_LATER_STATUSES or status >= 500:
        return SourceTemporarilyUnreachableError(
            f"source_url's server answered HTTP {status} {reason} (busy or failing); try again in a "
            "moment, or upload the file instead."
        )
    return SourceUnreachableError(
        f"source_url answered HTTP {status} {reason}; give a URL that returns the audio file itself."
    )


def _redirect_url(url: str, location: str) -> str:
    """The absolute URL a redirect's ``Location`` names. http.client reads header bytes as
    Latin-1, so a server's raw UTF-8 arrives as mojibake: it is read again as UTF-8 (other bytes
    are percent-encoded as they are), and parse_source_url escapes the rest for the request line."""
    raw = location.encode("latin-1", errors="replace")
    try:
        location = raw.decode("utf-8")
    except UnicodeDecodeError:
        location = quote(raw, safe=KEPT_IN_PATH)
    return urljoin(url, location)


def _connect(
    target: CallbackTarget,
    addresses: list[IPAddress],
    deadline: float,
    watchdog: _Watchdog,
    context: ssl.SSLContext | None,
) -> http.client.HTTPConnection:
    """A connection to the first of the checked addresses that answers (at most two are tried)."""
    failure: OSError | None = None
    for address in addresses[:MAX_ADDRESSES_TRIED]:
        remaining = deadline - time.monotonic()
        conn = _connection(
            target,
            address,
            timeout=max(0.1, min(remaining, CONNECT_TIMEOUT_S)),
            watchdog=watchdog,
            context=context,
        )
        try:
            conn.connect()
            return conn
        except OSError as err:  # refused, unreachable, timed out, a TLS failure
            conn.close()
            failure = err
    raise failure or OSError("no address to connect to")


def _read(response: http.client.HTTPResponse, sink: IO[bytes], url: str, max_bytes: int) -> FetchedMedia:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(int(declared), max_bytes)
    head = response.read(SNIFF_BYTES)
    fmt = check_content(head)  # not audio: refused before the rest is read
    sink.write(head)
    size = len(head)
    while piece := response.read(_PIECE):
        size += len(piece)
        if size > max_bytes:
            raise _too_large(size, max_bytes)
        sink.write(piece)
    if declared and declared.isdigit() and size < int(declared):
        # http.client ends a body read piece by piece quietly where the connection dropped.
        raise http.client.IncompleteRead(b"", int(declared) - size)
    name = PurePosixPath(unquote(urlsplit(url).path)).name or "media"
    if PurePosixPath(name).suffix.lower().lstrip(".") not in SUPPORTED_EXTENSIONS:
        name = f"{PurePosixPath(name).stem or 'media'}.{'mka' if fmt == 'matroska' else fmt}"
    return FetchedMedia(filename=name[-255:], size=size, format=fmt)


def _too_large(size: int, max_bytes: int) -> TooLargeError:
    return TooLargeError(
        f"source_url's file is over {size / 1e6:.1f} MB, beyond the {max_bytes / 1e6:.0f} MB limit; "
        "split or compress it."
    )
