"""A local HTTP server for tests that fetch over HTTP (source URLs, redirects)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def http_server(
    handler: Callable[..., BaseHTTPRequestHandler], host_name: str = "127.0.0.1"
) -> Iterator[str]:
    """A server answering with ``handler`` on a free port of 127.0.0.1; its base URL, naming
    the host ``host_name`` (``localhost`` where a test needs a name rather than an address)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host_name}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
