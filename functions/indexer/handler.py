"""Indexer: keeps the search index in step with the jobs (EventBridge -> SQS -> here, batched).

Completion (re)indexes a job's segments, deletion removes them. Failures are per message
(partial batch responses): a retried one comes back after the visibility timeout, then goes to
the dead-letter queue; a message that is not a job event is logged and dropped.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.indexer.shared import index as index  # the index the tests inspect
from functions.indexer.shared import index_sources  # init phase: clients and index
from transcriber.domain.search import JobEvent
from transcriber.stages import search

logger = Logger()
tracer = Tracer()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    try:
        event = JobEvent.model_validate_json(record.body)
    except ValidationError as err:
        logger.error("Not a job event; dropped", extra={"error": str(err)})
        return "dropped"
    outcome = search.apply_job_event(event, **index_sources())
    metrics.add_metric(name="SearchIndexUpdates", unit=MetricUnit.Count, value=1)
    logger.info("Search index updated", extra={"job_id": event.detail.job_id, "outcome": outcome})
    return outcome


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(event, record_handler, processor, context)
    return dict(response)
