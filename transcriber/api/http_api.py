"""One execution environment's HTTP API: authenticate the caller (API key or JWT), count the
request against the tenant's limit, route it through transcriber/api/routes.py, and write the
audit line. Authentication runs before the resolver: Powertools validates a request before any
middleware, and a caller without a valid key must learn that (401), not what their body lacks.
A failure nobody anticipated is answered too (a 500 problem, its traceback logged), never left to
crash the function, which API Gateway would turn into a bare 502 without an audit line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters.jwt_verifier import JwtVerifier
from transcriber.api import problems, uploads
from transcriber.api.audit import AUDIT_MESSAGE, audit_record
from transcriber.api.auth import Authenticator, tenant_of_request
from transcriber.api.openai_compat import OpenAIError
from transcriber.api.openai_routes import AUDIO_PREFIX, error_response, from_problem
from transcriber.api.routes import OPENAPI_PATH, app
from transcriber.api.search import SearchService
from transcriber.api.service import TranscriptionService
from transcriber.domain.errors import PipelineError
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.tenants import Tenant

logger = Logger()
#: The log line of a failure no handler anticipated (with its traceback); answered 500.
FAILURE_MESSAGE = "api_call_failed"


@dataclass(frozen=True)
class HttpApi:
    """The API for one execution environment: its service and who may call it."""

    service: TranscriptionService | None  # None in the search function
    tenants: Authenticator
    #: bearer JWTs, where the environment trusts an issuer (transcriber/api/auth.py)
    tokens: JwtVerifier | None = None
    search: SearchService | None = None  # only in the search function (it carries the engine)
    #: the live-status WebSocket's URL, when the deployment has one
    live_status_url: str | None = None

    def authenticate(self, event: dict[str, Any]) -> tuple[Tenant, RateLimitStatus | None]:
        """Who is calling (a hashed-key lookup) and whether they are within their rate limit.

        Runs before the resolver: Powertools validates a request before any middleware, and a
        caller without a valid key must learn that (401), not what their body lacks (422).
        """
        headers = event.get("headers") or {}
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
        tenant = tenant_of_request(authorization, self.tenants, self.tokens)
        return tenant, self.tenants.count_request(tenant)

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """Answer the request, then write its audit line (transcriber/api/audit.py), whatever
        happened: a failure no handler anticipated is logged with its traceback and answered 500
        here, so the caller gets a problem instead of API Gateway's bare 502 and the call is audited."""
        logger.remove_keys(["tenant_id"])  # a warm environment must not carry the last caller's
        tenant: Tenant | None = None
        try:
            tenant, rate_limit, refusal = self._admit(event)
            answer = refusal or self._route(event, context, tenant, rate_limit)
        except Exception as err:
            logger.error(FAILURE_MESSAGE, exc_info=err)
            answer = failure_response(event)
        finally:
            app.clear_context()  # a call that stopped before the resolver must not leave its tenant
        logger.info(AUDIT_MESSAGE, extra=audit_record(event, answer, tenant))
        return answer

    def _admit(
        self, event: dict[str, Any]
    ) -> tuple[Tenant | None, RateLimitStatus | None, dict[str, Any] | None]:
        """The caller and their rate limit; or the answer refusing them (a 401, 429 or 503). The
        OpenAPI document and CORS preflights need no key."""
        if event.get("path") == OPENAPI_PATH or str(event.get("httpMethod")).upper() == "OPTIONS":
            return None, None, None
        try:
            tenant, rate_limit = self.authenticate(event)
        except PipelineError as err:
            problem = problems.problem_for(err)
            if str(event.get("path", "")).startswith(AUDIO_PREFIX):
                return None, None, error_response(from_problem(problem))
            limit = getattr(err, "rate_limit", None)
            return None, None, problem_answer(problem, limit.headers() if limit else None)
        logger.append_keys(tenant_id=tenant.tenant_id)
        return tenant, rate_limit, None

    def _route(
        self,
        event: dict[str, Any],
        context: LambdaContext,
        tenant: Tenant | None,
        rate_limit: RateLimitStatus | None,
    ) -> dict[str, Any]:
        """The resolver's answer (transcriber/api/routes.py), with the rate limit's headers."""
        if tenant is not None:
            app.append_context(tenant=tenant)
        app.append_context(service=self.service, search=self.search, live_status_url=self.live_status_url)
        try:
            event = uploads.form_as_json(event)  # a multipart POST /v1/transcriptions
        except problems.ApiProblem as problem:
            return problem_answer(problem)
        answer = app.resolve(event, context)
        if rate_limit is not None:  # the resolver answers multiValueHeaders
            headers = answer.setdefault("multiValueHeaders", {})
            headers.update({name: [value] for name, value in rate_limit.headers().items()})
        return answer


def problem_answer(problem: problems.ApiProblem, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A proxy response carrying ``problem``, for answers given outside the resolver."""
    return {
        "statusCode": problem.status,
        "headers": {"Content-Type": problems.PROBLEM_CONTENT_TYPE, **problem.headers, **(headers or {})},
        "body": json.dumps(problem.body()),
        "isBase64Encoded": False,
    }


def failure_response(event: Mapping[str, Any]) -> dict[str, Any]:
    """The 500 answering a failure nobody anticipated: the request id to report, nothing of the
    failure itself (its traceback is in the log); in OpenAI's shape under /v1/audio/."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    detail = (
        f"The request failed on our side (request id {request_id}); try again, and report the "
        "request id if it keeps failing."
    )
    if str(event.get("path") or "").startswith(AUDIO_PREFIX):
        return error_response(OpenAIError(500, detail, code="internal_error", kind="server_error"))
    return problem_answer(problems.ApiProblem(detail))


@app.exception_handler(Exception)
def _unanticipated(err: Exception) -> Response[str]:
    """Any error no other handler of the resolver answers (registered here, beside the fallback
    of ``HttpApi.handle``, so both answer alike). Powertools' own errors keep Powertools' answer."""
    if isinstance(err, ServiceError):
        raise err
    logger.error(FAILURE_MESSAGE, exc_info=err)
    answer = failure_response(app.current_event.raw_event)
    return Response(
        status_code=answer["statusCode"], content_type=answer["headers"]["Content-Type"], body=answer["body"]
    )
