"""Retrying failed jobs and recovering stalled ones: the rules, and the one way a job is requeued.

A job may run more than once. Each run is one Step Functions execution, and execution names are
unique, so run ``n`` (counted by the job's ``attempts``, absent on the first run) is named
``<job id>`` for the first run and ``<job id>-r<n>`` after that. A requeued run starts from the
beginning, but the transcribe step skips every chunk whose partial transcript is already stored
(``work/<job>/partials/``), so a retry pays only for the chunks that are missing.

Two ways into a new run, both through :func:`requeue`:

- :func:`retry_job`: someone asks to retry a FAILED job (the local CLI and tests through
  ``LocalPipeline.retry``);
- :func:`sweep`: the scheduled sweeper finds PENDING or PROCESSING jobs that have not moved for
  :data:`STALE_AFTER` and whose latest execution is no longer running (a lost event, a failure
  handler that never ran), and requeues them, or fails them with ``STALLED`` once the budget is
  spent.

A job the sweep fails is announced (JobFailed) right after it is marked, each job on its own: one
announcement that fails does not keep the others from going out. The job then has no
``failure_announced`` mark, and the next sweeps send it again (:func:`announce_unannounced_failures`)
for :data:`ANNOUNCE_RETRY_WINDOW`.

Plain Python: the jobs table and the workflow come in as the small protocols below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from transcriber.domain.errors import INPUT_ERRORS, PermanentError
from transcriber.domain.jobs import JobStatus, parse_timestamp, unannounced_failure
from transcriber.domain.messages import ExecutionInput

#: Jobs table index on (status, updated_at): finds jobs that have not moved, without a scan.
STATUS_INDEX = "by_status"
#: How many times a job may be run again after its first run (by a retry or by the sweeper).
RETRY_BUDGET = 3
#: A job that has not changed for this long, and whose execution is not running, has stalled.
#: Longer than any one step may take (Lambda stops a function at 15 minutes).
STALE_AFTER = timedelta(minutes=30)
#: Statuses the sweeper looks at: a job in them is waiting for a run or inside one.
ACTIVE_STATUSES: tuple[JobStatus, ...] = (JobStatus.PENDING, JobStatus.PROCESSING)
STALLED = "STALLED"
RUNNING = "RUNNING"
#: A job the HTTP API created whose audio never arrived: its upload URL lasts 15 minutes, and an
#: upload begun just before that may take a while; after this long the job is failed.
UPLOAD_ABANDONED_AFTER = timedelta(hours=2)
UPLOAD_NOT_RECEIVED = "UPLOAD_NOT_RECEIVED"

#: How long after a sweep failed a job its JobFailed, if it could not be sent, is tried again (by
#: every sweep, five minutes apart): an EventBridge outage shorter than this loses no event.
ANNOUNCE_RETRY_WINDOW = timedelta(hours=6)
#: The reasons only the sweep fails a job with (MarkFailed and ingest retry their own announcements).
SWEEP_REASON_CODES = frozenset({STALLED, UPLOAD_NOT_RECEIVED})

#: Announces one failed job (its record, reason code, message) and marks it ``failure_announced``.
Announce = Callable[[Mapping[str, Any], str, str], None]

#: Failures caused by the uploaded object itself: the same object fails the same way every time,
#: so these jobs are not retried (the user must upload a fixed file).
INPUT_REASON_CODES = frozenset(cls.reason_code for cls in INPUT_ERRORS)


class RetryRefusedError(PermanentError):
    """A retry that the rules do not allow (wrong status, budget spent, a bad upload)."""

    reason_code = "RETRY_REFUSED"


class JobStore(Protocol):
    """What recovery needs of the jobs table (``transcriber.adapters.jobs_table.JobRepository``)."""

    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def requeue(
        self, job_id: str, *, expected_status: JobStatus, expected_updated_at: str | None = None
    ) -> int | None: ...

    def mark_failed(self, job_id: str, *, reason_code: str, message: str) -> bool: ...

    def not_updated_since(self, status: JobStatus, before: datetime) -> Iterable[str]: ...


class FailedJobStore(JobStore, Protocol):
    """The jobs table, and the FAILED jobs that changed in a time window (for re-announcing)."""

    def updated_between(self, status: JobStatus, since: datetime, before: datetime) -> Iterable[str]: ...


class Executions(Protocol):
    """What recovery needs of the state machine (``transcriber.adapters.workflow.Workflow``)."""

    def start(self, name: str, payload: dict[str, Any]) -> bool: ...

    def status(self, name: str) -> str | None: ...


def attempts_of(job: Mapping[str, Any]) -> int:
    """How many times the job has been requeued (0 on its first run)."""
    return int(job.get("attempts") or 0)


def execution_name(job_id: str, attempt: int) -> str:
    """The execution of run ``attempt``: the job id for the first run (ingest names it so)."""
    return job_id if attempt <= 0 else f"{job_id}-r{attempt}"


def latest_execution_name(job: Mapping[str, Any]) -> str:
    return execution_name(str(job["job_id"]), attempts_of(job))


def execution_input(job: Mapping[str, Any]) -> dict[str, Any]:
    """The execution input of a new run: the same as ingest gives the first one."""
    return ExecutionInput.model_validate(dict(job)).to_wire()


def check_retryable(job: Mapping[str, Any] | None, *, budget: int = RETRY_BUDGET) -> Mapping[str, Any]:
    """The job, if it may be retried; else :class:`RetryRefusedError` saying what to do instead."""
    if job is None:
        raise RetryRefusedError("No such job.")
    status = job.get("status")
    if status != JobStatus.FAILED.value:
        raise RetryRefusedError(f"Only a FAILED job can be retried; job {job['job_id']} is {status}.")
    reason = job.get("reason_code")
    if reason in INPUT_REASON_CODES:
        raise RetryRefusedError(
            f"Job {job['job_id']} failed with {reason}: the upload itself is at fault and would fail "
            "again. Upload a fixed file instead."
        )
    if attempts_of(job) >= budget:
        raise RetryRefusedError(
            f"Job {job['job_id']} was already retried {attempts_of(job)} times (the limit is {budget}). "
            "Upload the file again under a new key to start a new job."
        )
    return job


@dataclass(frozen=True)
class Requeued:
    job_id: str
    attempt: int
    execution: str
    #: False when the execution of that name already existed (a repeated call)
    started: bool


def requeue(
    job: Mapping[str, Any],
    *,
    jobs: JobStore,
    executions: Executions,
    expected_status: JobStatus,
    expected_updated_at: str | None = None,
) -> Requeued | None:
    """Move the job back to PENDING (one attempt more) and start its next run.

    None when the job changed meanwhile (another retry or sweep won, or the run moved on): the
    conditional update in the jobs table decides, so two callers never start two runs.
    """
    attempt = jobs.requeue(
        str(job["job_id"]), expected_status=expected_status, expected_updated_at=expected_updated_at
    )
    if attempt is None:
        return None
    name = execution_name(str(job["job_id"]), attempt)
    started = executions.start(name, execution_input(job))
    return Requeued(job_id=str(job["job_id"]), attempt=attempt, execution=name, started=started)


def retry_job(job_id: str, *, jobs: JobStore, executions: Executions, budget: int = RETRY_BUDGET) -> Requeued:
    """Retry a FAILED job: it becomes PENDING again and a new run transcribes the missing chunks."""
    job = check_retryable(jobs.get(job_id), budget=budget)
    requeued = requeue(job, jobs=jobs, executions=executions, expected_status=JobStatus.FAILED)
    if requeued is None:
        raise RetryRefusedError(f"Job {job_id} changed while it was being retried; it is not FAILED now.")
    return requeued


# The sweeper ---------------------------------------------------------------------------------


class Action(StrEnum):
    LEAVE = "leave"
    REQUEUE = "requeue"
    FAIL = "fail"


def is_stale(job: Mapping[str, Any], *, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """PENDING or PROCESSING, and unchanged for ``stale_after``."""
    if job.get("status") not in {s.value for s in ACTIVE_STATUSES}:
        return False
    updated = job.get("updated_at") or job.get("created_at")
    return updated is not None and parse_timestamp(str(updated)) <= now - stale_after


def decide(
    job: Mapping[str, Any],
    execution_status: str | None,
    *,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    budget: int = RETRY_BUDGET,
) -> Action:
    """What the sweeper does with one job, given its latest execution's status (None: none exists).

    A running execution is left alone however long it takes (the state machine has its own
    timeout); a job whose run is over but which never reached COMPLETED or FAILED is requeued
    while the budget lasts, and failed after that.
    """
    if not is_stale(job, now=now, stale_after=stale_after) or execution_status == RUNNING:
        return Action.LEAVE
    return Action.REQUEUE if attempts_of(job) < budget else Action.FAIL


def stalled_message(job: Mapping[str, Any], stale_after: timedelta = STALE_AFTER) -> str:
    minutes = int(stale_after.total_seconds() // 60)
    runs = attempts_of(job) + 1
    return (
        f"The job stopped making progress: its processing ended without a result {runs} times "
        f"(no change for {minutes} minutes each time). Upload the file again under a new key to "
        "start a new job; if that stalls too, the file may be too long for one run."
    )


@dataclass
class SweepReport:
    examined: int = 0
    requeued: list[Requeued] = field(default_factory=list)
    #: (job, reason code, message) of each job the sweep failed
    failed: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)
    #: ids of the failed jobs whose announcement failed: a later sweep sends it
    unannounced: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        report = {
            "examined": self.examined,
            "requeued": [
                {"job_id": r.job_id, "attempt": r.attempt, "execution": r.execution} for r in self.requeued
            ],
            "failed": [job["job_id"] for job, _, _ in self.failed],
        }
        return {**report, "unannounced": self.unannounced} if self.unannounced else report


def _announced(job: Mapping[str, Any], reason_code: str, message: str, announce: Announce | None) -> bool:
    """Announce one failed job; False when that failed (the job stays unannounced for a later
    sweep). Any error: a lost announcement of one job must not stop the sweep of the others."""
    if announce is None:
        return True
    try:
        announce(job, reason_code, message)
    except Exception:  # see above; the caller's announce logs its own failure
        return False
    return True


def sweep(
    *,
    jobs: JobStore,
    executions: Executions,
    now: datetime,
    stale_after: timedelta = STALE_AFTER,
    budget: int = RETRY_BUDGET,
    announce: Announce | None = None,
) -> SweepReport:
    """Requeue or fail every stalled job (see :func:`decide`), and fail the jobs whose upload
    never arrived (see :data:`UPLOAD_ABANDONED_AFTER`); ``announce`` each failed job as soon as
    it is marked."""
    report = SweepReport()

    def fail(job: dict[str, Any], reason_code: str, message: str) -> None:
        if not jobs.mark_failed(str(job["job_id"]), reason_code=reason_code, message=message):
            return
        report.failed.append((job, reason_code, message))
        if not _announced(job, reason_code, message, announce):
            report.unannounced.append(str(job["job_id"]))

    for job_id in jobs.not_updated_since(JobStatus.AWAITING_UPLOAD, now - UPLOAD_ABANDONED_AFTER):
        job = jobs.get(job_id)
        if job is None or job.get("status") != JobStatus.AWAITING_UPLOAD.value:
            continue
        report.examined += 1
        message = (
            "No audio arrived for this transcription before its upload URL expired. Create a new "
            "transcription and PUT the file to its upload_url within 15 minutes."
        )
        fail(job, UPLOAD_NOT_RECEIVED, message)
    for status in ACTIVE_STATUSES:
        for job_id in jobs.not_updated_since(status, now - stale_after):
            # The index is eventually consistent: decide on the job as it is now.
            job = jobs.get(job_id)
            if job is None:
                continue
            report.examined += 1
            action = decide(
                job,
                executions.status(latest_execution_name(job)),
                now=now,
                stale_after=stale_after,
                budget=budget,
            )
            if action is Action.REQUEUE:
                requeued = requeue(
                    job,
                    jobs=jobs,
                    executions=executions,
                    expected_status=JobStatus(job["status"]),
                    expected_updated_at=job.get("updated_at"),
                )
                if requeued is not None:
                    report.requeued.append(requeued)
            elif action is Action.FAIL:
                fail(job, STALLED, stalled_message(job, stale_after))
    return report


def announce_unannounced_failures(
    *, jobs: FailedJobStore, announce: Announce, now: datetime, window: timedelta = ANNOUNCE_RETRY_WINDOW
) -> list[str]:
    """Send again the JobFailed of each job an earlier sweep failed (within ``window``) but could
    not announce; the ids of those now announced. A job that fails again waits for the next sweep."""
    announced = []
    for job_id in jobs.updated_between(JobStatus.FAILED, now - window, now):
        job = jobs.get(job_id)
        if job is None or not unannounced_failure(job, SWEEP_REASON_CODES):
            continue
        if _announced(job, str(job["reason_code"]), str(job.get("error_message") or ""), announce):
            announced.append(job_id)
    return announced
