"""The :class:`Client`: the API's operations on transcription jobs, as Python calls.

    from client import Client

    api = Client("http://127.0.0.1:8080", "tk_...")
    job = api.transcribe("talk.mp3", options={"language": "en"}, on_progress=lambda t: print(t.progress))
    print(job.text)  # the whole transcript, even one too large for the job view (fetched)
    open("talk.srt", "w").write(api.download(job.job_id, format="srt"))

HTTP (the key, retries, redirects, uploads) is :mod:`client.transport`'s; the results are
:mod:`client.models`' dataclasses; every failure is a :mod:`client.errors` exception.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import mimetypes
import os
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from client import live
from client.errors import (
    RateLimitedError,
    TranscriberError,
    TranscriptionFailedError,
    UploadError,
    ValidationError,
    WaitTimeoutError,
    is_transient,
)
from client.models import (
    COMPLETED,
    FAILED,
    Page,
    Segment,
    Submission,
    Transcript,
    Transcription,
    segments_of,
)
from client.search import SearchResults
from client.transport import Transport, backoff_s

#: Files up to this size may be sent inside the create request (``inline=True``).
INLINE_LIMIT_BYTES = 4 * 1024 * 1024  # the API's limit: base64 of it fits a 6 MB Lambda payload
#: The longest pause ``wait`` takes between polls while the API is briefly unreachable.
_WAIT_BACKOFF_CAP_S = 30.0
#: What ``download`` can produce.
DOWNLOAD_FORMATS = ("json", "srt", "vtt", "txt")
#: What to do about a 413 from ``segments``: the transcript is too large to answer there, so the
#: upload's "send a smaller file" would be wrong.
_SEGMENTS_TOO_LARGE = (
    "The transcript is too large to answer here: download it as JSON instead "
    "(download(job_id, format='json'), or transcriber download ID --format json) or search it "
    "(search(q, job_id=...))."
)

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


def _job_path(job_id: str, suffix: str = "") -> str:
    if not job_id or not str(job_id).strip():
        raise ValidationError("A job id is required (create() or list() gives them).")
    return f"/transcriptions/{urllib.parse.quote(str(job_id).strip(), safe='')}{suffix}"


def _refuse_inline(name: object, size: int) -> None:
    if size > INLINE_LIMIT_BYTES:
        raise ValidationError(
            f"{name} is {size} bytes; only files up to {INLINE_LIMIT_BYTES} bytes (4 MiB) can be sent "
            "inline. Leave inline off to use the upload URL."
        )


class Client:
    """The transcription API, as Python calls.

    ``base_url`` is the API's address (``http://127.0.0.1:8080``, or an API Gateway stage URL);
    ``/v1`` is added by the client. ``timeout`` bounds each HTTP request, in seconds.
    ``max_retries`` is how many times an idempotent request (GET, PUT, DELETE) is repeated after
    a 429, 502, 503 or 504 or a failed connection, waiting as ``Retry-After`` says (else an
    exponential backoff with jitter), at most ``max_retry_wait_s`` each time. A POST is never
    repeated. ``wait`` rides out such failures until its own deadline.
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
        self._http = Transport(
            base_url, api_key, timeout=timeout, max_retries=max_retries, max_retry_wait_s=max_retry_wait_s
        )

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """A client from ``TRANSCRIBER_API_URL`` and ``TRANSCRIBER_API_KEY``."""
        return cls(
            os.environ.get("TRANSCRIBER_API_URL", ""), os.environ.get("TRANSCRIBER_API_KEY", ""), **kwargs
        )

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def timeout(self) -> float:
        return self._http.timeout

    @property
    def _sleep(self) -> Callable[[float], None]:
        """How the client waits (Retry-After, polls): one function, so tests can skip the waiting."""
        return self._http.sleep

    @_sleep.setter
    def _sleep(self, sleep: Callable[[float], None]) -> None:
        self._http.sleep = sleep

    def __repr__(self) -> str:  # never shows the key
        return f"Client(base_url={self.base_url!r})"

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
        ``max_chunk_seconds``, ``dedupe``, ``task`` (``translate``: into English), ``prompt``,
        ``channel_identification``, ``speaker_labels``, ``min_speakers``, ``max_speakers``,
        ``callback_url``; for the transcript: ``vocabulary_name``, ``redact_pii``,
        ``pii_entity_types``, ``keep_unredacted``, ``replacements`` (``[{"from": ..., "to": ...}]``),
        ``caption_max_line_chars``, ``caption_max_lines``, ``caption_max_duration_s``.
        """
        payload: dict[str, Any] = {"filename": str(filename), "size": int(size)}
        if content_type:
            payload["content_type"] = content_type
        payload["options"] = _clean_options(options)
        if content is not None:
            _refuse_inline(filename, len(content))
            payload["content_base64"] = base64.b64encode(content).decode("ascii")
        data = self._http.json(
            "POST", "/transcriptions", what=f"Creating a job for {filename}", payload=payload
        )
        return Submission.from_dict(data)

    def upload(
        self,
        submission: Submission | str,
        source: str | os.PathLike[str] | bytes,
        *,
        content_type: str | None = None,
    ) -> None:
        """PUT the audio (a path or bytes) to a job's presigned ``upload_url``; no API key is sent."""
        if isinstance(submission, Submission):
            url, job, headers = submission.upload_url, submission.job_id, dict(submission.upload_headers)
        else:
            url, job, headers = submission, "the job", {}
        if not url:
            raise UploadError(f"{job} has no upload URL (was the audio sent inline?); nothing to upload.")
        if content_type:
            headers = {"Content-Type": content_type, **headers}
        self._http.put(url, source, headers=headers, job=job)

    def submit_url(
        self, source_url: str, *, options: Mapping[str, Any] | None = None, filename: str | None = None
    ) -> Submission:
        """Create a job the service fetches itself from ``source_url`` (https); no upload step."""
        payload: dict[str, Any] = {"source_url": str(source_url), "options": _clean_options(options)}
        if filename:
            payload["filename"] = filename
        data = self._http.json(
            "POST", "/transcriptions", what=f"Creating a job for {source_url}", payload=payload
        )
        return Submission.from_dict(data)

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
            _refuse_inline(file, size)
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

    def get(self, job_id: str, *, fetch_transcript: bool = True) -> Transcription:
        """``GET /v1/transcriptions/{id}``: status, progress, timings, and the transcript when done.

        A transcript over the API's 5 MB response limit is only linked from the job view
        (``links.transcript``); it is then downloaded as JSON here, so that a COMPLETED job always
        has its ``transcript`` and ``text``. ``fetch_transcript=False`` leaves it out (and
        ``job.transcript_link`` says where it is).
        """
        job = Transcription.from_dict(self._http.json("GET", _job_path(job_id), what=f"Getting job {job_id}"))
        if fetch_transcript and job.completed and job.transcript is None and job.transcript_link:
            job = self._with_linked_transcript(job)
        return job

    def _with_linked_transcript(self, job: Transcription) -> Transcription:
        """The job with the transcript the API only linked, fetched through ``download`` (json)."""
        text = self.download(job.job_id, format="json")
        try:
            document = json.loads(text)
        except ValueError as err:
            raise TranscriberError(
                f"Downloading the transcript of job {job.job_id}: the answer is not JSON. Try "
                f"download('{job.job_id}', format='txt') instead.",
            ) from err
        if not isinstance(document, Mapping):
            raise TranscriberError(
                f"Downloading the transcript of job {job.job_id}: expected a JSON object, got "
                f"{type(document).__name__}."
            )
        return dataclasses.replace(job, transcript=Transcript.from_dict(document))

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
        The job runs on regardless of this client, so a 429, a 502-504 or a dropped connection
        does not end the wait: it polls again later (backing off), and raises that error only when
        the next try would come after the deadline. The returned job has its whole transcript
        (see :meth:`get`).
        """
        started = time.monotonic()
        deadline = started + timeout_s
        self._follow_live(job_id, deadline, on_progress)  # pushes until done, if the server has them
        failures = 0
        while True:
            try:
                job = self.get(job_id)
            except TranscriberError as err:
                if isinstance(err, RateLimitedError):
                    pause = max(poll_s, err.retry_after)
                elif is_transient(err):
                    pause = max(
                        poll_s, backoff_s(failures, cap_s=_WAIT_BACKOFF_CAP_S, draw=self._http.random)
                    )
                    failures += 1
                else:
                    raise
                if time.monotonic() + pause > deadline:
                    raise
                self._sleep(pause)
                continue
            failures = 0
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

    def live_status_url(self) -> str | None:
        """The server's live-status WebSocket (``x-live-status-url``), or None; asked once."""
        if not hasattr(self, "_live_url"):
            try:
                document = self._http.json("GET", "/openapi.json", what="Reading the API's description")
                url = document.get("x-live-status-url")
            except TranscriberError:
                url = None
            self._live_url = url if isinstance(url, str) and url.startswith(("ws://", "wss://")) else None
        return self._live_url

    def _follow_live(
        self, job_id: str, deadline: float, on_progress: Callable[[Transcription], None] | None
    ) -> None:
        """Job views pushed over the WebSocket until the job is done; returns early (to poll) when
        live status is unavailable or drops. A change before the subscription is caught by the
        first poll that follows."""
        url = self.live_status_url()
        if url is None:
            return

        def on_view(view: dict[str, Any]) -> None:
            if on_progress is not None:
                on_progress(Transcription.from_dict(view))

        def done_already() -> bool:
            return self.get(job_id, fetch_transcript=False).status in (COMPLETED, FAILED)

        live.follow(url, self._http.api_key, job_id, deadline=deadline, on_view=on_view, done=done_already)

    def segments(self, job_id: str, q: str | None = None, speaker: str | None = None) -> tuple[Segment, ...]:
        """The segments of a COMPLETED job, only those matching the words of ``q`` if given, and
        only ``speaker``'s (a label such as ``spk_1``) if given. A transcript too large to answer
        here is a 413 (:class:`ValidationError`) saying to download or search it instead."""
        data = self._http.json(
            "GET",
            _job_path(job_id, "/segments"),
            what=f"Getting the segments of job {job_id}",
            query={"q": q, "speaker": speaker},
            too_large_hint=_SEGMENTS_TOO_LARGE,
        )
        return segments_of(data.get("segments"))

    def rename_speakers(self, job_id: str, names: Mapping[str, str]) -> list[dict[str, Any]]:
        """Name a COMPLETED job's speakers (``{"spk_0": "Alice"}``); the server rewrites all four
        outputs. Returns the speakers: ``[{"label", "name", "seconds"}]``."""
        if not isinstance(names, Mapping) or not names:
            raise ValidationError("names must be a non-empty dict such as {'spk_0': 'Alice'}.")
        data = self._http.json(
            "PUT",
            _job_path(job_id, "/speakers"),
            what=f"Naming the speakers of job {job_id}",
            payload={str(label): name for label, name in names.items()},
        )
        return [dict(s) for s in data.get("speakers") or [] if isinstance(s, Mapping)]

    def download(self, job_id: str, format: str = "srt", *, unredacted: bool = False) -> str:
        """The transcript of a COMPLETED job as ``json``, ``srt``, ``vtt`` or ``txt`` text.

        ``unredacted``: the JSON as heard (``format="json"``), which a job created with
        ``redact_pii`` and ``keep_unredacted`` keeps beside its redacted outputs.
        """
        fmt = str(format).lower().lstrip(".")
        if fmt not in DOWNLOAD_FORMATS:
            raise ValidationError(
                f"Unknown download format {format!r}: use one of {', '.join(DOWNLOAD_FORMATS)}."
            )
        if unredacted and fmt != "json":
            raise ValidationError("unredacted applies to the json format only.")
        query = {"format": fmt, **({"unredacted": "true"} if unredacted else {})}
        response = self._http.request(
            "GET",
            _job_path(job_id, "/download"),
            what=f"Downloading job {job_id} as {fmt}" + (" (unredacted)" if unredacted else ""),
            query=query,
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

    def search(
        self,
        q: str,
        *,
        language: str | None = None,
        created_after: str | None = None,
        created_before: str | None = None,
        job_id: str | None = None,
        speaker: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchResults:
        """Segments of all your transcripts matching ``q`` (all words; "phrases" quoted), best first."""
        filters = {"language": language, "created_after": created_after, "created_before": created_before}
        query = {"q": q, **filters, "job_id": job_id, "speaker": speaker, "limit": limit, "cursor": cursor}
        return SearchResults.from_dict(self._http.json("GET", "/search", what="Searching", query=query))

    # ---- changing jobs ---------------------------------------------------------------------

    def delete(self, job_id: str) -> None:
        """Stop the job if it runs, delete its audio and outputs (``DELETE``, 204)."""
        self._http.request("DELETE", _job_path(job_id), what=f"Deleting job {job_id}")

    def retry(self, job_id: str) -> Transcription:
        """Start a FAILED job again (finished chunks are reused); 409 if it is not FAILED."""
        data = self._http.json("POST", _job_path(job_id, "/retry"), what=f"Retrying job {job_id}")
        return Transcription.from_dict(data)

    # Last: the name ``list`` shadows the builtin inside the class body.
    def list(self, status: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page:
        """One page of jobs, newest first; pass ``page.next_cursor`` as ``cursor`` for the next."""
        data = self._http.json(
            "GET",
            "/transcriptions",
            what="Listing jobs",
            query={"status": status.upper() if status else None, "limit": limit, "cursor": cursor},
        )
        return Page.from_dict(data)
