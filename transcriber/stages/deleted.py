"""The stages' guard against writing for a job deleted while it ran.

DELETE stops the execution, but a Lambda invocation already running finishes: a transcribe
worker would store its checkpoint, aggregate its outputs, after the API removed the job's files.
Each stage calls :func:`refuse_if_deleted` right after it writes. Either the job was still alive
when it looked (then the write came before the tombstone, and the API's delete, which runs after
the tombstone, removes it), or it sees DELETED and removes the job's files itself.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import WORK_PREFIX, JobStatus
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)


class JobDeletedError(PermanentError):
    reason_code = "JOB_DELETED"


def refuse_if_deleted(job_id: str, ports: StagePorts, *prefixes: str) -> None:
    """Raise JobDeletedError, after deleting the job's files under ``prefixes`` (``work/`` by
    default, the results bucket's ``<prefix>/<job id>/``), if the job was deleted."""
    job = ports.jobs.get(job_id)
    if job is None or job.get("status") != JobStatus.DELETED.value:
        return
    for prefix in prefixes or (WORK_PREFIX,):
        ports.store.delete_prefix(ports.results_bucket, f"{prefix}/{job_id}/")
    logger.info("Job deleted while this step ran: its files removed, nothing more written")
    raise JobDeletedError(f"Job {job_id} was deleted by its owner; nothing more is written for it.")
