"""The OpenAI-compatible routes, ``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``.

Each request becomes an ordinary job (inline upload, visible in ``GET /v1/transcriptions``), run
by the same pipeline; the function then waits for it inside its own time budget and answers in
the requested format. Audio longer than ``SYNC_MAX_AUDIO_S`` (cdk.json ``sync_max_audio_s``, an
environment's top-level setting), or a job not done before the budget runs out, gets an error
naming the job to poll instead.
Errors are in OpenAI's shape; bad input and the time limit are 4xx, not 5xx: OpenAI's clients
retry 5xx answers, which would start the same job again (only a busy dependency is a 503, and a
failure nobody anticipated a 500: transcriber/api/http_api.py).
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ValidationError

from transcriber.api import problems
from transcriber.api.models import INLINE_MAX_BYTES, CreateOptions, CreateTranscription
from transcriber.api.multipart import parse_form
from transcriber.api.openai_compat import AudioRequest, OpenAIError, parse_request, verbose_json
from transcriber.api.service import TranscriptionService
from transcriber.domain.jobs import JobStatus
from transcriber.domain.tenants import Tenant

router = APIGatewayRouter()
AUDIO_PREFIX = "/v1/audio/"
POLL_INTERVAL_S = 0.5
#: Left of the function's time for answering after the wait.
ANSWER_MARGIN_S = 2.0
_TEXT = "text/plain; charset=utf-8"
_FORM = (
    " Send multipart/form-data: file (up to 4 MiB), model ('whisper-1' or the engine's name), "
    "language, prompt, response_format (json, text, srt, verbose_json, vtt), temperature (0-1; the "
    "engine keeps its own schedule) and timestamp_granularities[] (word, segment; verbose_json only). "
    "The job is listed under /v1/transcriptions."
)


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape."""

    error: OpenAIErrorDetail


_ERRORS = {400: "Bad request", 401: "No or bad key", 413: "Too long to answer synchronously, or too large",
           415: "Not audio", 422: "Unprocessable file", 429: "Over the rate limit or quota"}  # fmt: skip
AUDIO_RESPONSES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "The transcript: JSON for json and verbose_json, text for text, srt and vtt",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    **{
        status: {"description": text, "content": {"application/json": {"model": OpenAIErrorBody}}}
        for status, text in _ERRORS.items()
    },
}


def error_response(err: OpenAIError) -> dict[str, Any]:
    """A proxy response carrying ``err`` (used also for authentication, before routing)."""
    return {
        "statusCode": err.status,
        "headers": {"Content-Type": "application/json", **err.headers},
        "body": json.dumps(err.body()),
        "isBase64Encoded": False,
    }


def from_problem(problem: problems.ApiProblem) -> OpenAIError:
    kind = {401: "invalid_request_error", 429: "rate_limit_error"}.get(
        problem.status, "invalid_request_error"
    )
    code = "invalid_api_key" if problem.status == 401 else (problem.reason_code or problem.slug).lower()
    status = problem.status if problem.status < 500 else 503
    return OpenAIError(status, problem.detail, code=code, kind=kind, headers=problem.headers)


@router.exception_handler(OpenAIError)
def _openai_error(err: OpenAIError) -> Response[str]:
    return Response(
        status_code=err.status,
        content_type="application/json",
        body=json.dumps(err.body()),
        headers=err.headers,
    )


@router.post(
    "/v1/audio/transcriptions",
    summary="OpenAI-compatible transcription (multipart form)",
    description="Transcribe a file and answer when done, as OpenAI's endpoint does." + _FORM,
    responses=AUDIO_RESPONSES,
)
def audio_transcriptions() -> Response[str]:
    return _answer("transcribe")


@router.post(
    "/v1/audio/translations",
    summary="OpenAI-compatible translation into English (multipart form)",
    description="Translate a file's speech into English text (Whisper's own task)." + _FORM,
    responses=AUDIO_RESPONSES,
)
def audio_translations() -> Response[str]:
    return _answer("translate")


def _answer(task: str) -> Response[str]:
    service, tenant = router.context.get("service"), router.context.get("tenant")
    if not isinstance(service, TranscriptionService) or not isinstance(tenant, Tenant):
        raise OpenAIError(401, "Send your API key as 'Authorization: Bearer <key>'.", code="invalid_api_key")
    try:
        form = parse_form(router.current_event.raw_event, max_file_bytes=INLINE_MAX_BYTES)
    except problems.ApiProblem as problem:
        raise from_problem(problem) from None
    request = parse_request(form, task=task, engine=service.engine)
    remaining_s = router.lambda_context.get_remaining_time_in_millis() / 1000
    body, content_type = run_synchronously(
        service, tenant, request, deadline=time.monotonic() + remaining_s - ANSWER_MARGIN_S
    )
    return Response(status_code=200, content_type=content_type, body=body)


def run_synchronously(
    service: TranscriptionService, tenant: Tenant, request: AudioRequest, *, deadline: float
) -> tuple[str, str]:
    """Create the job, wait for it until ``deadline`` (monotonic), and shape its transcript."""
    create = _create_request(request)
    try:
        job_id = str(service.create(tenant, create)["job_id"])
        _wait(service, job_id, deadline)
        if request.response_format in ("srt", "vtt"):
            return service.download(tenant, job_id, request.response_format).body, _TEXT
        transcript = service.get(tenant, job_id).get("transcript")
    except problems.ApiProblem as problem:
        raise from_problem(problem) from None
    if transcript is None:
        raise OpenAIError(
            413,
            f"The transcript is too large for one answer; fetch it from GET /v1/transcriptions/{job_id}.",
            code="response_too_large",
        )
    document = {**transcript, "transcript": transcript.get("text", "")}
    if request.response_format == "text":
        return str(document["transcript"]) + "\n", _TEXT
    if request.response_format == "json":
        return json.dumps({"text": document["transcript"]}), "application/json"
    answer = verbose_json(document, task=request.options.task, granularities=request.granularities)
    return json.dumps(answer), "application/json"


#: What the form's file part is called in a refusal, by the CreateTranscription field it fills.
_FILE_PARTS = {"filename": "The file's name", "content_type": "The file's Content-Type"}


def _create_request(request: AudioRequest) -> CreateTranscription:
    """The job the form asks for; a file part the job model refuses (a name over 255 characters,
    a long Content-Type) is the caller's to fix: a 400 naming ``file``, not an unhandled error."""
    try:
        return CreateTranscription(
            filename=request.filename,
            content_type=request.content_type,
            content_base64=base64.b64encode(request.content).decode("ascii"),
            options=CreateOptions.model_validate(request.options.to_dict()),
        )
    except ValidationError as err:
        first = err.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        why = str(first["msg"])
        why = why[:1].lower() + why[1:]
        if field in _FILE_PARTS:
            raise OpenAIError(400, f"{_FILE_PARTS[field]} is not accepted: {why}.", param="file") from None
        raise OpenAIError(
            400, f"{field or 'The request'} is not accepted: {why}.", param=field or None
        ) from None


def _wait(service: TranscriptionService, job_id: str, deadline: float) -> None:
    """Until the job is COMPLETED; OpenAIError when it failed, is too long or is not done in time."""
    follow = f"It continues as job {job_id}: poll GET /v1/transcriptions/{job_id} (the asynchronous API)."
    while True:
        job = service.jobs.get(job_id) or {}
        status = job.get("status")
        if status == JobStatus.COMPLETED.value:
            return
        if status == JobStatus.FAILED.value:
            code = str(job.get("reason_code") or "failed").lower()
            raise OpenAIError(400, str(job.get("error_message") or "The transcription failed."), code=code)
        duration = float(job.get("duration") or 0.0)
        if duration > service.sync_max_audio_s:
            raise OpenAIError(
                413,
                f"The audio is {duration:.0f} s long; this endpoint answers files up to "
                f"{service.sync_max_audio_s:.0f} s. {follow}",
                param="file",
                code="audio_too_long",
            )
        if time.monotonic() >= deadline:
            raise OpenAIError(
                413,
                f"The transcription did not finish within this request's time limit. {follow}",
                param="file",
                code="sync_time_limit",
            )
        time.sleep(POLL_INTERVAL_S)
