"""The HTTP API's routes (``/v1``): Powertools' REST resolver, validation and OpenAPI.

Each route parses its request into the pydantic models of transcriber/api/models.py, calls
:class:`transcriber.api.service.TranscriptionService` and shapes the answer; every error leaves
as problem JSON. :class:`HttpApi` authenticates the caller first. The OpenAPI document is
served at ``/v1/openapi.json`` (no key needed) and committed as docs/openapi.json.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.api import problems
from transcriber.api.models import (
    AudioLink,
    CreatedTranscription,
    CreateTranscription,
    JobStatusName,
    OutputFormat,
    Problem,
    SegmentList,
    Transcription,
    TranscriptionPage,
)
from transcriber.api.service import CONTENT_TYPES, TranscriptionService
from transcriber.domain.errors import PipelineError
from transcriber.domain.tenants import Tenant, api_key_from_header

logger = Logger()

API_VERSION = "1.0.0"
OPENAPI_PATH = "/v1/openapi.json"
JOB_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The job id")]

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    title="Audio Transcriber API",
    version=API_VERSION,
    description=(
        "Create a transcription, PUT the audio to the returned upload_url (or send files up to 4 MiB "
        "inline), then poll or receive a signed webhook. Errors are RFC 9457 problem details."
    ),
    security_schemes={"bearerAuth": HTTPBearer(description="An API key: 'Authorization: Bearer trk_...'")},
    security=[{"bearerAuth": []}],
)


def _problems(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the problems a route may answer (401 and 429 apply to every route)."""
    return {
        status: {
            "description": problems.DOCUMENTED[status].title,
            "content": {problems.PROBLEM_CONTENT_TYPE: {"model": Problem}},
        }
        for status in sorted({401, 429, *statuses})
    }


def _responses(
    status: int, model: Any, description: str, *problem_statuses: int
) -> dict[int, OpenAPIResponse]:
    """The success answer and the problems of a route (given ``responses``, Powertools documents
    only those, so the success answer must be among them)."""
    success: OpenAPIResponse = {"description": description, "content": {"application/json": {"model": model}}}
    return {status: success, **_problems(*problem_statuses)}


def _problem_response(problem: problems.ApiProblem) -> Response[str]:
    return Response(
        status_code=problem.status,
        content_type=problems.PROBLEM_CONTENT_TYPE,
        body=json.dumps(problem.body()),
        headers=problem.headers,
    )


def _service() -> TranscriptionService:
    service = app.context.get("service")
    if not isinstance(service, TranscriptionService):
        raise RuntimeError("the HTTP API resolves requests through HttpApi.handle, which sets its service")
    return service


def _tenant() -> Tenant:
    tenant = app.context.get("tenant")
    if not isinstance(tenant, Tenant):  # HttpApi.handle authenticates before every route but the document
        raise problems.Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    return tenant


@app.exception_handler(problems.ApiProblem)
def _api_problem(err: problems.ApiProblem) -> Response[str]:
    return _problem_response(err)


@app.exception_handler(PipelineError)
def _pipeline_error(err: PipelineError) -> Response[str]:
    return _problem_response(problems.problem_for(err))


@app.exception_handler(RequestUnsupportedContentType)
def _not_json(_: RequestUnsupportedContentType) -> Response[str]:
    return _problem_response(
        problems.UnsupportedMediaType("Send the request body as JSON, with 'Content-Type: application/json'.")
    )


@app.exception_handler(UnicodeDecodeError)
def _not_text(_: UnicodeDecodeError) -> Response[str]:
    return _problem_response(problems.BadRequest("The request body is not UTF-8 text; send JSON."))


@app.exception_handler(RequestValidationError)
def _invalid_request(err: RequestValidationError) -> Response[str]:
    errors = err.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _problem_response(problems.BadRequest("The request body is not valid JSON."))
    details = "; ".join(
        f"{'.'.join(str(part) for part in e.get('loc', ()) if part != 'body') or 'body'}: {e.get('msg')}"
        for e in errors
    )
    return _problem_response(problems.Unprocessable(details or "The request is not valid."))


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    return _problem_response(problems.NotFound("No such endpoint; see /v1/openapi.json."))


@app.post(
    "/v1/transcriptions",
    summary="Create a transcription",
    status_code=201,
    responses=_responses(
        201, CreatedTranscription, "Created; PUT the file to upload_url", 400, 413, 415, 422
    ),
)
def create_transcription(request: CreateTranscription) -> CreatedTranscription:
    return CreatedTranscription.model_validate(_service().create(_tenant(), request))


@app.get(
    "/v1/transcriptions",
    summary="List transcriptions, newest first",
    responses=_responses(200, TranscriptionPage, "A page of transcriptions", 400, 422),
)
def list_transcriptions(
    status: Annotated[JobStatusName | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> TranscriptionPage:
    page = _service().list(_tenant(), status=status, limit=limit, cursor=cursor)
    return TranscriptionPage.model_validate(page)


@app.get(
    "/v1/transcriptions/<job_id>",
    summary="Status, progress and transcript",
    responses=_responses(200, Transcription, "The transcription", 404, 422),
)
def get_transcription(job_id: JOB_ID) -> Transcription:
    return Transcription.model_validate(_service().get(_tenant(), job_id))


@app.get(
    "/v1/transcriptions/<job_id>/segments",
    summary="Timed segments, optionally only those containing every word of q",
    responses=_responses(200, SegmentList, "The matching segments", 404, 409, 422),
)
def transcription_segments(
    job_id: JOB_ID, q: Annotated[str | None, Query(max_length=200)] = None
) -> SegmentList:
    return SegmentList.model_validate(_service().segments(_tenant(), job_id, q))


@app.get(
    "/v1/transcriptions/<job_id>/download",
    summary="The transcript as a file",
    responses={
        200: {
            "description": "The transcript",
            "content": {ct.split(";")[0]: {"schema": {"type": "string"}} for ct in CONTENT_TYPES.values()},
        },
        303: {"description": "Too large for one response: fetch it from the presigned URL in Location"},
        **_problems(404, 409, 422),
    },
)
def download_transcription(
    job_id: JOB_ID, format: Annotated[OutputFormat, Query()] = "json"
) -> Response[str]:
    download = _service().download(_tenant(), job_id, format)
    if download.redirect_url:  # over Lambda's response limit: S3 serves it
        return Response(status_code=303, body="", headers={"Location": download.redirect_url})
    return Response(
        status_code=200,
        content_type=download.content_type,
        body=download.body,
        headers={"Content-Disposition": f'attachment; filename="{download.filename}"'},
    )


@app.get(
    "/v1/transcriptions/<job_id>/audio",
    summary="A presigned URL of the original recording (for a player)",
    responses=_responses(200, AudioLink, "Where to fetch the recording", 404, 409, 410, 422),
)
def transcription_audio(job_id: JOB_ID) -> AudioLink:
    return AudioLink.model_validate(_service().audio(_tenant(), job_id))


@app.delete(
    "/v1/transcriptions/<job_id>",
    summary="Stop the job and delete its audio, chunks and outputs",
    status_code=204,
    responses={204: {"description": "Deleted"}, **_problems(404, 422)},
)
def delete_transcription(job_id: JOB_ID) -> Response[str]:
    _service().delete(_tenant(), job_id)
    return Response(status_code=204, body="")


@app.post(
    "/v1/transcriptions/<job_id>/retry",
    summary="Run a FAILED job again; finished chunks are reused",
    status_code=202,
    responses=_responses(202, Transcription, "Accepted: the job runs again", 404, 409, 422),
)
def retry_transcription(job_id: JOB_ID) -> Transcription:
    return Transcription.model_validate(_service().retry(_tenant(), job_id))


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of this API, as served and as committed under docs/."""
    return dict(json.loads(app.get_openapi_json_schema()))


@app.get(OPENAPI_PATH, summary="This API's OpenAPI document", include_in_schema=False, security=[])
def openapi() -> Response[str]:
    document = openapi_document()
    live_status_url = app.context.get("live_status_url")
    if live_status_url:  # where clients subscribe to live job status (per deployment, so not in docs/)
        document["x-live-status-url"] = live_status_url
    return Response(status_code=200, content_type="application/json", body=json.dumps(document))


class Authenticator(Protocol):
    """The tenants table as authentication uses it (``TenantRepository``)."""

    def authenticate(self, api_key: str) -> Tenant: ...

    def count_request(self, tenant: Tenant) -> None: ...


@dataclass(frozen=True)
class HttpApi:
    """The API for one execution environment: its service and who may call it."""

    service: TranscriptionService
    tenants: Authenticator
    #: the live-status WebSocket's URL, when the deployment has one
    live_status_url: str | None = None

    def authenticate(self, event: dict[str, Any]) -> Tenant:
        """Who is calling (a hashed-key lookup) and whether they are within their rate limit.

        Runs before the resolver: Powertools validates a request before any middleware, and a
        caller without a valid key must learn that (401), not what their body lacks (422).
        """
        headers = event.get("headers") or {}
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        tenant = self.tenants.authenticate(api_key_from_header(authorization))
        self.tenants.count_request(tenant)
        return tenant

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Authenticate (all but the OpenAPI document), then route the request."""
        if event.get("path") != OPENAPI_PATH:
            try:
                tenant = self.authenticate(event)
            except PipelineError as err:
                problem = problems.problem_for(err)
                return {
                    "statusCode": problem.status,
                    "headers": {"Content-Type": problems.PROBLEM_CONTENT_TYPE, **problem.headers},
                    "body": json.dumps(problem.body()),
                    "isBase64Encoded": False,
                }
            logger.append_keys(tenant_id=tenant.tenant_id)
            app.append_context(tenant=tenant)
        app.append_context(service=self.service, live_status_url=self.live_status_url)
        return app.resolve(event, context)
