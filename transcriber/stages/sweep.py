"""Sweep: requeue or fail the jobs that stopped moving (rules in transcriber/domain/recovery.py),
and announce every job the sweep failed."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain import recovery
from transcriber.domain.messages import Job, JobFailed
from transcriber.observability import count_failure
from transcriber.stages.ports import StagePorts

logger = Logger(child=True)
metrics = Metrics()


def sweep(*, ports: StagePorts, workflow: recovery.Executions, now: datetime) -> recovery.SweepReport:
    report = recovery.sweep(jobs=ports.jobs, executions=workflow, now=now)
    for requeued in report.requeued:
        logger.warning(
            "Stalled job requeued",
            extra={"job_id": requeued.job_id, "attempt": requeued.attempt, "execution": requeued.execution},
        )
    for record, reason_code, message in report.failed:
        job = Job.model_validate(record)
        logger.warning("Job failed by the sweep", extra={"job_id": job.job_id, "reason_code": reason_code})
        ports.events.emit(
            JobFailed(
                job_id=job.job_id, bucket=job.bucket, key=job.key, reason_code=reason_code, message=message
            )
        )
        ports.jobs.note_failure_announced(job.job_id)  # the run's own failure report does not repeat it
        count_failure(metrics, reason_code)
    metrics.add_metric(name="JobsRequeued", unit=MetricUnit.Count, value=len(report.requeued))
    logger.info("Sweep done", extra=report.to_dict())
    return report
