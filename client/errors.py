"""The typed exceptions of the SDK, and which one an HTTP answer becomes.

Every error says what went wrong and what to do about it, so that a caller (or the CLI) can show
``str(err)`` as it is; callers branch on the class, never on the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from client.models import opt_str

if TYPE_CHECKING:
    from client.models import Transcription


class _ProblemMember:
    """A read-only attribute for one string member of the error's problem JSON (None if absent)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, err: TranscriberError | None, owner: type | None = None) -> str | None:
        return opt_str(err.problem.get(self.name)) if err is not None else None


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

    #: the problem JSON's members, when the API sent them
    title = _ProblemMember()
    detail = _ProblemMember()
    reason_code = _ProblemMember()
    type = _ProblemMember()


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


#: Statuses worth asking again about: a gateway or the service briefly unavailable.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


def is_transient(err: TranscriberError) -> bool:
    """True for a failure that asking again later may cure (a dropped connection, 502-504), so a
    long wait can ride it out; a refusal of the request itself is never transient."""
    return isinstance(err, APIConnectionError) or (
        isinstance(err, ServerError) and err.status in TRANSIENT_STATUSES
    )


#: What to do about a 413 unless the call says otherwise (``too_large_hint``): the upload's.
_TOO_LARGE_DEFAULT = (
    "Send a smaller file (or split it); files over 4 MiB cannot be sent inline and must use the upload URL."
)


def error_for_status(
    status: int,
    problem: Mapping[str, Any],
    what: str,
    *,
    retry_after: float,
    location: str | None,
    too_large_hint: str | None = None,
) -> TranscriberError:
    """The exception for a non-2xx answer, with the server's detail and what to do next.

    ``what`` names the call ("Getting job j1"); ``retry_after`` and ``location`` come from the
    answer's headers (the transport parses them); ``too_large_hint`` is what to do about a 413,
    from a call where it means something else than for an upload (a transcript's segments).
    """
    problem = dict(problem)
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
            f"{what}: too large (413){tag}{said}. {too_large_hint or _TOO_LARGE_DEFAULT}",
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
        return TranscriberError(
            f"{what}: the API redirected to {location or '?'} ({status}). Use that address as the "
            "base URL (http versus https?); the client does not follow redirects with your key.",
            status=status,
            problem=problem,
        )
    return TranscriberError(f"{what}: unexpected HTTP {status}{said}.", status=status, problem=problem)
