"""HTTP API errors as problem details (RFC 9457): ``type``, ``title``, ``status``, ``detail``.

The API raises :class:`ApiProblem` subclasses; the handler turns each into an
``application/problem+json`` response. :func:`problem_for` maps the pipeline's own errors (bad
options, an unsupported file, a refused retry, limits) to the status a client can act on.
"""

from __future__ import annotations

from typing import Any

from transcriber.domain.errors import PipelineError, TooLargeError, UnsupportedFormatError
from transcriber.domain.media_url import SourceTemporarilyUnreachableError
from transcriber.domain.recovery import RetryRefusedError
from transcriber.domain.tenants import AuthenticationError, LimitExceededError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:transcriber:problem:"


class ApiProblem(Exception):
    status = 500
    title = "Internal server error"
    slug = "internal-error"

    def __init__(
        self, detail: str, *, headers: dict[str, str] | None = None, reason_code: str | None = None
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.reason_code = reason_code

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.reason_code:
            body["reason_code"] = self.reason_code
        return body


def _kind(name: str, status: int, title: str, slug: str) -> type[ApiProblem]:
    """One kind of problem: a subclass of ApiProblem, so callers raise and catch it by name."""
    return type(name, (ApiProblem,), {"status": status, "title": title, "slug": slug, "__module__": __name__})


BadRequest = _kind("BadRequest", 400, "Bad request", "bad-request")
Unauthorized = _kind("Unauthorized", 401, "Unauthorized", "unauthorized")
NotFound = _kind("NotFound", 404, "Not found", "not-found")
MethodNotAllowed = _kind("MethodNotAllowed", 405, "Method not allowed", "method-not-allowed")
Conflict = _kind("Conflict", 409, "Conflict", "conflict")
Gone = _kind("Gone", 410, "Gone", "gone")
PayloadTooLarge = _kind("PayloadTooLarge", 413, "Payload too large", "payload-too-large")
UnsupportedMediaType = _kind("UnsupportedMediaType", 415, "Unsupported media type", "unsupported-media-type")
Unprocessable = _kind("Unprocessable", 422, "Unprocessable request", "validation-error")
TooManyRequests = _kind("TooManyRequests", 429, "Too many requests", "too-many-requests")
ServiceUnavailable = _kind("ServiceUnavailable", 503, "Service unavailable", "service-unavailable")

#: The Retry-After of every 503 (a busy dependency, an unreachable JWT key set): both pass within
#: seconds, and both SDKs wait as Retry-After says instead of guessing with their own backoff.
RETRY_LATER_S = 2


#: API Gateway refuses a body over 10 MB before the function runs: it (a GatewayResponse in
#: infra/constructs/api.py) and the local server (localrun/serve.py) answer this problem instead.
REQUEST_TOO_LARGE_DETAIL = (
    "The request body is over API Gateway's 10 MB limit; send the file's size instead and PUT the "
    "file to the upload_url you get back."
)


def request_too_large() -> ApiProblem:
    return PayloadTooLarge(REQUEST_TOO_LARGE_DETAIL)


#: Every status the API answers with a problem, for the OpenAPI document.
DOCUMENTED = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        NotFound,
        Conflict,
        Gone,
        PayloadTooLarge,
        UnsupportedMediaType,
        Unprocessable,
        TooManyRequests,
    )
}


def problem_for(err: PipelineError) -> ApiProblem:
    """The HTTP problem for one of the pipeline's own errors, with its reason code."""
    code = err.reason_code
    if isinstance(err, AuthenticationError):
        return Unauthorized(err.message, headers={"WWW-Authenticate": 'Bearer realm="transcriber"'})
    if isinstance(err, LimitExceededError):
        return TooManyRequests(err.message, headers={"Retry-After": str(err.retry_after_s)}, reason_code=code)
    if isinstance(err, UnsupportedFormatError):
        return UnsupportedMediaType(err.message, reason_code=code)
    if isinstance(err, TooLargeError):
        return PayloadTooLarge(err.message, reason_code=code)
    if isinstance(err, RetryRefusedError):
        return Conflict(err.message, reason_code=code)
    if not err.retryable:  # invalid options, an empty file, a bad callback URL, ...
        return Unprocessable(err.message, reason_code=code)
    # A source_url that could not be fetched now says so; other retryable errors name AWS calls.
    busy = (
        err.message
        if isinstance(err, SourceTemporarilyUnreachableError)
        else "A service the API depends on is busy; try again in a moment."
    )
    return ServiceUnavailable(busy, headers={"Retry-After": str(RETRY_LATER_S)}, reason_code=code)
