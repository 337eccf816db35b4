"""A chunk's own failure, kept on its job record so that MarkFailed can name it.

With a Distributed Map, a chunk that fails after its retries fails its child workflow, and the
Map fails with ``States.ExceedToleratedFailureThreshold``: the chunk's error (permanent or
retryable, and its reason code) does not travel with it. The transcribe step therefore records
its error, as the ``{Error, Cause}`` pair Step Functions would have reported, in the job record's
``chunk_error`` (not shown by the API), and MarkFailed reads it back (transcriber/stages/fail.py).
The latest failure wins: the Map stops at the first chunk that fails for good, whose last attempt
is the latest record, unless that chunk died without a word (timeout, out of memory). The record
lasts one run: the chunk step's PROCESSING write, a requeue and the job's completion remove it
(transcriber/adapters/jobs_table.py), so it adds no write to a chunk that succeeds.
"""

from __future__ import annotations

import json
from typing import Any

from transcriber.domain.messages import StepError
from transcriber.stages.ports import StagePorts

#: The error a Distributed Map reports when more children failed than it tolerates.
MAP_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"


def record_chunk_failure(job_id: str, index: int, error: Exception, *, ports: StagePorts) -> None:
    """Keep ``error`` as Lambda reports it (error type name; cause with ``errorMessage``)."""
    cause = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error), "chunk": index})
    ports.jobs.record_chunk_error(job_id, {"Error": type(error).__name__, "Cause": cause})


def chunk_failure(job: dict[str, Any] | None) -> StepError | None:
    """The failed chunk's error recorded on ``job`` (its record), or None."""
    recorded = (job or {}).get("chunk_error")
    return StepError.model_validate(recorded) if isinstance(recorded, dict) else None
