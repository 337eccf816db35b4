"""Sweep: requeue or fail the jobs that stopped moving (rules in transcriber/domain/recovery.py),
and announce every job the sweep failed: each as soon as it is marked, and again on later sweeps
while its announcement has not gone out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain import recovery
from transcriber.domain.messages import Job, JobFailed
from transcriber.observability import count_failure
from transcriber.stages.fail import announce_failure
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)
metrics = Metrics()


def sweep(*, ports: StagePorts, workflow: recovery.Executions, now: datetime) -> recovery.SweepReport:
    def announce(record: Mapping[str, Any], reason_code: str, message: str) -> None:
        """JobFailed for one failed job, then its ``failure_announced`` mark (so neither a later
        sweep nor the run's own failure report repeats it)."""
        job = Job.model_validate(dict(record))
        try:
            announce_failure(
                JobFailed(
                    job_id=job.job_id,
                    bucket=job.bucket,
                    key=job.key,
                    reason_code=reason_code,
                    message=message,
                ),
                ports=ports,
            )
        except Exception:
            logger.exception("JobFailed not sent; a later sweep sends it", extra={"job_id": job.job_id})
            raise

    again = recovery.announce_unannounced_failures(jobs=ports.jobs, announce=announce, now=now)
    if again:
        logger.warning(
            "Failures an earlier sweep could not announce were announced", extra={"job_ids": again}
        )
    report = recovery.sweep(jobs=ports.jobs, executions=workflow, now=now, announce=announce)
    for requeued in report.requeued:
        logger.warning(
            "Stalled job requeued",
            extra={"job_id": requeued.job_id, "attempt": requeued.attempt, "execution": requeued.execution},
        )
    for record, reason_code, _ in report.failed:
        logger.warning(
            "Job failed by the sweep", extra={"job_id": record["job_id"], "reason_code": reason_code}
        )
        count_failure(metrics, reason_code)
    metrics.add_metric(name="JobsRequeued", unit=MetricUnit.Count, value=len(report.requeued))
    logger.info("Sweep done", extra=report.to_dict())
    return report
