"""The web app's static files for ``make serve``: ``web/`` at ``/`` and the JavaScript SDK it imports
at ``/sdk-js/src/``. The HTTP server calls :func:`serve` first, which answers
everything outside ``/v1``; the rest goes on to the API function.

Only files under those two folders with a known type are served; anything else is a 404, so a
path that climbs out (``..``, encoded or not) or names a dotfile never reaches the disk. Every
answer carries the security headers CloudFront adds in AWS: a CSP with no inline script and
``frame-ancestors 'none'``, ``nosniff``, and no referrer (presigned URLs carry signatures).
"""

from __future__ import annotations

from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from localrun.environment import REPO_ROOT

#: URL prefix -> folder. The app's own files sit at the root; the SDK keeps its repository path.
ROUTES: tuple[tuple[str, Path], ...] = (
    ("/sdk-js/src/", REPO_ROOT / "sdk-js" / "src"),
    ("/", REPO_ROOT / "web"),
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".webmanifest": "application/manifest+json",
}
Response = tuple[int, list[tuple[str, str]], bytes]


def is_app_path(target: str) -> bool:
    """True for requests the web app answers: everything outside the API's ``/v1``."""
    path = urlsplit(target).path
    return not (path == "/v1" or path.startswith("/v1/"))


def security_headers(
    storage_origins: Sequence[str] = (), live_origins: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """The CSP and friends. ``storage_origins``: where presigned upload/download/audio URLs point
    (the bucket's origin), which the page must reach with fetch, XHR and the audio element;
    ``live_origins``: the live-status WebSocket (connect-src only)."""
    extra = "".join(f" {origin}" for origin in storage_origins)
    live = "".join(f" {origin}" for origin in live_origins)
    policy = "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self'{extra}{live}",
            f"media-src 'self' blob:{extra}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )
    return [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]


def resolve(target: str) -> Path | None:
    """The file a request path names, or None when it names nothing servable."""
    raw = unquote(urlsplit(target).path)
    if "\\" in raw or "\x00" in raw:
        return None
    path = "/index.html" if raw == "/" else raw
    for prefix, folder in ROUTES:
        if not path.startswith(prefix):
            continue
        parts = PurePosixPath(path[len(prefix) :]).parts
        if not parts or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            return None
        candidate = folder.joinpath(*parts).resolve()
        if not candidate.is_relative_to(folder.resolve()) or not candidate.is_file():
            return None
        return candidate if candidate.suffix in CONTENT_TYPES else None
    return None


def respond(
    target: str, *, method: str = "GET", storage_origins: Sequence[str] = (), live_origins: Sequence[str] = ()
) -> Response:
    """(status, headers, body) for one request to the web app."""
    headers = security_headers(storage_origins, live_origins)
    if method not in ("GET", "HEAD"):
        body = b"Method not allowed\n"
        return 405, [*headers, ("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")], body
    file = resolve(target)
    if file is None:
        return 404, [*headers, ("Content-Type", "text/plain; charset=utf-8")], b"Not found\n"
    body = file.read_bytes()
    return (
        200,
        [*headers, ("Content-Type", CONTENT_TYPES[file.suffix]), ("Cache-Control", "no-cache")],
        body if method == "GET" else b"",
    )


def serve(
    request: BaseHTTPRequestHandler, *, storage_origins: Sequence[str] = (), live_origins: Sequence[str] = ()
) -> bool:
    """Answer ``request`` if it is for the web app (True); False leaves it to the API."""
    if not is_app_path(request.path):
        return False
    status, headers, body = respond(
        request.path, method=request.command, storage_origins=storage_origins, live_origins=live_origins
    )
    request.send_response(status)
    for name, value in headers:
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)
    return True
