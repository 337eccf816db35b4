"""HTTP for the SDK, on urllib and http.client: one place for the API key, retries and redirects.

- Idempotent calls (GET, HEAD, PUT, DELETE) wait and try again, a bounded number of times, when
  the API answers 429, 502, 503 or 504 or the connection fails: after ``Retry-After`` when the
  answer has one (the API's 429 and 503 do), else after an exponential backoff with full jitter
  (a gateway's 502 or 504, a dropped connection). A POST is never repeated: it could create a
  second job.
- Redirects are never followed with the API key (it would travel to wherever they point); only a
  303 to a presigned download is fetched, without the key.
- Uploads stream the file to a presigned URL in blocks, with no API key.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import platform
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from client.errors import (
    TRANSIENT_STATUSES,
    APIConnectionError,
    AuthenticationError,
    TranscriberError,
    UploadError,
    ValidationError,
    error_for_status,
)
from client.models import opt_float

__version__ = "0.1.0"  # here rather than in __init__: the User-Agent below needs it

_UPLOAD_BLOCK = 1024 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
#: Answers that say "try again": rate limited, or a gateway or the service briefly unavailable.
RETRYABLE_STATUSES = TRANSIENT_STATUSES | {429}
#: Backoff without ``Retry-After``: a random wait in [0, min(cap, base * 2**attempt)) seconds.
_BACKOFF_BASE_S = 0.5
_BACKOFF_CAP_S = 8.0


def backoff_s(
    attempt: int, *, cap_s: float = _BACKOFF_CAP_S, draw: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter (attempt 0, 1, ...): clients that failed together do
    not all come back at the same moment."""
    return draw() * min(cap_s, _BACKOFF_BASE_S * 2 ** max(0, attempt))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the API key to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Response:
    """One HTTP answer, read whole (the API's answers are small; downloads are text)."""

    status: int
    headers: Any  # http.client.HTTPMessage, or {} when an error came without headers
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def text(self) -> str:
        charset = "utf-8"
        for part in str(self.headers.get("Content-Type", "")).split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset)
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def problem(self) -> dict[str, Any]:
        """The problem JSON of an error answer, or its text as ``detail``."""
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            data = None
        if isinstance(data, Mapping):
            return dict(data)
        text = self.body.decode("utf-8", errors="replace").strip()
        return {"detail": text[:300]} if text else {}

    def error(self, what: str, *, too_large_hint: str | None = None) -> TranscriberError:
        """The exception for this error answer; ``too_large_hint``: what to do about a 413 here."""
        return error_for_status(
            self.status,
            self.problem(),
            what,
            retry_after=parse_retry_after(self.headers.get("Retry-After")),
            location=self.headers.get("Location"),
            too_large_hint=too_large_hint,
        )


def parse_retry_after(value: str | None, default: float = 1.0) -> float:
    """``Retry-After`` as seconds (it may be a number or an HTTP date)."""
    if value is None or not str(value).strip():
        return default
    text = str(value).strip()
    seconds = opt_float(text)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def api_root(base_url: str) -> str:
    """The API's address without a trailing ``/v1``; ValidationError when it is not http(s)."""
    if not base_url or not str(base_url).strip():
        raise ValidationError(
            "No API base URL: pass the address the API serves on, e.g. http://127.0.0.1:8080 "
            "(make serve prints it)."
        )
    parsed = urllib.parse.urlsplit(str(base_url).strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError(
            f"Invalid API base URL {base_url!r}: it must start with http:// or https://, "
            "e.g. http://127.0.0.1:8080."
        )
    root = str(base_url).strip().rstrip("/")
    return root.removesuffix("/v1")


class Transport:
    """Authenticated calls to ``{base_url}/v1``; ``sleep`` is swappable so tests need not wait."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float,
        max_retries: int,
        max_retry_wait_s: float,
    ) -> None:
        self.base_url = api_root(base_url)
        if not api_key or not str(api_key).strip():
            raise AuthenticationError(
                "No API key: pass api_key= (or set TRANSCRIBER_API_KEY for the CLI); "
                "make serve prints a development key."
            )
        self._api_key = str(api_key).strip()
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.max_retry_wait_s = max_retry_wait_s
        self.sleep: Callable[[float], None] = time.sleep
        self.random: Callable[[], float] = random.random  # the backoff's jitter; tests pin it
        self._opener = urllib.request.build_opener(_NoRedirect())
        self.user_agent = f"audio-transcriber-sdk/{__version__} Python/{platform.python_version()}"

    def _url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = f"{self.base_url}/v1{path}"
        params = {
            k: (str(v).lower() if isinstance(v, bool) else v)
            for k, v in (query or {}).items()
            if v is not None
        }
        return f"{url}?{urllib.parse.urlencode(params)}" if params else url

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Response:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as err:
            try:
                data = err.read()
            except (OSError, http.client.HTTPException):
                data = b""
            finally:
                err.close()
            return Response(err.code, err.headers or {}, data)
        except urllib.error.URLError as err:
            raise APIConnectionError(
                f"Could not reach the API at {self.base_url}: {err.reason}. Check the base URL and "
                "that the server is running (make serve prints the address)."
            ) from err
        except TimeoutError as err:
            raise APIConnectionError(
                f"The API at {self.base_url} did not answer within {self.timeout:g} s. Try again, or "
                "pass a larger timeout= to Client."
            ) from err
        except (OSError, http.client.HTTPException) as err:
            raise APIConnectionError(
                f"The connection to the API at {self.base_url} failed: {err}. Try again; check the "
                "base URL and the network."
            ) from err

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, Any] | None = None,
        payload: Any = None,
        accept: str = "application/json",
        follow_see_other: bool = False,
        too_large_hint: str | None = None,
    ) -> Response:
        """One API call; idempotent ones ride out 429, 502-504 and dropped connections, a bounded
        number of times. ``follow_see_other``: a 303 (a transcript too large for one API response)
        is fetched from its presigned Location, without the key. ``too_large_hint``: what to do
        about a 413 from this call, where it is not the upload's "send a smaller file"."""
        url = self._url(path, query)
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": f"{accept}, application/problem+json",
            "User-Agent": self.user_agent,
        }
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            retry = method in _IDEMPOTENT and attempt < self.max_retries
            try:
                response = self._send(method, url, body, headers)
                location = response.headers.get("Location")
                if follow_see_other and response.status == 303 and location:
                    response = self._send("GET", location, None, {"User-Agent": self.user_agent})
            except APIConnectionError:
                if not retry:
                    raise
                self.sleep(self._backoff(attempt))
                attempt += 1
                continue
            if response.ok:
                return response
            if not (retry and response.status in RETRYABLE_STATUSES):
                raise response.error(what, too_large_hint=too_large_hint)
            retry_after = response.headers.get("Retry-After")
            wait_s = parse_retry_after(retry_after) if retry_after is not None else self._backoff(attempt)
            if wait_s > self.max_retry_wait_s:
                raise response.error(what, too_large_hint=too_large_hint)
            attempt += 1
            self.sleep(wait_s)

    def _backoff(self, attempt: int) -> float:
        return backoff_s(attempt, cap_s=min(_BACKOFF_CAP_S, self.max_retry_wait_s), draw=self.random)

    @property
    def api_key(self) -> str:
        return self._api_key

    def json(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        """``request`` for an answer that must be a JSON object."""
        response = self.request(method, path, what=what, **kwargs)
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError) as err:
            raise TranscriberError(
                f"{what}: the server answered HTTP {response.status} with something that is not JSON. "
                f"Check that {self.base_url} is the transcription API.",
                status=response.status,
            ) from err
        if not isinstance(data, Mapping):
            raise TranscriberError(
                f"{what}: expected a JSON object from the API, got {type(data).__name__}. "
                f"Check that {self.base_url} is the transcription API.",
                status=response.status,
            )
        return dict(data)

    def put(
        self, url: str, source: str | os.PathLike[str] | bytes, *, headers: Mapping[str, str], job: str
    ) -> None:
        """PUT a path or bytes to a presigned URL (no API key), streaming a file in blocks.

        http.client rather than urllib: urllib would read the whole file into memory first.
        """
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UploadError(f"The upload URL for {job} is not an http(s) URL: {url[:80]!r}.")
        if isinstance(source, bytes):
            size = len(source)
            stream: BinaryIO | None = None
        else:
            path = Path(source)
            try:
                size = path.stat().st_size
                stream = path.open("rb")
            except OSError as err:
                raise UploadError(f"Cannot read {path} to upload it: {err.strerror or err}.") from err
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        all_headers = {"Content-Length": str(size), "User-Agent": self.user_agent, **headers}
        connection = connection_class(parts.netloc, timeout=max(self.timeout, 60.0))
        try:
            connection.putrequest("PUT", target, skip_accept_encoding=True)
            for name, value in all_headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            if stream is None:
                connection.send(source)  # type: ignore[arg-type]
            else:
                while block := stream.read(_UPLOAD_BLOCK):
                    connection.send(block)
            response = connection.getresponse()
            answer = Response(response.status, response.headers, response.read())
        except (OSError, http.client.HTTPException) as err:
            raise UploadError(
                f"Uploading the audio for {job} failed: {err}. Check the network and try again "
                "(the upload URL stays valid for up to 15 minutes; after that, create the job again)."
            ) from err
        finally:
            connection.close()
            if stream is not None:
                stream.close()
        if not answer.ok:
            snippet = answer.body.decode("utf-8", errors="replace").strip()[:300]
            hint = (
                "The upload URL has probably expired (it is valid for up to 15 minutes) or was "
                "altered: create the job again and upload at once."
                if answer.status == 403
                else "Try the upload again; if it keeps failing, create the job again."
            )
            raise UploadError(
                f"Uploading the audio for {job} failed: storage answered HTTP {answer.status}"
                f"{': ' + snippet if snippet else ''}. {hint}",
                status=answer.status,
            )
