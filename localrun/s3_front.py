"""The embedded AWS's HTTP front: moto's server, with one fix so uploads behave as S3's do (and
its backend lookup kept per host: :class:`BackendLookupCached`).

moto's S3 stalls on a PUT that declares ``application/x-www-form-urlencoded`` (werkzeug reads
the body as a form before moto reads it as the object), which is what ``curl --data-binary``
and ``urllib`` send unless told otherwise. Real S3 stores such a body like any other, so
``curl -X PUT --data-binary @f <upload_url>`` must work locally too: the front hands moto the
body as ``application/octet-stream`` (the declared type is not signed into the presigned URL,
and ingest sniffs the content anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: Body types werkzeug would parse as a form; an object body is never a form.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def object_bodies_as_bytes(app: WsgiApp) -> WsgiApp:
    """WSGI middleware: a PUT or POST with a form content type reaches moto as octet-stream."""

    def front(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        declared = str(environ.get("CONTENT_TYPE", "")).lower()
        if environ.get("REQUEST_METHOD") == "PUT" and declared.startswith(FORM_TYPES):
            environ["CONTENT_TYPE"] = "application/octet-stream"
        return app(environ, start_response)

    return front


class BackendLookupCached(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host.

    moto looks the backend up on every request, listing its own package folder (a ``listdir`` and
    an ``isdir`` per service, about 0.6 ms) to do so: CPU taken from the function workers beside
    it, hundreds of times per job. A host always maps to the same backend, so the answer is kept.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backend_of: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        # Called under the dispatcher's own lock (get_application).
        if host not in self._backend_of:
            self._backend_of[host] = super().get_backend_for_host(host)
        return self._backend_of[host]


class S3CompatibleMotoServer(ThreadedMotoServer):
    """moto's threaded server (its ``_server_entry``, pinned with moto) behind the front above."""

    def _server_entry(self) -> None:
        app = object_bodies_as_bytes(BackendLookupCached(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()
