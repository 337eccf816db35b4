"""What deleting a job does to the jobs that reuse its transcript.

A job completed as a duplicate (transcriber/domain/dedup.py) points to its original's outputs
instead of having its own. Before the original's outputs go, each such duplicate of the same
tenant gets its own copy and stops being a duplicate, so no COMPLETED job is ever left without a
transcript and the deleted job leaves nothing of its own behind.

Also here: the upload's own end where the tenant keeps no audio once a job has its transcript
(transcribed, or reusing an earlier one).
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools import Logger

from transcriber.domain.jobs import JobStatus, output_key
from transcriber.domain.retention import Retention
from transcriber.stages.ports import Store

logger = Logger(child=True)


class HeirJobs(Protocol):
    def with_content(self, sha256: str) -> list[dict[str, Any]]: ...

    def take_over_outputs(self, job_id: str, outputs: dict[str, str]) -> bool: ...


class Copier(Protocol):
    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None: ...


def heirs_of(job: dict[str, Any], jobs: HeirJobs) -> list[dict[str, Any]]:
    """The COMPLETED jobs of the same tenant that use ``job``'s outputs as their own."""
    if not job.get("sha256") or not job.get("outputs") or job.get("duplicate_of"):
        return []  # a duplicate's outputs belong to its original: nobody inherits from it
    return [
        other
        for other in jobs.with_content(str(job["sha256"]))
        if other.get("duplicate_of") == job["job_id"]
        and other.get("status") == JobStatus.COMPLETED.value
        and other.get("tenant_id") == job.get("tenant_id")
    ]


def hand_over_outputs(job: dict[str, Any], *, jobs: HeirJobs, objects: Copier, results_bucket: str) -> int:
    """Copy ``job``'s outputs to each of its heirs (their own keys); returns how many heirs."""
    heirs = heirs_of(job, jobs)
    for heir in heirs:
        outputs: dict[str, str] = {}
        for fmt, uri in dict(job["outputs"]).items():
            bucket, _, key = str(uri).removeprefix("s3://").partition("/")
            target = output_key(heir["job_id"], fmt)
            objects.copy(bucket, key, results_bucket, target)
            outputs[fmt] = f"s3://{results_bucket}/{target}"
        jobs.take_over_outputs(heir["job_id"], outputs)
    return len(heirs)


def release_transcribed_audio(retention: Retention, bucket: str, key: str, *, store: Store) -> None:
    """Delete the upload (every version: prod versions the input bucket) of a job that now has its
    transcript, where the tenant keeps no audio once transcribed; nothing otherwise."""
    if retention.audio_after_transcript:
        store.delete_every_version(bucket, key)
        logger.info("Audio deleted after its transcript (tenant retention)")
