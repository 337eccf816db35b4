"""``GET /v1/search``: the answer's models and the use case behind the route.

The route itself is in transcriber/api/routes.py (one resolver, one OpenAPI document); it runs in
the search function (functions/search), which alone carries the search engine: this module
imports none of it, so the API function (a zip) can import the routes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from transcriber.domain.search import parse_query
from transcriber.domain.tenants import Tenant
from transcriber.stages import search as search_stage
from transcriber.stages.search import Searchable


class SearchHitModel(BaseModel):
    job_id: str
    filename: str = Field(description="The file name given at upload (untrusted text)")
    segment_id: int
    start: float = Field(description="Segment start, seconds from the start of the audio")
    end: float = Field(description="Segment end, seconds")
    text: str = Field(description="The segment's text")
    highlight: str = Field(description="The text HTML-escaped, matched words in <mark>...</mark>")
    score: float = Field(
        description="Relevance relative to this answer's best hit (1.0); hits come best first. "
        "Compare scores within one answer only."
    )


class SearchResults(BaseModel):
    hits: list[SearchHitModel]
    next_cursor: str | None = Field(description="The next page's cursor (same query); null at the end")


class SearchService:
    """Validates a search request (a 422 problem when it cannot be run) and asks the index,
    always within the caller's tenant (from the API key or JWT, never from the request)."""

    def __init__(self, index: Searchable) -> None:
        self.index = index

    def search(self, tenant: Tenant, text: str | None, **params: Any) -> dict[str, Any]:
        limit, cursor = params.pop("limit", None), params.pop("cursor", None)
        filters = {name: value for name, value in params.items() if value is not None}
        query = parse_query(text, limit=limit, cursor=cursor, **filters)
        return search_stage.search(tenant.tenant_id, query, index=self.index).to_dict()
