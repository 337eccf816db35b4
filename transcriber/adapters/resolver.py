"""Host name resolution for webhook destinations and fetched URLs: the one place that asks DNS.

The domain's URL check (transcriber/domain/webhooks.py) takes a resolver as a parameter, so its
rules stay plain Python that tests drive with fixed answers; this is the real one.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor

from transcriber.domain.webhooks import CallbackHostNotFoundError, HostLookupUnavailableError, IPAddress

#: How long one lookup may take. ``getaddrinfo`` has no timeout of its own, and the system
#: resolver's retries (5 s per try and name server) can outlast an API request (29 s) or the
#: notifier's own budget; a lookup that takes longer is answered as a name that does not resolve.
LOOKUP_TIMEOUT_S = 5.0
# Lookups run here so that the caller can stop waiting; a lookup that hangs holds one thread until
# the system resolver gives up, and at most this many hang at once (later ones wait, then time out).
_lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dns-lookup")


def resolve_host(host: str, port: int, *, timeout_s: float = LOOKUP_TIMEOUT_S) -> list[IPAddress]:
    """Every TCP address ``host`` resolves to (IP literals resolve to themselves), in the order
    the system resolver gives; raises :class:`CallbackHostNotFoundError` when there is none, or
    when the answer takes longer than ``timeout_s``."""
    lookup = _lookups.submit(
        socket.getaddrinfo, host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    try:
        infos = lookup.result(timeout=timeout_s)
    except TimeoutError:
        lookup.cancel()  # still queued behind hung lookups: it need not run at all
        raise HostLookupUnavailableError(
            f"callback_url's host {host!r} did not resolve within {timeout_s:g} s; "
            "check the name, or try again later."
        ) from None
    except (socket.gaierror, UnicodeError) as err:
        if isinstance(err, socket.gaierror) and err.errno == socket.EAI_AGAIN:  # "temporary failure"
            raise HostLookupUnavailableError(
                f"callback_url's host {host!r} could not be resolved now ({err}); try again later."
            ) from None
        raise CallbackHostNotFoundError(
            f"callback_url's host {host!r} could not be resolved ({err}); check the name."
        ) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found
