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
from transcriber.domain.media_url import SourceUnreachableError, check_source_url, parse_source_url
from transcriber.domain.webhooks import KEPT_IN_PATH, CallbackTarget, IPAddress, Resolver

DEFAULT_TIMEOUT_S = 20.0
MAX_REDIRECTS = 3
USER_AGENT = "audio-transcriber-fetch/1"
_PIECE = 1024 * 1024


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
    SourceUnreachableError, TooLargeError or UnsupportedFormatError (not audio), all permanent."""
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
                raise SourceUnreachableError(
                    f"source_url answered HTTP {response.status} {response.reason}; give a URL that "
                    "returns the audio file itself."
                )
            return _read(response, sink, url, max_bytes)
        except (OSError, ssl.SSLError, http.client.HTTPException) as err:
            late = time.monotonic() >= deadline
            why = f"took longer than {timeout_s:g} s" if late else f"failed ({type(err).__name__}: {err})"
            raise SourceUnreachableError(
                f"Fetching source_url from {target.host} {why}; check the URL, or upload the file instead."
            ) from None
        finally:
            watchdog.disarm()
            if conn is not None:
                conn.close()
    raise SourceUnreachableError(f"source_url redirected more than {MAX_REDIRECTS} times.")


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
    name = PurePosixPath(unquote(urlsplit(url).path)).name or "media"
    if PurePosixPath(name).suffix.lower().lstrip(".") not in SUPPORTED_EXTENSIONS:
        name = f"{PurePosixPath(name).stem or 'media'}.{'mka' if fmt == 'matroska' else fmt}"
    return FetchedMedia(filename=name[-255:], size=size, format=fmt)


def _too_large(size: int, max_bytes: int) -> TooLargeError:
    return TooLargeError(
        f"source_url's file is over {size / 1e6:.1f} MB, beyond the {max_bytes / 1e6:.0f} MB limit; "
        "split or compress it."
    )
