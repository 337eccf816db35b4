"""A chunk's own failure, kept beside its job so that MarkFailed can name it.

With a Distributed Map, a chunk that fails after its retries fails its child workflow, and the
Map fails with ``States.ExceedToleratedFailureThreshold``: the chunk's error (permanent or
retryable, and its reason code) does not travel with it. The transcribe step therefore stores
its error as the ``{Error, Cause}`` pair Step Functions would have reported, and MarkFailed reads
it back (transcriber/stages/fail.py). A later success of the same chunk removes it.
"""

from __future__ import annotations

import json

from transcriber.domain.jobs import WORK_PREFIX
from transcriber.domain.messages import StepError
from transcriber.stages.ports import StagePorts

#: The error a Distributed Map reports when more children failed than it tolerates.
MAP_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"


def _prefix(job_id: str) -> str:
    return f"{WORK_PREFIX}/{job_id}/failures/"


def failure_key(job_id: str, index: int) -> str:
    return f"{_prefix(job_id)}chunk-{index:04d}.json"


def record_chunk_failure(job_id: str, index: int, error: Exception, *, ports: StagePorts) -> None:
    """Keep ``error`` as Lambda reports it (error type name; cause with ``errorMessage``)."""
    cause = json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
    ports.store.put_json(
        ports.results_bucket, failure_key(job_id, index), {"Error": type(error).__name__, "Cause": cause}
    )


def clear_chunk_failure(job_id: str, index: int, *, ports: StagePorts) -> None:
    ports.store.delete(ports.results_bucket, failure_key(job_id, index))


def chunk_failure(job_id: str, *, ports: StagePorts) -> StepError | None:
    """One failed chunk's error (the lowest index), or None when no chunk recorded one."""
    keys = ports.store.keys_under(ports.results_bucket, _prefix(job_id), limit=1)
    if not keys:
        return None
    return StepError.model_validate(ports.store.get_json(ports.results_bucket, keys[0]))
