"""``source_url``: a media file the service fetches itself instead of receiving an upload.

The destination rules are the webhooks' (transcriber/domain/webhooks.py): https only (in local
mode also http to localhost), and every address the host resolves to must be public, so the
fetch cannot reach private networks, loopback or the instance metadata service. Each redirect's
target is checked again by the fetcher (transcriber/adapters/media_fetch.py).
"""

from __future__ import annotations

from transcriber.domain import webhooks
from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.webhooks import (
    CallbackTarget,
    HostLookupUnavailableError,
    InvalidCallbackUrlError,
    IPAddress,
    Resolver,
)


class InvalidSourceUrlError(PermanentError):
    """A ``source_url`` the service may not fetch; the message says what to change."""

    reason_code = "INVALID_SOURCE_URL"


class SourceUnreachableError(PermanentError):
    """The ``source_url`` could not be fetched, and asking again would not change that (the
    connection refused, a 4xx answer, too many redirects)."""

    reason_code = "SOURCE_URL_UNREACHABLE"


class SourceTemporarilyUnreachableError(RetryableError):
    """The ``source_url`` could not be fetched now, but the same request may succeed later: a
    timeout, a connection reset, DNS without an answer, or the source answering 408, 429 or 5xx.
    The API answers 503 with Retry-After and this message."""

    reason_code = "SOURCE_URL_UNAVAILABLE"


def _as_source(err: InvalidCallbackUrlError) -> InvalidSourceUrlError:
    message = err.message.replace("callback_url", "source_url").replace(
        "webhooks are only sent to public https endpoints", "media is only fetched from public https servers"
    )
    return InvalidSourceUrlError(message.replace("receive webhooks", "be fetched"))


def parse_source_url(url: str, *, local_mode: bool) -> CallbackTarget:
    """The URL's parts, checked for form only (no DNS)."""
    try:
        return webhooks.parse_callback_url(url, local_mode=local_mode)
    except InvalidCallbackUrlError as err:
        raise _as_source(err) from None


def check_source_url(url: str, *, local_mode: bool, resolve: Resolver) -> list[IPAddress]:
    """The addresses ``url`` may be fetched from; :class:`InvalidSourceUrlError` otherwise.

    Stricter than webhooks in local mode: only localhost itself is exempt from the address rules
    there, so a test or a developer's stack refuses the metadata address as AWS does."""
    try:
        addresses = webhooks.check_callback_url(url, local_mode=local_mode, resolve=resolve)
    except HostLookupUnavailableError:
        host = parse_source_url(url, local_mode=local_mode).host
        raise SourceTemporarilyUnreachableError(
            f"source_url's host {host!r} could not be looked up just now (DNS did not answer); "
            "try again in a moment."
        ) from None
    except InvalidCallbackUrlError as err:
        raise _as_source(err) from None
    host = parse_source_url(url, local_mode=local_mode).host
    if not (local_mode and host in webhooks.LOCAL_HOSTS):
        for address in addresses:
            if not webhooks.is_public_address(address):
                raise InvalidSourceUrlError(
                    f"source_url's host {host!r} resolves to {address}, which is not a public address; "
                    "media is only fetched from public https servers."
                )
    return addresses
