"""A Python client for the transcription HTTP API (``/v1``), on the standard library only.

    from client import Client

    api = Client("http://127.0.0.1:8080", "tk_...")
    job = api.transcribe("talk.mp3", options={"language": "en"}, on_progress=lambda t: print(t.progress))
    print(job.transcript.text)
    open("talk.srt", "w").write(api.download(job.job_id, format="srt"))

Every call raises a :class:`TranscriberError` subclass whose message says what went wrong and what
to do about it. Idempotent calls (GET, DELETE) wait and try again when the API answers 429 (or 503)
with ``Retry-After``, a bounded number of times; a POST is never repeated by the client.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import math
import mimetypes
import os
import platform
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

__version__ = "0.1.0"

#: Files up to this size may be sent inside the create request (``inline=True``).
INLINE_LIMIT_BYTES = 4 * 1024 * 1024  # the API's limit: base64 of it fits a 6 MB Lambda payload
#: Job states, as the API spells them.
AWAITING_UPLOAD = "AWAITING_UPLOAD"
PENDING = "PENDING"
PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
TERMINAL_STATES = frozenset({COMPLETED, FAILED})
#: What ``download`` can produce.
DOWNLOAD_FORMATS = ("json", "srt", "vtt", "txt")

_AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".aac": "audio/aac",
    ".wma": "audio/x-ms-wma",
    ".webm": "audio/webm",
}
_UPLOAD_CHUNK = 1024 * 1024


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class TranscriberError(Exception):
    """Base of every error the SDK raises. ``str(err)`` says what happened and what to do.

    For an answer from the API, ``status`` is the HTTP status and ``problem`` the problem JSON
    (``type``, ``title``, ``status``, ``detail``, perhaps ``reason_code``) as sent.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.problem: dict[str, Any] = dict(problem or {})

    @property
    def title(self) -> str | None:
        return _opt_str(self.problem.get("title"))

    @property
    def detail(self) -> str | None:
        return _opt_str(self.problem.get("detail"))

    @property
    def reason_code(self) -> str | None:
        return _opt_str(self.problem.get("reason_code"))

    @property
    def type(self) -> str | None:
        return _opt_str(self.problem.get("type"))


class APIConnectionError(TranscriberError):
    """The API could not be reached (wrong URL, server down, network, timeout)."""


class AuthenticationError(TranscriberError):
    """401 (or 403): the API key is missing, wrong, revoked, or not allowed to do this."""


class NotFoundError(TranscriberError):
    """404: no such job for this API key (another tenant's job is not found either)."""


class ConflictError(TranscriberError):
    """409: the job is not in a state that allows this (retry of a job that is not FAILED, ...)."""


class ValidationError(TranscriberError):
    """400, 413, 415 or 422: the request was refused as it stands; the message says why."""


class RateLimitedError(TranscriberError):
    """429: over the rate limit or the quota. ``retry_after`` is in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        status: int | None = 429,
        problem: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, problem=problem)
        self.retry_after = retry_after


class ServerError(TranscriberError):
    """5xx: the API failed. Usually transient: try again later."""


class UploadError(TranscriberError):
    """The audio could not be PUT to the presigned upload URL."""


class TranscriptionFailedError(TranscriberError):
    """The job ended FAILED. ``transcription`` is the final job; see its reason code and message."""

    def __init__(self, transcription: Transcription) -> None:
        reason = transcription.reason_code or "UNKNOWN"
        detail = transcription.error_message or "no message was recorded"
        super().__init__(
            f"Transcription {transcription.job_id} ({transcription.filename or 'file'}) failed "
            f"[{reason}]: {detail}. Fix the cause and call retry('{transcription.job_id}') "
            "(finished chunks are reused), or submit the file again.",
            problem={"reason_code": transcription.reason_code, "detail": transcription.error_message},
        )
        self.transcription = transcription
        self.job_id = transcription.job_id
        self.error_message = transcription.error_message

    @property
    def reason_code(self) -> str | None:
        return self.transcription.reason_code


class WaitTimeoutError(TranscriberError, TimeoutError):
    """``wait`` gave up before the job finished. The job keeps running on the server."""

    def __init__(self, transcription: Transcription, waited_s: float) -> None:
        super().__init__(
            f"Transcription {transcription.job_id} is still {transcription.status} "
            f"({transcription.progress:.0f}%) after waiting {waited_s:.0f} s. It keeps running: "
            f"call wait('{transcription.job_id}') again, or pass a larger timeout_s."
        )
        self.transcription = transcription
        self.job_id = transcription.job_id
        self.waited_s = waited_s


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _opt_int(value: Any) -> int | None:
    number = _opt_float(value)
    return None if number is None else int(number)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Word:
    """One word with its times in seconds (when the job ran with word timestamps)."""

    text: str
    start: float | None = None
    end: float | None = None
    probability: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Word:
        return cls(
            text=str(data.get("text", data.get("word", ""))),
            start=_opt_float(data.get("start")),
            end=_opt_float(data.get("end")),
            probability=_opt_float(data.get("probability")),
        )


@dataclass(frozen=True)
class Segment:
    """A span of the transcript; times in seconds from the start of the audio."""

    start: float
    end: float
    text: str
    id: int | None = None
    words: tuple[Word, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        words = data.get("words")
        return cls(
            start=_opt_float(data.get("start")) or 0.0,
            end=_opt_float(data.get("end")) or 0.0,
            text=str(data.get("text") or ""),
            id=_opt_int(data.get("id")),
            words=tuple(Word.from_dict(w) for w in words if isinstance(w, Mapping))
            if isinstance(words, list)
            else (),
            raw=dict(data),
        )


def _segments(value: Any) -> tuple[Segment, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Segment.from_dict(s) for s in value if isinstance(s, Mapping))


@dataclass(frozen=True)
class Transcript:
    """The finished transcript of a COMPLETED job."""

    text: str
    language: str | None = None
    duration: float | None = None
    segments: tuple[Segment, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcript:
        segments = _segments(data.get("segments"))
        text = data.get("text")
        if not isinstance(text, str):
            text = data.get("transcript")  # the JSON download's spelling
        if not isinstance(text, str):
            text = " ".join(s.text.strip() for s in segments if s.text.strip())
        return cls(
            text=text,
            language=_opt_str(data.get("language")),
            duration=_opt_float(data.get("duration")),
            segments=segments,
            raw=dict(data),
        )


@dataclass(frozen=True)
class Transcription:
    """A transcription job as the API reports it. Fields the API leaves out are None.

    ``raw`` is the JSON object as received, unknown fields included.
    """

    job_id: str
    status: str
    filename: str | None = None
    size: int | None = None
    progress: float = 0.0
    chunks_done: int | None = None
    chunks_total: int | None = None
    language: str | None = None
    duration: float | None = None
    options: dict[str, Any] = field(default_factory=dict, hash=False)
    created_at: str | None = None
    updated_at: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    failed_at: str | None = None
    reason_code: str | None = None
    error_message: str | None = None
    duplicate_of: str | None = None
    transcript: Transcript | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transcription:
        status = str(data.get("status") or "UNKNOWN").upper()
        transcript_data = data.get("transcript")
        transcript = None
        if isinstance(transcript_data, Mapping):
            merged = dict(transcript_data)
            if "segments" not in merged and isinstance(data.get("segments"), list):
                merged["segments"] = data["segments"]
            transcript = Transcript.from_dict(merged)
        progress = _opt_float(data.get("progress"))
        if progress is None:
            progress = 100.0 if status == COMPLETED else 0.0
        return cls(
            job_id=str(data.get("job_id") or data.get("id") or ""),
            status=status,
            filename=_opt_str(data.get("filename")),
            size=_opt_int(data.get("size")),
            progress=max(0.0, min(100.0, progress)),
            chunks_done=_opt_int(data.get("chunks_done")),
            chunks_total=_opt_int(data.get("chunks_total")),
            language=_opt_str(data.get("language")),
            duration=_opt_float(data.get("duration")),
            options=_mapping(data.get("options")),
            created_at=_opt_str(data.get("created_at")),
            updated_at=_opt_str(data.get("updated_at")),
            started_at=_opt_str(data.get("started_at")),
            completed_at=_opt_str(data.get("completed_at")),
            failed_at=_opt_str(data.get("failed_at")),
            reason_code=_opt_str(data.get("reason_code")),
            error_message=_opt_str(data.get("error_message")),
            duplicate_of=_opt_str(data.get("duplicate_of")),
            transcript=transcript,
            raw=dict(data),
        )

    @property
    def done(self) -> bool:
        """True once the job is COMPLETED or FAILED."""
        return self.status in TERMINAL_STATES

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED

    @property
    def failed(self) -> bool:
        return self.status == FAILED

    @property
    def text(self) -> str | None:
        """The transcript text, when the job is COMPLETED."""
        return self.transcript.text if self.transcript else None

    @property
    def segments(self) -> tuple[Segment, ...]:
        return self.transcript.segments if self.transcript else ()


@dataclass(frozen=True)
class Page:
    """One page of ``list``: jobs newest first, and the cursor of the next page (None at the end)."""

    items: tuple[Transcription, ...]
    next_cursor: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Page:
        items = data.get("items")
        return cls(
            items=tuple(Transcription.from_dict(i) for i in items if isinstance(i, Mapping))
            if isinstance(items, list)
            else (),
            next_cursor=_opt_str(data.get("next_cursor")) or None,
            raw=dict(data),
        )

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None

    def __iter__(self) -> Iterator[Transcription]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Submission:
    """What ``create`` returns: the new job and where to PUT its audio (None when sent inline)."""

    job_id: str
    status: str
    upload_url: str | None = None
    upload_method: str = "PUT"
    upload_expires_at: str | None = None
    upload_headers: dict[str, str] = field(default_factory=dict, hash=False)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Submission:
        headers = _mapping(data.get("upload_headers"))
        return cls(
            job_id=str(data.get("job_id") or data.get("id") or ""),
            status=str(data.get("status") or AWAITING_UPLOAD).upper(),
            upload_url=_opt_str(data.get("upload_url")) or None,
            upload_method=str(data.get("upload_method") or "PUT").upper(),
            upload_expires_at=_opt_str(data.get("upload_expires_at")),
            upload_headers={str(k): str(v) for k, v in headers.items()},
            raw=dict(data),
        )


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would carry the API key to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class _Response:
    status: int
    headers: Any  # http.client.HTTPMessage, or {} when an error came without headers
    body: bytes

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


def parse_retry_after(value: str | None, default: float = 1.0) -> float:
    """``Retry-After`` as seconds (it may be a number or an HTTP date)."""
    if value is None or not str(value).strip():
        return default
    text = str(value).strip()
    seconds = _opt_float(text)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _problem_from(response: _Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, Mapping):
        return dict(data)
    text = response.body.decode("utf-8", errors="replace").strip()
    return {"detail": text[:300]} if text else {}


def _error_for(response: _Response, what: str) -> TranscriberError:
    """The exception for a non-2xx answer, with the server's detail and what to do next."""
    status = response.status
    problem = _problem_from(response)
    detail = str(problem.get("detail") or problem.get("title") or problem.get("message") or "").strip()
    said = f": {detail.rstrip('.')}" if detail else ""
    reason = problem.get("reason_code")
    tag = f" [{reason}]" if reason else ""
    if status in (401, 403):
        verb = "was refused (401)" if status == 401 else "is not allowed (403)"
        return AuthenticationError(
            f"{what} {verb}{said}. Check your API key: send the key you were given "
            "(Client(api_key=...), or TRANSCRIBER_API_KEY for the CLI); a revoked key no longer works.",
            status=status,
            problem=problem,
        )
    if status == 404:
        return NotFoundError(
            f"{what}: not found (404){said}. Check the job id (listing your jobs shows them); "
            "jobs of another API key's tenant are not visible, and deleted jobs are gone.",
            status=status,
            problem=problem,
        )
    if status == 409:
        return ConflictError(
            f"{what}: conflict (409){tag}{said}. Check the job's status first: downloads "
            "need a COMPLETED job, and only a FAILED job can be retried.",
            status=status,
            problem=problem,
        )
    if status == 413:
        return ValidationError(
            f"{what}: too large (413){tag}{said}. Send a smaller file (or split it); files over "
            "4 MiB cannot be sent inline and must use the upload URL.",
            status=status,
            problem=problem,
        )
    if status == 415:
        return ValidationError(
            f"{what}: unsupported media type (415){tag}{said}. Send an audio file (WAV, MP3, M4A, "
            "FLAC, OGG/Opus, AAC, WMA, WebM) with a matching extension or content type.",
            status=status,
            problem=problem,
        )
    if status in (400, 422):
        return ValidationError(
            f"{what}: invalid request ({status}){tag}{said}. Correct the request and send it again.",
            status=status,
            problem=problem,
        )
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimitedError(
            f"{what}: rate limit or quota exceeded (429){tag}{said}. Wait {retry_after:g} s "
            "(Retry-After) before trying again, or ask for a higher limit.",
            retry_after=retry_after,
            status=status,
            problem=problem,
        )
    if status >= 500:
        return ServerError(
            f"{what}: the API failed ({status}){said}. This is usually temporary: try again in a "
            "moment; if it keeps happening, report it with the time and the job id.",
            status=status,
            problem=problem,
        )
    if 300 <= status < 400:
        location = response.headers.get("Location", "?")
        return TranscriberError(
            f"{what}: the API redirected to {location} ({status}). Use that address as the base URL "
            "(http versus https?); the client does not follow redirects with your key.",
            status=status,
            problem=problem,
        )
    return TranscriberError(f"{what}: unexpected HTTP {status}{said}.", status=status, problem=problem)


def guess_content_type(filename: str) -> str | None:
    """The audio content type for a file name's extension, or None when it is not known."""
    suffix = Path(filename).suffix.lower()
    if suffix in _AUDIO_TYPES:
        return _AUDIO_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(filename)
    return guessed if guessed and guessed.split("/")[0] in ("audio", "video") else None


def _clean_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError("options must be a dict such as {'language': 'en', 'word_timestamps': True}.")
    return {str(k): v for k, v in options.items() if v is not None}


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------


class Client:
    """The transcription API, as Python calls.

    ``base_url`` is the API's address (``http://127.0.0.1:8080``, or an API Gateway stage URL);
    ``/v1`` is added by the client. ``timeout`` bounds each HTTP request, in seconds.
    ``max_retries`` is how many times an idempotent request (GET, DELETE) is repeated after a
    429/503 with ``Retry-After``, waiting at most ``max_retry_wait_s`` each time.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30,
        max_retries: int = 3,
        max_retry_wait_s: float = 60.0,
    ) -> None:
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
        if not api_key or not str(api_key).strip():
            raise AuthenticationError(
                "No API key: pass api_key= (or set TRANSCRIBER_API_KEY for the CLI); "
                "make serve prints a development key."
            )
        root = str(base_url).strip().rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        self.base_url = root
        self._api_key = str(api_key).strip()
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.max_retry_wait_s = max_retry_wait_s
        self._sleep: Callable[[float], None] = time.sleep
        self._opener = urllib.request.build_opener(_NoRedirect())
        self._user_agent = f"audio-transcriber-sdk/{__version__} Python/{platform.python_version()}"

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """A client from ``TRANSCRIBER_API_URL`` and ``TRANSCRIBER_API_KEY``."""
        return cls(
            os.environ.get("TRANSCRIBER_API_URL", ""), os.environ.get("TRANSCRIBER_API_KEY", ""), **kwargs
        )

    def __repr__(self) -> str:  # never shows the key
        return f"Client(base_url={self.base_url!r})"

    # ---- HTTP plumbing ---------------------------------------------------------------------

    def _url(self, path: str, query: Mapping[str, Any] | None = None) -> str:
        url = f"{self.base_url}/v1{path}"
        params = {k: v for k, v in (query or {}).items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(
                {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items()}
            )
        return url

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> _Response:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return _Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as err:
            try:
                data = err.read()
            except (OSError, http.client.HTTPException):
                data = b""
            finally:
                err.close()
            return _Response(err.code, err.headers or {}, data)
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

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, Any] | None = None,
        payload: Any = None,
        accept: str = "application/json",
        follow_see_other: bool = False,
    ) -> _Response:
        """One API call (GETs ride out 429s). ``follow_see_other``: a 303 (a transcript too large
        for one API response) is fetched from its presigned Location, without the API key."""
        url = self._url(path, query)
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": f"{accept}, application/problem+json",
            "User-Agent": self._user_agent,
        }
        body = None
        if payload is not None:
            body = json.dumps(payload).encode("utf-8")
            headers["Content-Type"] = "application/json"
        idempotent = method in ("GET", "HEAD", "DELETE")
        attempt = 0
        while True:
            response = self._send(method, url, body, headers)
            if 200 <= response.status < 300:
                return response
            location = response.headers.get("Location")
            if follow_see_other and response.status == 303 and location:
                fetched = self._send("GET", location, None, {"User-Agent": self._user_agent})
                if 200 <= fetched.status < 300:
                    return fetched
                response = fetched
            error = _error_for(response, what)
            retryable = response.status == 429 or (
                response.status == 503 and response.headers.get("Retry-After") is not None
            )
            if not (idempotent and retryable and attempt < self.max_retries):
                raise error
            wait_s = parse_retry_after(response.headers.get("Retry-After"))
            if wait_s > self.max_retry_wait_s:
                raise error
            attempt += 1
            self._sleep(wait_s)

    def _json(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, what=what, **kwargs)
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

    @staticmethod
    def _job_path(job_id: str, suffix: str = "") -> str:
        if not job_id or not str(job_id).strip():
            raise ValidationError("A job id is required (create() or list() gives them).")
        return f"/transcriptions/{urllib.parse.quote(str(job_id).strip(), safe='')}{suffix}"

    # ---- creating jobs ---------------------------------------------------------------------

    def create(
        self,
        filename: str,
        size: int,
        *,
        options: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        content: bytes | None = None,
    ) -> Submission:
        """Create a job (``POST /v1/transcriptions``); PUT the audio to its ``upload_url`` next.

        With ``content`` (at most 4 MiB) the audio travels inside the request and there is no
        upload step. Options: ``language``, ``word_timestamps``, ``beam_size``,
        ``max_chunk_seconds``, ``dedupe``, ``callback_url``.
        """
        payload: dict[str, Any] = {"filename": str(filename), "size": int(size)}
        if content_type:
            payload["content_type"] = content_type
        payload["options"] = _clean_options(options)
        if content is not None:
            if len(content) > INLINE_LIMIT_BYTES:
                raise ValidationError(
                    f"{filename} is {len(content)} bytes; only files up to {INLINE_LIMIT_BYTES} bytes "
                    "(4 MiB) can be sent inline. Leave inline off to use the upload URL."
                )
            payload["content_base64"] = base64.b64encode(content).decode("ascii")
        data = self._json("POST", "/transcriptions", what=f"Creating a job for {filename}", payload=payload)
        return Submission.from_dict(data)

    def upload(
        self,
        submission: Submission | str,
        source: str | os.PathLike[str] | bytes,
        *,
        content_type: str | None = None,
    ) -> None:
        """PUT the audio (a path or bytes) to a job's presigned ``upload_url``; no API key is sent."""
        url = submission.upload_url if isinstance(submission, Submission) else submission
        extra = dict(submission.upload_headers) if isinstance(submission, Submission) else {}
        job = submission.job_id if isinstance(submission, Submission) else "the job"
        if not url:
            raise UploadError(f"{job} has no upload URL (was the audio sent inline?); nothing to upload.")
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
        headers = {"Content-Length": str(size), "User-Agent": self._user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(extra)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection = connection_class(parts.netloc, timeout=max(self.timeout, 60.0))
        try:
            connection.putrequest("PUT", target, skip_accept_encoding=True)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            if stream is None:
                connection.send(source)  # type: ignore[arg-type]
            else:
                while block := stream.read(_UPLOAD_CHUNK):
                    connection.send(block)
            response = connection.getresponse()
            body = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as err:
            raise UploadError(
                f"Uploading the audio for {job} failed: {err}. Check the network and try again "
                "(the upload URL stays valid for up to 15 minutes; after that, create the job again)."
            ) from err
        finally:
            connection.close()
            if stream is not None:
                stream.close()
        if not 200 <= status < 300:
            snippet = body.decode("utf-8", errors="replace").strip()[:300]
            hint = (
                "The upload URL has probably expired (it is valid for up to 15 minutes) or was "
                "altered: create the job again and upload at once."
                if status == 403
                else "Try the upload again; if it keeps failing, create the job again."
            )
            raise UploadError(
                f"Uploading the audio for {job} failed: storage answered HTTP {status}"
                f"{': ' + snippet if snippet else ''}. {hint}",
                status=status,
            )

    def submit(
        self,
        path: str | os.PathLike[str],
        *,
        options: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        inline: bool = False,
    ) -> Submission:
        """Create a job for a local file and upload the file (or send it inline: up to 4 MiB)."""
        file = Path(path)
        if not file.is_file():
            what = "does not exist" if not file.exists() else "is not a file"
            raise ValidationError(f"{file} {what}: give the path of an audio file (WAV, MP3, FLAC, ...).")
        size = file.stat().st_size
        content_type = content_type or guess_content_type(file.name)
        content = None
        if inline:
            if size > INLINE_LIMIT_BYTES:
                raise ValidationError(
                    f"{file} is {size} bytes; only files up to 4 MiB can be sent inline. "
                    "Leave inline off to use the upload URL."
                )
            content = file.read_bytes()
        submission = self.create(file.name, size, options=options, content_type=content_type, content=content)
        if submission.upload_url and content is None:
            self.upload(submission, file, content_type=content_type)
        return submission

    def transcribe(
        self,
        path: str | os.PathLike[str],
        *,
        wait: bool = True,
        options: Mapping[str, Any] | None = None,
        poll_s: float = 1.0,
        timeout_s: float = 3600,
        on_progress: Callable[[Transcription], None] | None = None,
        inline: bool = False,
        content_type: str | None = None,
    ) -> Transcription:
        """Submit a file and, with ``wait``, poll until it is COMPLETED (or raise).

        ``on_progress`` is called with the job after every poll (``progress`` is 0-100).
        Raises :class:`TranscriptionFailedError` if the job fails, :class:`WaitTimeoutError` if it
        is not done within ``timeout_s`` seconds.
        """
        submission = self.submit(path, options=options, content_type=content_type, inline=inline)
        if not wait:
            return self.get(submission.job_id)
        return self.wait(submission.job_id, poll_s=poll_s, timeout_s=timeout_s, on_progress=on_progress)

    # ---- reading jobs ----------------------------------------------------------------------

    def get(self, job_id: str) -> Transcription:
        """``GET /v1/transcriptions/{id}``: status, progress, timings, and the transcript when done."""
        data = self._json("GET", self._job_path(job_id), what=f"Getting job {job_id}")
        return Transcription.from_dict(data)

    def wait(
        self,
        job_id: str,
        *,
        poll_s: float = 1.0,
        timeout_s: float = 3600,
        on_progress: Callable[[Transcription], None] | None = None,
        raise_on_failure: bool = True,
    ) -> Transcription:
        """Poll a job until it is COMPLETED or FAILED, calling ``on_progress`` after each poll.

        A FAILED job raises :class:`TranscriptionFailedError` (or is returned, with
        ``raise_on_failure=False``); :class:`WaitTimeoutError` after ``timeout_s`` seconds.
        """
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            try:
                job = self.get(job_id)
            except RateLimitedError as err:
                pause = max(poll_s, err.retry_after)
                if time.monotonic() + pause > deadline:
                    raise
                self._sleep(pause)
                continue
            if on_progress is not None:
                on_progress(job)
            if job.status == COMPLETED:
                return job
            if job.status == FAILED:
                if raise_on_failure:
                    raise TranscriptionFailedError(job)
                return job
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(job, time.monotonic() - started)
            self._sleep(min(max(poll_s, 0.0), remaining))

    def segments(self, job_id: str, q: str | None = None) -> tuple[Segment, ...]:
        """The segments of a COMPLETED job, only those matching the words of ``q`` if given."""
        data = self._json(
            "GET",
            self._job_path(job_id, "/segments"),
            what=f"Getting the segments of job {job_id}",
            query={"q": q},
        )
        return _segments(data.get("segments"))

    def download(self, job_id: str, format: str = "srt") -> str:
        """The transcript of a COMPLETED job as ``json``, ``srt``, ``vtt`` or ``txt`` text."""
        fmt = str(format).lower().lstrip(".")
        if fmt not in DOWNLOAD_FORMATS:
            raise ValidationError(
                f"Unknown download format {format!r}: use one of {', '.join(DOWNLOAD_FORMATS)}."
            )
        response = self._request(
            "GET",
            self._job_path(job_id, "/download"),
            what=f"Downloading job {job_id} as {fmt}",
            query={"format": fmt},
            accept="application/json, text/plain, application/x-subrip, text/vtt, */*",
            follow_see_other=True,
        )
        return response.text()

    def iter_all(self, status: str | None = None, *, page_size: int | None = None) -> Iterator[Transcription]:
        """Every job (optionally of one status), newest first, following the cursors."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self.list(status=status, limit=page_size, cursor=cursor)
            yield from page.items
            if not page.next_cursor or page.next_cursor in seen:
                return
            seen.add(page.next_cursor)
            cursor = page.next_cursor

    # ---- changing jobs ---------------------------------------------------------------------

    def delete(self, job_id: str) -> None:
        """Stop the job if it runs, delete its audio and outputs (``DELETE``, 204)."""
        self._request("DELETE", self._job_path(job_id), what=f"Deleting job {job_id}")

    def retry(self, job_id: str) -> Transcription:
        """Start a FAILED job again (finished chunks are reused); 409 if it is not FAILED."""
        data = self._json("POST", self._job_path(job_id, "/retry"), what=f"Retrying job {job_id}")
        return Transcription.from_dict(data)

    # Last: the name ``list`` shadows the builtin inside the class body.
    def list(self, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page:
        """One page of jobs, newest first; pass ``page.next_cursor`` as ``cursor`` for the next."""
        data = self._json(
            "GET",
            "/transcriptions",
            what="Listing jobs",
            query={"status": status.upper() if status else None, "limit": limit, "cursor": cursor},
        )
        return Page.from_dict(data)


__all__ = [
    "AWAITING_UPLOAD",
    "COMPLETED",
    "DOWNLOAD_FORMATS",
    "FAILED",
    "INLINE_LIMIT_BYTES",
    "PENDING",
    "PROCESSING",
    "TERMINAL_STATES",
    "APIConnectionError",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "NotFoundError",
    "Page",
    "RateLimitedError",
    "Segment",
    "ServerError",
    "Submission",
    "TranscriberError",
    "Transcript",
    "Transcription",
    "TranscriptionFailedError",
    "UploadError",
    "ValidationError",
    "WaitTimeoutError",
    "Word",
    "guess_content_type",
    "parse_retry_after",
]
