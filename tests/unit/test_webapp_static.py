"""The web app's static file responses: types, security headers, and refused paths."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from localrun.webapp import is_app_path, respond, serve


def _headers(target: str, **kwargs: object) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = respond(target, **kwargs)  # type: ignore[arg-type]
    return status, dict(headers), body


def test_the_page_its_script_and_the_sdk_are_served_with_their_types() -> None:
    status, headers, body = _headers("/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'<script type="module" src="/app.js">' in body
    assert _headers("/app.js")[1]["Content-Type"] == "text/javascript; charset=utf-8"
    assert _headers("/app.css")[1]["Content-Type"] == "text/css; charset=utf-8"
    status, headers, body = _headers("/sdk-js/src/index.js?v=1")
    assert status == 200 and b"export" in body
    assert headers["Content-Type"].startswith("text/javascript")


def test_every_answer_carries_the_security_headers() -> None:
    for target in ("/", "/missing.js", "/../pyproject.toml"):
        _, headers, _ = _headers(target, storage_origins=["http://127.0.0.1:5000"])
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "connect-src 'self' http://127.0.0.1:5000" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    "target",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/sdk-js/src/../package.json",
        "/sdk-js/src/%2E%2E%2Fpackage.json",
        "/..%5cpyproject.toml",
        "/.gitignore",
        "/sdk-js/test/unit.test.js",
        "//etc/passwd",
        "/index.html%00.js",
        "/sdk-js/src/index.d.ts",
    ],
)
def test_paths_outside_the_app_or_of_unknown_types_are_404(target: str) -> None:
    status, _, body = _headers(target)
    assert status == 404 and body == b"Not found\n"


def test_head_has_no_body_and_other_methods_are_refused() -> None:
    status, headers, body = _headers("/", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Type"].startswith("text/html")
    assert _headers("/", method="POST")[0] == 405


def test_the_api_keeps_v1() -> None:
    assert not is_app_path("/v1/transcriptions?limit=1")
    assert not is_app_path("/v1")
    assert is_app_path("/") and is_app_path("/v1x.js") and is_app_path("/sdk-js/src/index.js")


@pytest.fixture
def server() -> Iterator[str]:
    """An HTTP server that asks the web app first and answers 418 for the rest (the API's part)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if not serve(self, storage_origins=["http://127.0.0.1:5000"]):
                self.send_response(418)
                self.send_header("Content-Length", "0")
                self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_serve_answers_the_app_over_http_and_leaves_v1_to_the_api(server: str) -> None:
    with urllib.request.urlopen(server + "/") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/html; charset=utf-8"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert int(resp.headers["Content-Length"]) == len(resp.read())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server + "/v1/transcriptions")
    assert refused.value.code == 418
