"""Search index operations: the scheduled ``maintain`` and an operator's tenant rebuild.

A function of its own (the indexer's image, another command) with a concurrency of one:
``maintain`` compacts the table and must not race itself, and a rebuild is rare and heavy.
Invoked by the schedule (an EventBridge "Scheduled Event") or directly by an operator
(``transcriber admin reindex --tenant T`` sends ``{"reindex_tenant": "T"}``).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, Field

from functions.indexer.shared import index, index_sources  # init phase: clients and index
from transcriber.stages import search

logger = Logger()
tracer = Tracer()


class ReindexRequest(BaseModel):
    reindex_tenant: str = Field(min_length=1, max_length=128)


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "reindex_tenant" not in event:  # the schedule
        search.maintain(index=index)
        return {"maintained": True}
    tenant = ReindexRequest.model_validate(event).reindex_tenant
    count = search.reindex_tenant(tenant, **index_sources())
    logger.info("Tenant reindexed", extra={"tenant_id": tenant, "jobs": count})
    return {"tenant": tenant, "indexed_jobs": count}
