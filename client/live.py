"""Live job status for ``Client.wait``: pushed job views over the server's WebSocket.

Optional: used when the ``websockets`` package is importable and the server advertises its
socket (``x-live-status-url`` in /v1/openapi.json); otherwise, and whenever the socket cannot
open or drops, ``wait`` polls. The SDK itself stays standard-library only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

DONE = ("COMPLETED", "FAILED")


def follow(
    url: str,
    api_key: str,
    job_id: str,
    *,
    deadline: float,
    on_view: Callable[[dict[str, Any]], None],
    done: Callable[[], bool],
) -> bool:
    """Receive the job's views until it is done (True); False when live status is not available
    here (no ``websockets``, refused, dropped, or the deadline passed): the caller polls."""
    try:
        from websockets.sync.client import connect
    except ImportError:
        return False
    try:
        with connect(
            url,
            subprotocols=["transcriber.v1", f"key.{api_key}"],  # type: ignore[list-item]
            open_timeout=10,
            max_size=2**20,
        ) as socket:
            socket.send(json.dumps({"action": "subscribe", "job_id": job_id}))
            reply = json.loads(socket.recv(timeout=10))
            if not isinstance(reply, dict) or reply.get("subscribed") != job_id:
                return False
            if done():  # finished before the subscription began: nothing more will be pushed
                return True
            while (remaining := deadline - time.monotonic()) > 0:
                view = json.loads(socket.recv(timeout=remaining))
                if isinstance(view, dict) and view.get("job_id") == job_id:
                    on_view(view)
                    if view.get("status") in DONE:
                        return True
    except (OSError, TimeoutError, ValueError, Exception):
        return False
    return False
