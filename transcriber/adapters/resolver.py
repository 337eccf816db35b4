"""Host name resolution for webhook destinations: the one place that asks DNS.

The domain's URL check (transcriber/domain/webhooks.py) takes a resolver as a parameter, so its
rules stay plain Python that tests drive with fixed answers; this is the real one.
"""

from __future__ import annotations

import ipaddress
import socket

from transcriber.domain.webhooks import CallbackHostNotFoundError, IPAddress


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every TCP address ``host`` resolves to (IP literals resolve to themselves), in the order
    the system resolver gives; raises :class:`CallbackHostNotFoundError` when there is none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as err:
        raise CallbackHostNotFoundError(
            f"callback_url's host {host!r} could not be resolved ({err}); check the name."
        ) from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found
