"""The embedded AWS's HTTP front: moto's server, with one fix so uploads behave as S3's do (and
its backend lookup kept per host: :class:`BackendLookupCached`; ranged GETs that read only their
range: :func:`read_only_the_range`).

moto's S3 stalls on a PUT that declares ``application/x-www-form-urlencoded`` (werkzeug reads
the body as a form before moto reads it as the object), which is what ``curl --data-binary``
and ``urllib`` send unless told otherwise. Real S3 stores such a body like any other, so
``curl -X PUT --data-binary @f <upload_url>`` must work locally too: the front hands moto the
body as ``application/octet-stream`` (the declared type is not signed into the presigned URL,
and ingest sniffs the content anyway).
"""

from __future__ import annotations

import re
import threading
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


#: A single range with a first byte (``bytes=100-199`` or ``bytes=100-``): what transcribe asks for.
_SINGLE_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_window = threading.local()


def read_only_the_range() -> None:
    """moto answers a ranged GET by reading the whole object and slicing it: each chunk of a 4-hour
    job's 461 MB WAV cost 0.3 s of this process's CPU (beside the function workers), where S3 reads
    the range alone. A GET of one range with a first byte now reads only that window of the
    object; every other request (several ranges, a suffix, a range past the end, ``partNumber``)
    goes through moto as before. Idempotent."""
    from moto.s3.models import FakeKey
    from moto.s3.responses import S3Response

    if getattr(S3Response.get_object, "reads_only_the_range", False):
        return
    whole_get = S3Response.get_object
    whole_value: property = FakeKey.__dict__["value"]  # the property object, not a key's value
    read_whole: Callable[[Any], bytes] = whole_value.fget  # type: ignore[assignment]

    def value(key: Any) -> bytes:
        wanted = getattr(_window, "wanted", None)
        if wanted is None:
            return read_whole(key)
        first, last = wanted
        size = int(key.size)
        last = size - 1 if last is None else min(last, size - 1)
        if first > last:  # past the end, or an empty range: moto answers those
            return read_whole(key)
        with key.lock:
            key._value_buffer.seek(first)
            data = bytes(key._value_buffer.read(last - first + 1))
        _window.served = (first, last, size)
        return data

    def get_object(self: Any) -> Any:
        match = _SINGLE_RANGE.match(self.headers.get("range") or "")
        if match is None or "partNumber" in self.querystring:
            return whole_get(self)
        _window.wanted, _window.served = (int(match[1]), int(match[2]) if match[2] else None), None
        try:
            status, headers, body = whole_get(self)
        finally:
            served, _window.wanted, _window.served = _window.served, None, None
        if status != 200 or served is None:
            return status, headers, body
        first, last, size = served
        if first or last < size - 1:  # as moto's own range answer: a part carries no checksum
            for name in [h for h in headers if h.startswith("x-amz-checksum-")]:
                del headers[name]
        headers["content-range"] = f"bytes {first}-{last}/{size}"
        headers["content-length"] = str(len(body))
        return 206, headers, body

    get_object.reads_only_the_range = True  # type: ignore[attr-defined]
    S3Response.get_object = get_object  # type: ignore[method-assign]
    FakeKey.value = property(value, whole_value.fset)  # type: ignore[assignment,method-assign]
