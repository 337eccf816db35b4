"""One execution environment's HTTP API: authenticate the caller (API key or JWT), count the
request against the tenant's limit, route it through transcriber/api/routes.py, and write the
audit line. Authentication runs before the resolver: Powertools validates a request before any
middleware, and a caller without a valid key must learn that (401), not what their body lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters.jwt_verifier import JwtVerifier
from transcriber.api import problems, uploads
from transcriber.api.audit import AUDIT_MESSAGE, audit_record
from transcriber.api.auth import Authenticator, tenant_of_request
from transcriber.api.openai_routes import AUDIO_PREFIX, error_response, from_problem
from transcriber.api.routes import OPENAPI_PATH, app
from transcriber.api.search import SearchService
from transcriber.api.service import TranscriptionService
from transcriber.domain.errors import PipelineError
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.tenants import Tenant

logger = Logger()


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
        """Answer the request, then write its audit line (transcriber/api/audit.py)."""
        logger.remove_keys(["tenant_id"])  # a warm environment must not carry the last caller's
        answer, tenant = self._answer(event, context)
        logger.info(AUDIT_MESSAGE, extra=audit_record(event, answer, tenant))
        return answer

    def _answer(self, event: dict[str, Any], context: LambdaContext) -> tuple[dict[str, Any], Tenant | None]:
        """Authenticate (all but the OpenAPI document and CORS preflights), then route the request."""
        tenant: Tenant | None = None
        rate_limit: RateLimitStatus | None = None
        if event.get("path") != OPENAPI_PATH and str(event.get("httpMethod")).upper() != "OPTIONS":
            try:
                tenant, rate_limit = self.authenticate(event)
            except PipelineError as err:
                problem = problems.problem_for(err)
                if str(event.get("path", "")).startswith(AUDIO_PREFIX):
                    return error_response(from_problem(problem)), None
                limit = getattr(err, "rate_limit", None)
                refused = {
                    "statusCode": problem.status,
                    "headers": {
                        "Content-Type": problems.PROBLEM_CONTENT_TYPE,
                        **problem.headers,
                        **(limit.headers() if limit else {}),
                    },
                    "body": json.dumps(problem.body()),
                    "isBase64Encoded": False,
                }
                return refused, None
            logger.append_keys(tenant_id=tenant.tenant_id)
            app.append_context(tenant=tenant)
        app.append_context(service=self.service, search=self.search, live_status_url=self.live_status_url)
        try:
            event = uploads.form_as_json(event)  # a multipart POST /v1/transcriptions
        except problems.ApiProblem as problem:
            return {
                "statusCode": problem.status,
                "headers": {"Content-Type": problems.PROBLEM_CONTENT_TYPE},
                "body": json.dumps(problem.body()),
                "isBase64Encoded": False,
            }, tenant
        answer = app.resolve(event, context)
        if rate_limit is not None:  # the resolver answers multiValueHeaders
            headers = answer.setdefault("multiValueHeaders", {})
            headers.update({name: [value] for name, value in rate_limit.headers().items()})
        return answer, tenant
