"""The HTTP API's routes (``/v1``): Powertools' REST resolver, validation and OpenAPI.

Each route parses its request into the pydantic models of transcriber/api/models.py, calls
:class:`transcriber.api.service.TranscriptionService` and shapes the answer; every error leaves
as problem JSON. ``transcriber.api.http_api.HttpApi`` authenticates the caller first. The OpenAPI
document is served at ``/v1/openapi.json`` (no key needed) and committed as docs/openapi.json.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from transcriber.api import problems
from transcriber.api.models import (
    AudioLink,
    CreatedTranscription,
    CreateTranscription,
    JobStatusName,
    OutputFormat,
    Problem,
    SegmentList,
    SpeakerList,
    SpeakerNames,
    Transcription,
    TranscriptionPage,
)
from transcriber.api.openai_routes import router as openai_router
from transcriber.api.search import SearchResults, SearchService
from transcriber.api.service import CONTENT_TYPES, TranscriptionService
from transcriber.api.tenant_settings import TenantSettings, settings_of
from transcriber.api.vocabularies import Vocabularies, Vocabulary, VocabularyBody
from transcriber.domain.errors import PipelineError
from transcriber.domain.tenants import Tenant

logger = Logger()

API_VERSION = "1.0.0"
OPENAPI_PATH = "/v1/openapi.json"
JOB_ID = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The job id")]
VOCABULARY_NAME = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The vocabulary's name")]

#: Browsers may call the API from any origin: it is authenticated by a bearer key, never a cookie.
CORS = CORSConfig(allow_origin="*", allow_headers=["Authorization", "Content-Type"], max_age=600)
app = APIGatewayRestResolver(enable_validation=True, cors=CORS)
app.configure_openapi(
    title="Audio Transcriber API",
    version=API_VERSION,
    description=(
        "Create a transcription, PUT the audio to the returned upload_url (or send files up to 4 MiB "
        "inline), then poll or receive a signed webhook. Errors are RFC 9457 problem details."
    ),
    security_schemes={
        "bearerAuth": HTTPBearer(
            description="An API key ('Authorization: Bearer trk_...') or, where configured, an issuer's JWT"
        )
    },
    security=[{"bearerAuth": []}],
)
app.include_router(openai_router)


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


@app.exception_handler(RecursionError)
def _too_deep(_: RecursionError) -> Response[str]:
    # json.loads raises it for bodies like 5,000 nested arrays (10 KB): a bad request, not a crash.
    return _problem_response(problems.BadRequest("The request body is nested too deeply to be valid JSON."))


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


def allowed_methods(path: str) -> list[str]:
    """The methods some route answers at ``path`` (with OPTIONS, the CORS preflight), sorted."""
    routes = [*app._static_routes, *app._dynamic_routes]  # Powertools keeps no public list
    methods = {route.method for route in routes if route.rule.match(path)}
    return sorted(methods | {"OPTIONS"}) if methods else []


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    event = app.current_event
    allowed = allowed_methods(event.path)
    if allowed:  # the path exists, not with this method
        problem = problems.MethodNotAllowed(
            f"{event.http_method} is not allowed on {event.path}; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
        return _problem_response(problem)
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
    responses=_responses(200, SegmentList, "The matching segments", 404, 409, 413, 422),
)
def transcription_segments(
    job_id: JOB_ID,
    q: Annotated[str | None, Query(max_length=200)] = None,
    speaker: Annotated[str | None, Query(max_length=40, description="Only this speaker's (spk_1)")] = None,
) -> SegmentList:
    return SegmentList.model_validate(_service().segments(_tenant(), job_id, q, speaker))


@app.put(
    "/v1/transcriptions/<job_id>/speakers",
    summary="Name the speakers (spk_0 -> Alice); all four outputs are rewritten",
    responses=_responses(200, SpeakerList, "The speakers with their names", 400, 404, 409, 422),
)
def rename_speakers(job_id: JOB_ID, names: Annotated[SpeakerNames, Body()]) -> SpeakerList:
    return SpeakerList.model_validate(_service().rename_speakers(_tenant(), job_id, names.root))


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
    job_id: JOB_ID,
    format: Annotated[OutputFormat, Query()] = "json",
    caption_max_line_chars: Annotated[int | None, Query(ge=10, le=80)] = None,
    caption_max_lines: Annotated[int | None, Query(ge=1, le=4)] = None,
    caption_max_duration_s: Annotated[float | None, Query(ge=1, le=30)] = None,
    unredacted: Annotated[
        bool,
        Query(description="format=json only: the JSON as heard, kept when the job asked for keep_unredacted"),
    ] = False,
) -> Response[str]:
    captions = {
        "line_chars": caption_max_line_chars,
        "lines": caption_max_lines,
        "duration_s": caption_max_duration_s,
    }
    download = _service().download(_tenant(), job_id, format, captions, unredacted=unredacted)
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


@app.get(
    "/v1/tenant",
    summary="Your tenant's settings: limits and data retention",
    responses=_responses(200, TenantSettings, "The caller's tenant"),
)
def tenant_settings() -> TenantSettings:
    return settings_of(_tenant())


def _search() -> SearchService:
    search = app.context.get("search")
    if not isinstance(search, SearchService):  # API Gateway sends /v1/search to the search function
        raise problems.NotFound("Search is served by the search function: call /v1/search at the API's URL.")
    return search


@app.get(
    "/v1/search",
    summary='Search every transcript of the tenant: words (all must match), "phrases", filters',
    responses=_responses(200, SearchResults, "Matching segments, best first", 422),
)
def search_transcripts(
    q: Annotated[str | None, Query(description='Words, and "phrases"; at most 512 characters')] = None,
    language: Annotated[str | None, Query(description="ISO 639-1 code")] = None,
    created_after: Annotated[str | None, Query(description="ISO 8601 time")] = None,
    created_before: Annotated[str | None, Query(description="ISO 8601 time")] = None,
    job_id: Annotated[str | None, Query()] = None,
    speaker: Annotated[str | None, Query()] = None,
    limit: Annotated[str | None, Query(description="1 to 100 (default 20)")] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> SearchResults:
    answer = _search().search(
        _tenant(), q, language=language, created_after=created_after, created_before=created_before,
        job_id=job_id, speaker=speaker, limit=limit, cursor=cursor,
    )  # fmt: skip
    return SearchResults.model_validate(answer)


def _vocabularies() -> Vocabularies:
    vocabularies = _service().vocabularies
    if vocabularies is None:
        raise problems.NotFound("This deployment keeps no vocabularies.")
    return vocabularies


@app.put(
    "/v1/vocabularies/<name>",
    summary="Create or replace a custom vocabulary (names and terms the engine should expect)",
    responses=_responses(200, Vocabulary, "The vocabulary as stored", 400, 415, 422),
)
def put_vocabulary(name: VOCABULARY_NAME, body: VocabularyBody) -> Vocabulary:
    return _vocabularies().put(_tenant(), name, body)


@app.get(
    "/v1/vocabularies/<name>",
    summary="One of your vocabularies",
    responses=_responses(200, Vocabulary, "The vocabulary", 404, 422),
)
def get_vocabulary(name: VOCABULARY_NAME) -> Vocabulary:
    return _vocabularies().get(_tenant(), name)


@app.delete(
    "/v1/vocabularies/<name>",
    summary="Delete a vocabulary (jobs already created keep its phrases)",
    status_code=204,
    responses={204: {"description": "Deleted"}, **_problems(404, 422)},
)
def delete_vocabulary(name: VOCABULARY_NAME) -> Response[str]:
    _vocabularies().delete(_tenant(), name)
    return Response(status_code=204, body="")


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
