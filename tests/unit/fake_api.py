"""An in-memory fake of the transcription HTTP API (``/v1``), for the SDK and CLI tests.

It speaks the contract over real HTTP (a stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0):
Bearer keys with two tenants, problem JSON errors, a presigned-style PUT upload route, cursor
pagination, and jobs that move PENDING -> PROCESSING -> COMPLETED one step per GET of the job
(a file whose name contains ``fail`` ends FAILED instead, until it is retried).
``inject`` queues canned answers (a 429 with ``Retry-After``, a 500, ...) for the next requests.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from localrun.http_thread import ThreadedHttpServer
from transcriber.domain.options import TEXT_OPTION_NAMES

API_KEY = "test-key"
OTHER_KEY = "other-tenant-key"
TENANTS = {API_KEY: "tenant-a", OTHER_KEY: "tenant-b"}
MAX_SIZE = 100 * 1024 * 1024
INLINE_MAX = 5 * 1024 * 1024
AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma", ".webm")
KNOWN_OPTIONS = {"language", "word_timestamps", "beam_size", "max_chunk_seconds", "dedupe", "callback_url"}
KNOWN_OPTIONS |= {"task", "prompt"}
KNOWN_OPTIONS |= {"speaker_labels", "min_speakers", "max_speakers"}
#: The text options the API takes (vocabulary_phrases is filled in from vocabulary_name).
KNOWN_OPTIONS |= set(TEXT_OPTION_NAMES) - {"vocabulary_phrases"}
STATUSES = {"AWAITING_UPLOAD", "PENDING", "PROCESSING", "COMPLETED", "FAILED"}
SEGMENTS: list[dict[str, Any]] = [
    {
        "id": 1,
        "start": 0.0,
        "end": 1.5,
        "text": "hello world",
        "words": [
            {"start": 0.0, "end": 0.7, "text": "hello", "probability": 0.98},
            {"start": 0.8, "end": 1.5, "text": "world", "probability": 0.95},
        ],
        "speaker": None,
    },
    {"id": 2, "start": 1.5, "end": 3.25, "text": "from the fake api"},
]
TEXT = "hello world from the fake api"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Injected:
    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None
    method: str | None
    path_prefix: str | None


@dataclass
class FakeJob:
    job_id: str
    tenant: str
    seq: int
    filename: str
    size: int
    options: dict[str, Any]
    status: str = "AWAITING_UPLOAD"
    will_fail: bool = False
    upload_token: str = ""
    uploaded: bytes | None = None
    upload_headers: dict[str, str] = field(default_factory=dict)
    progress: int = 0
    chunks_done: int = 0

    def to_dict(self) -> dict[str, Any]:
        stamp = f"2026-01-01T00:{self.seq // 60:02d}:{self.seq % 60:02d}Z"
        data: dict[str, Any] = {
            "job_id": self.job_id,
            "status": self.status,
            "filename": self.filename,
            "size": self.size,
            "progress": self.progress,
            "chunks_done": self.chunks_done,
            "chunks_total": 2 if self.status in ("PROCESSING", "COMPLETED", "FAILED") else None,
            "language": "en" if self.status == "COMPLETED" else None,
            "duration": 3.25 if self.status == "COMPLETED" else None,
            "options": self.options,
            "created_at": stamp,
            "updated_at": stamp,
            "started_at": stamp if self.status in ("PROCESSING", "COMPLETED", "FAILED") else None,
            "completed_at": stamp if self.status == "COMPLETED" else None,
            "failed_at": stamp if self.status == "FAILED" else None,
            "reason_code": "UNSUPPORTED_AUDIO" if self.status == "FAILED" else None,
            "error_message": "the file is not audio that can be decoded" if self.status == "FAILED" else None,
            "duplicate_of": None,
            "tenant_extra_field": "ignored by the SDK",
        }
        if self.status == "COMPLETED":
            data["transcript"] = {"text": TEXT, "language": "en", "duration": 3.25, "segments": SEGMENTS}
        return data

    def advance(self) -> None:
        """One step of the pipeline, taken after each GET of the job."""
        if self.status == "PENDING":
            self.status, self.progress, self.chunks_done = "PROCESSING", 50, 1
        elif self.status == "PROCESSING":
            if self.will_fail:
                self.status = "FAILED"
            else:
                self.status, self.progress, self.chunks_done = "COMPLETED", 100, 2


def _srt_time(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def render(fmt: str) -> tuple[str, str]:
    """The body and content type of a download."""
    if fmt == "json":
        doc = {"language": "en", "duration": 3.25, "transcript": TEXT, "segments": SEGMENTS}
        return json.dumps(doc), "application/json"
    if fmt == "txt":
        return TEXT + "\n", "text/plain; charset=utf-8"
    sep = "," if fmt == "srt" else "."
    blocks = []
    for n, s in enumerate(SEGMENTS, start=1):
        times = f"{_srt_time(s['start'], sep)} --> {_srt_time(s['end'], sep)}"
        blocks.append(f"{n}\n{times}\n{s['text']}\n" if fmt == "srt" else f"{times}\n{s['text']}\n")
    if fmt == "srt":
        return "\n".join(blocks), "application/x-subrip; charset=utf-8"
    return "WEBVTT\n\n" + "\n".join(blocks), "text/vtt; charset=utf-8"


class FakeApi:
    """The fake server; ``base_url`` once started. Thread-safe through one lock."""

    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.requests: list[Request] = []
        self.injected: list[Injected] = []
        self.lock = threading.Lock()
        self._seq = 0
        self._server = ThreadedHttpServer(_Handler, name="fake-api", poll_interval=0.02)
        self._server.httpd.fake = self  # type: ignore[attr-defined]

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def start(self) -> FakeApi:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test controls -----------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        detail: str = "injected",
        method: str | None = None,
        path_prefix: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (after the auth check)."""
        problem = body or {
            "type": "about:blank",
            "title": f"HTTP {status}",
            "status": status,
            "detail": detail,
        }
        for _ in range(times):
            self.injected.append(Injected(status, dict(headers or {}), problem, method, path_prefix))

    def add_job(
        self, filename: str = "seed.mp3", *, status: str = "COMPLETED", tenant: str = "tenant-a"
    ) -> str:
        """A job straight in a state, as if it had run (for list, download, retry)."""
        with self.lock:
            job = self._new_job(tenant, filename, 1234, {})
            job.status = status
            job.will_fail = status == "FAILED"
            if status == "COMPLETED":
                job.progress, job.chunks_done = 100, 2
            return job.job_id

    def calls(self, method: str, path_prefix: str = "") -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def _new_job(self, tenant: str, filename: str, size: int, options: dict[str, Any]) -> FakeJob:
        self._seq += 1
        job = FakeJob(
            job_id=f"job-{self._seq:04d}-{secrets.token_hex(3)}",
            tenant=tenant,
            seq=self._seq,
            filename=filename,
            size=size,
            options=options,
            will_fail="fail" in filename.lower(),
            upload_token=secrets.token_urlsafe(8),
        )
        self.jobs[job.job_id] = job
        return job


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeTranscriberApi/1"

    @property
    def fake(self) -> FakeApi:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # ---- plumbing --------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes = b"", content_type: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _problem(self, status: int, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> None:
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}
        titles |= {413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity"}
        body = {
            "type": "about:blank",
            "title": titles.get(status, "Error"),
            "status": status,
            "detail": detail,
        }
        body |= extra
        self._send(status, json.dumps(body).encode(), "application/problem+json", headers)

    def _handle(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parts.path, query, dict(self.headers.items()), body)
        with self.fake.lock:
            self.fake.requests.append(request)
            if parts.path.startswith("/upload/"):
                self._upload(request)
                return
            if parts.path.startswith("/blob/"):  # stands in for a presigned S3 GET
                text, ctype = render(parts.path.rsplit(".", 1)[-1])
                self._send(200, text.encode("utf-8"), ctype)
                return
            if not parts.path.startswith("/v1/"):
                self._problem(404, f"no route {parts.path}")
                return
            auth = self.headers.get("Authorization", "")
            key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            tenant = TENANTS.get(key)
            if tenant is None:
                self._problem(401, "missing or invalid API key", {"WWW-Authenticate": "Bearer"})
                return
            for i, canned in enumerate(self.fake.injected):
                if (canned.method in (None, self.command)) and (
                    canned.path_prefix is None or parts.path.startswith(canned.path_prefix)
                ):
                    del self.fake.injected[i]
                    ctype = "application/problem+json" if canned.status >= 400 else "application/json"
                    self._send(canned.status, json.dumps(canned.body).encode(), ctype, canned.headers)
                    return
            self._route(request, tenant)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    # ---- routes ----------------------------------------------------------------------------

    def _upload(self, request: Request) -> None:
        job = self.fake.jobs.get(request.path.removeprefix("/upload/"))
        if job is None or request.method != "PUT" or request.query.get("sig") != job.upload_token:
            body = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
            self._send(403, body, "application/xml")
            return
        job.uploaded = request.body
        job.upload_headers = request.headers
        if job.status == "AWAITING_UPLOAD":
            job.status = "PENDING"
        self._send(200)

    def _route(self, request: Request, tenant: str) -> None:
        segments = request.path.removeprefix("/v1/").strip("/").split("/")
        if segments[0] != "transcriptions":
            self._problem(404, f"no route {request.path}")
            return
        if len(segments) == 1:
            if request.method == "POST":
                self._create(request, tenant)
            elif request.method == "GET":
                self._list(request, tenant)
            else:
                self._problem(405, "method not allowed")
            return
        job = self.fake.jobs.get(segments[1])
        if job is None or job.tenant != tenant:
            self._problem(404, f"no transcription {segments[1]}")
            return
        action = segments[2] if len(segments) > 2 else ""
        if action == "" and request.method == "GET":
            self._json(200, job.to_dict())
            job.advance()
        elif action == "" and request.method == "DELETE":
            del self.fake.jobs[job.job_id]
            self._send(204)
        elif action == "retry" and request.method == "POST":
            if job.status != "FAILED":
                self._problem(409, f"job {job.job_id} is {job.status}; only a FAILED job can be retried")
                return
            job.status, job.will_fail, job.progress, job.chunks_done = "PENDING", False, 0, 0
            self._json(202, job.to_dict())
        elif action == "segments" and request.method == "GET":
            if job.status != "COMPLETED":
                self._problem(409, f"job {job.job_id} is {job.status}, not COMPLETED")
                return
            words = request.query.get("q", "").lower().split()
            found = [s for s in SEGMENTS if not words or any(w in str(s["text"]).split() for w in words)]
            self._json(200, {"job_id": job.job_id, "count": len(found), "segments": found})
        elif action == "download" and request.method == "GET":
            fmt = request.query.get("format", "json")
            if fmt not in ("json", "srt", "vtt", "txt"):
                self._problem(422, f"format must be json, srt, vtt or txt, not {fmt!r}")
                return
            if job.status != "COMPLETED":
                self._problem(
                    409, f"job {job.job_id} is {job.status}, not COMPLETED", reason_code="NOT_READY"
                )
                return
            if job.filename.startswith("huge"):  # too large for one API response: from "S3"
                self._send(
                    303, b"", "text/plain", {"Location": f"{self.fake.base_url}/blob/{job.job_id}.{fmt}"}
                )
                return
            text, ctype = render(fmt)
            disposition = f'attachment; filename="{job.filename.rsplit(".", 1)[0]}.{fmt}"'
            self._send(200, text.encode("utf-8"), ctype, {"Content-Disposition": disposition})
        else:
            self._problem(404, f"no route {request.method} {request.path}")

    def _create(self, request: Request, tenant: str) -> None:
        try:
            data = json.loads(request.body or b"null")
        except ValueError:
            self._problem(400, "the body is not JSON")
            return
        if not isinstance(data, dict):
            self._problem(400, "the body must be a JSON object")
            return
        filename, size, options = data.get("filename"), data.get("size"), data.get("options") or {}
        if isinstance(data.get("source_url"), str):  # fetched by "the service": name and size from the URL
            filename, size = filename or str(data["source_url"]).rsplit("/", 1)[-1], 4321
        if not isinstance(filename, str) or not filename:
            self._problem(422, "filename: a non-empty string is required")
            return
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            self._problem(422, "size: a positive number of bytes is required")
            return
        if size > MAX_SIZE:
            self._problem(
                413, f"size {size} is over the limit of {MAX_SIZE} bytes", reason_code="FILE_TOO_LARGE"
            )
            return
        if not filename.lower().endswith(AUDIO_EXTENSIONS):
            self._problem(415, f"{filename} is not a supported audio type", reason_code="UNSUPPORTED_MEDIA")
            return
        unknown = set(options) - KNOWN_OPTIONS
        if unknown:
            self._problem(
                422, f"unknown options: {', '.join(sorted(unknown))}", reason_code="INVALID_OPTIONS"
            )
            return
        language = options.get("language")
        if language is not None and not (
            language == "auto" or (isinstance(language, str) and len(language) == 2)
        ):
            self._problem(
                422, f"language {language!r} is not an ISO 639-1 code", reason_code="INVALID_OPTIONS"
            )
            return
        job = self.fake._new_job(tenant, filename, size, options)
        upload_url: str | None = f"{self.fake.base_url}/upload/{job.job_id}?sig={job.upload_token}"
        if data.get("content_base64") is not None:
            try:
                content = base64.b64decode(str(data["content_base64"]), validate=True)
            except (binascii.Error, ValueError):
                self._problem(400, "content_base64 is not valid base64")
                return
            if len(content) > INLINE_MAX:
                self._problem(413, "inline content is limited to 4 MiB; use the upload URL")
                return
            job.uploaded, job.status, upload_url = content, "PENDING", None
        self._json(
            201,
            {
                "job_id": job.job_id,
                "status": job.status,
                "upload_url": upload_url,
                "upload_method": "PUT",
                "upload_expires_at": "2026-01-01T00:15:00Z",
                "links": {"self": f"/v1/transcriptions/{job.job_id}"},
            },
        )

    def _list(self, request: Request, tenant: str) -> None:
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            self._problem(422, f"status must be one of {', '.join(sorted(STATUSES))}")
            return
        try:
            limit = int(request.query.get("limit", "20"))
            offset = (
                int(base64.urlsafe_b64decode(request.query["cursor"]).decode())
                if "cursor" in request.query
                else 0
            )
        except (ValueError, binascii.Error):
            self._problem(400, "limit or cursor is invalid")
            return
        if not 1 <= limit <= 100:
            self._problem(422, "limit must be 1 to 100")
            return
        jobs = sorted(
            (j for j in self.fake.jobs.values() if j.tenant == tenant and status in (None, j.status)),
            key=lambda j: -j.seq,
        )
        page = jobs[offset : offset + limit]
        more = offset + limit < len(jobs)
        cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if more else None
        self._json(200, {"items": [j.to_dict() for j in page], "next_cursor": cursor})
