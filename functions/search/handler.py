"""``GET /v1/search`` behind API Gateway: the HTTP API's own routes and authentication, with search.

A function of its own because the engine (LanceDB and pyarrow) is over a zip's size limit: this
is a container image. It resolves the request with the API's resolver (transcriber/api/routes.py),
so the key check, bearer JWTs, rate limit, problem JSON and OpenAPI description are the API's,
not copies. It only reads the index (the indexer creates it).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from transcriber.adapters import aws_clients
from transcriber.adapters.jwt_verifier import JwtVerifier
from transcriber.adapters.search_index import SearchIndex
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.api.env import SearchEnv
from transcriber.api.http_api import HttpApi
from transcriber.api.search import SearchService

logger = Logger()
tracer = Tracer()
metrics = Metrics()


# Init phase: the environment checked, the SDK clients built and the index opened once.
env = SearchEnv.from_env()
aws_clients.build_now(resources=("dynamodb",))
search = SearchService(SearchIndex.from_environment())
api = HttpApi(
    service=None,
    tenants=TenantRepository(env.tenants_table),
    search=search,
    tokens=JwtVerifier(env.jwt) if env.jwt.enabled else None,  # the API function's trust
)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.handle(event, context)
