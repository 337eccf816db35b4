"""Retry and sweep rules, against in-memory stand-ins for the jobs table and the state machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from transcriber.domain.jobs import JobStatus
from transcriber.domain.recovery import (
    INPUT_REASON_CODES,
    RETRY_BUDGET,
    STALE_AFTER,
    STALLED,
    UPLOAD_ABANDONED_AFTER,
    UPLOAD_NOT_RECEIVED,
    Action,
    RetryRefusedError,
    announce_unannounced_failures,
    decide,
    execution_input,
    execution_name,
    latest_execution_name,
    retry_job,
    sweep,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


OLD = _iso(NOW - STALE_AFTER - timedelta(minutes=1))
RECENT = _iso(NOW - timedelta(minutes=1))


class FakeJobs:
    def __init__(self, *jobs: dict[str, Any]) -> None:
        self.items = {j["job_id"]: dict(j) for j in jobs}

    def get(self, job_id: str) -> dict[str, Any] | None:
        job = self.items.get(job_id)
        return dict(job) if job else None

    def requeue(
        self, job_id: str, *, expected_status: JobStatus, expected_updated_at: str | None = None
    ) -> int | None:
        job = self.items.get(job_id)
        if job is None or job["status"] != expected_status.value:
            return None
        if expected_updated_at is not None and job.get("updated_at") != expected_updated_at:
            return None
        job["status"] = JobStatus.PENDING.value
        job["attempts"] = int(job.get("attempts") or 0) + 1
        job["updated_at"] = _iso(NOW)
        for name in ("reason_code", "error_message"):
            job.pop(name, None)
        return int(job["attempts"])

    def mark_failed(self, job_id: str, *, reason_code: str, message: str) -> bool:
        job = self.items[job_id]
        if JobStatus(job["status"]).is_terminal:
            return False
        job.update(status=JobStatus.FAILED.value, reason_code=reason_code, error_message=message)
        return True

    def not_updated_since(self, status: JobStatus, before: datetime) -> Iterator[str]:
        for job in list(self.items.values()):
            if job["status"] == status.value and job["updated_at"] < _iso(before):
                yield job["job_id"]

    def updated_between(self, status: JobStatus, since: datetime, before: datetime) -> Iterator[str]:
        for job in list(self.items.values()):
            if job["status"] == status.value and _iso(since) <= job["updated_at"] <= _iso(before):
                yield job["job_id"]


class FakeExecutions:
    def __init__(self, statuses: dict[str, str] | None = None) -> None:
        self.statuses = dict(statuses or {})
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, payload: dict[str, Any]) -> bool:
        if name in self.statuses:
            return False
        self.statuses[name] = "RUNNING"
        self.started.append((name, payload))
        return True

    def status(self, name: str) -> str | None:
        return self.statuses.get(name)


def _job(job_id: str = "a" * 32, **fields: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "bucket": "in",
        "key": "talk.mp3",
        "options": {"beam_size": 1},
        "status": "FAILED",
        "reason_code": "INTERNAL_ERROR",
        "updated_at": OLD,
        **fields,
    }


def test_execution_names_are_unique_per_run_and_valid() -> None:
    job_id = "0123456789abcdef" * 2
    assert execution_name(job_id, 0) == job_id  # ingest's name for the first run
    assert execution_name(job_id, 2) == f"{job_id}-r2"
    assert latest_execution_name({"job_id": job_id}) == job_id
    assert latest_execution_name({"job_id": job_id, "attempts": 3}) == f"{job_id}-r3"
    assert len(execution_name(job_id, RETRY_BUDGET)) <= 80  # Step Functions' limit


def test_a_new_run_gets_the_same_input_as_the_first() -> None:
    assert execution_input(_job(size=10, sha256="x")) == {
        "job_id": "a" * 32,
        "bucket": "in",
        "key": "talk.mp3",
        "options": {"beam_size": 1},
    }
    assert execution_input({"job_id": "j", "bucket": "b", "key": "k"})["options"] == {}


def test_a_failed_job_is_retried_with_a_new_execution() -> None:
    jobs, executions = FakeJobs(_job()), FakeExecutions({"a" * 32: "FAILED"})
    requeued = retry_job("a" * 32, jobs=jobs, executions=executions)
    assert (requeued.attempt, requeued.execution, requeued.started) == (1, "a" * 32 + "-r1", True)
    assert executions.started == [("a" * 32 + "-r1", execution_input(_job()))]
    job = jobs.items["a" * 32]
    assert job["status"] == "PENDING" and job["attempts"] == 1 and "reason_code" not in job


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (None, "No such job"),
        (_job(status="PROCESSING"), "Only a FAILED job"),
        (_job(status="COMPLETED"), "Only a FAILED job"),
        (_job(reason_code="CORRUPT_AUDIO"), "Upload a fixed file"),
        (_job(attempts=RETRY_BUDGET), "already retried 3 times"),
    ],
)
def test_what_cannot_be_retried_says_why(job: dict[str, Any] | None, message: str) -> None:
    jobs = FakeJobs(*([job] if job else []))
    executions = FakeExecutions()
    with pytest.raises(RetryRefusedError, match=message):
        retry_job("a" * 32, jobs=jobs, executions=executions)
    assert executions.started == []


def test_failures_of_the_upload_itself_are_not_retried() -> None:
    assert {"UNSUPPORTED_FORMAT", "CORRUPT_AUDIO", "TOO_LONG", "INVALID_OPTIONS"} <= INPUT_REASON_CODES
    assert not {"INTERNAL_ERROR", "TIMEOUT", "ABORTED", "ENGINE_TRANSIENT", STALLED} & INPUT_REASON_CODES


def test_two_retries_at_once_start_one_run() -> None:
    jobs, executions = FakeJobs(_job()), FakeExecutions()
    # Both callers read the job while it was FAILED; the conditional update lets one through.
    snapshot = jobs.get("a" * 32)
    jobs.get = lambda job_id: snapshot  # type: ignore[method-assign]
    retry_job("a" * 32, jobs=jobs, executions=executions)
    with pytest.raises(RetryRefusedError, match="changed while"):
        retry_job("a" * 32, jobs=jobs, executions=executions)
    assert len(executions.started) == 1


@pytest.mark.parametrize(
    ("fields", "execution", "expected"),
    [
        ({"status": "PROCESSING"}, None, Action.REQUEUE),
        ({"status": "PENDING"}, None, Action.REQUEUE),  # recorded, never started
        ({"status": "PROCESSING"}, "FAILED", Action.REQUEUE),
        ({"status": "PROCESSING"}, "ABORTED", Action.REQUEUE),
        ({"status": "PROCESSING"}, "RUNNING", Action.LEAVE),  # slow, not stalled
        ({"status": "PROCESSING", "updated_at": RECENT}, None, Action.LEAVE),
        ({"status": "PROCESSING", "attempts": RETRY_BUDGET}, "FAILED", Action.FAIL),
        ({"status": "PROCESSING", "attempts": RETRY_BUDGET}, "RUNNING", Action.LEAVE),
        ({"status": "COMPLETED"}, None, Action.LEAVE),
        ({"status": "FAILED"}, None, Action.LEAVE),
    ],
)
def test_which_jobs_the_sweeper_touches(
    fields: dict[str, Any], execution: str | None, expected: Action
) -> None:
    assert decide(_job(**fields), execution, now=NOW) is expected


def test_a_sweep_requeues_stalled_jobs_fails_spent_ones_and_leaves_the_rest() -> None:
    stalled = _job("s" * 32, status="PROCESSING", attempts=1)
    spent = _job("f" * 32, status="PROCESSING", attempts=RETRY_BUDGET)
    running = _job("r" * 32, status="PROCESSING")
    fresh = _job("n" * 32, status="PENDING", updated_at=RECENT)
    jobs = FakeJobs(stalled, spent, running, fresh, _job("c" * 32, status="COMPLETED"))
    executions = FakeExecutions({"s" * 32 + "-r1": "FAILED", "r" * 32: "RUNNING"})
    report = sweep(jobs=jobs, executions=executions, now=NOW)

    assert report.examined == 3
    assert [(r.job_id, r.attempt, r.execution) for r in report.requeued] == [("s" * 32, 2, "s" * 32 + "-r2")]
    assert executions.started == [("s" * 32 + "-r2", execution_input(stalled))]
    assert jobs.items["s" * 32]["status"] == "PENDING"
    ((failed, reason_code, message),) = report.failed
    assert reason_code == STALLED
    assert failed["job_id"] == "f" * 32
    assert jobs.items["f" * 32]["reason_code"] == STALLED and jobs.items["f" * 32]["error_message"] == message
    assert "Upload the file again" in message and "4 times" in message
    assert jobs.items["r" * 32]["status"] == "PROCESSING" and jobs.items["n" * 32]["status"] == "PENDING"
    assert report.to_dict() == {
        "examined": 3,
        "requeued": [{"job_id": "s" * 32, "attempt": 2, "execution": "s" * 32 + "-r2"}],
        "failed": ["f" * 32],
    }
    # A second sweep finds nothing to do: the requeued job is fresh again, the spent one FAILED.
    again = sweep(jobs=jobs, executions=executions, now=NOW)
    assert again.requeued == [] and again.failed == [] and again.examined == 1


def test_a_job_that_moved_between_the_query_and_the_update_is_not_requeued() -> None:
    jobs = FakeJobs(_job(status="PROCESSING"))
    executions = FakeExecutions()
    real_get = jobs.get

    def get_then_progress(job_id: str) -> dict[str, Any] | None:
        seen = real_get(job_id)
        jobs.items[job_id]["updated_at"] = RECENT  # a chunk finished meanwhile
        return seen

    jobs.get = get_then_progress  # type: ignore[method-assign]
    report = sweep(jobs=jobs, executions=executions, now=NOW)
    assert report.requeued == [] and executions.started == []


def test_sweep_fails_api_jobs_whose_upload_never_arrived() -> None:
    abandoned = {
        "job_id": "a" * 32,
        "status": JobStatus.AWAITING_UPLOAD.value,
        "updated_at": _iso(NOW - UPLOAD_ABANDONED_AFTER - timedelta(minutes=1)),
    }
    waiting = {"job_id": "b" * 32, "status": JobStatus.AWAITING_UPLOAD.value, "updated_at": RECENT}
    jobs = FakeJobs(abandoned, waiting)
    executions = FakeExecutions()
    report = sweep(jobs=jobs, executions=executions, now=NOW)
    assert [(job["job_id"], reason) for job, reason, _ in report.failed] == [("a" * 32, UPLOAD_NOT_RECEIVED)]
    assert jobs.items["a" * 32]["reason_code"] == UPLOAD_NOT_RECEIVED
    assert "upload_url" in jobs.items["a" * 32]["error_message"]
    assert jobs.items["b" * 32]["status"] == JobStatus.AWAITING_UPLOAD.value
    assert executions.started == []


class FlakyAnnouncer:
    """Announces (marks ``failure_announced`` on the fake table), except for the ids in ``refuse``."""

    def __init__(self, jobs: FakeJobs, refuse: set[str]) -> None:
        self.jobs, self.refuse = jobs, refuse
        self.sent: list[tuple[str, str]] = []

    def __call__(self, job: Any, reason_code: str, message: str) -> None:
        if job["job_id"] in self.refuse:
            raise RuntimeError("EventBridge throttled")
        self.sent.append((job["job_id"], reason_code))
        self.jobs.items[job["job_id"]]["failure_announced"] = True


def test_one_failed_announcement_neither_stops_the_others_nor_is_lost() -> None:
    first, second, third = (
        _job(job_id, status="PROCESSING", attempts=RETRY_BUDGET) for job_id in ("1" * 32, "2" * 32, "3" * 32)
    )
    jobs = FakeJobs(first, second, third)
    announce = FlakyAnnouncer(jobs, refuse={"1" * 32})
    report = sweep(jobs=jobs, executions=FakeExecutions(), now=NOW, announce=announce)
    # Each job is announced right after it is marked: the first's failure does not stop the rest.
    assert [job["job_id"] for job, _, _ in report.failed] == ["1" * 32, "2" * 32, "3" * 32]
    assert announce.sent == [("2" * 32, STALLED), ("3" * 32, STALLED)]
    assert report.unannounced == ["1" * 32] and report.to_dict()["unannounced"] == ["1" * 32]

    # The next sweep finds the FAILED job still unannounced and sends it; once only.
    jobs.items["1" * 32]["updated_at"] = RECENT  # as mark_failed left it
    announce.refuse.clear()
    assert announce_unannounced_failures(jobs=jobs, announce=announce, now=NOW) == ["1" * 32]
    assert announce.sent[-1] == ("1" * 32, STALLED)
    assert announce_unannounced_failures(jobs=jobs, announce=announce, now=NOW) == []


def test_only_the_sweeps_own_unannounced_failures_are_announced_again() -> None:
    jobs = FakeJobs(
        _job("a" * 32, reason_code="CORRUPT_AUDIO", updated_at=RECENT),  # MarkFailed's or ingest's
        _job("b" * 32, reason_code=STALLED, updated_at=RECENT, failure_announced=True),
        _job("c" * 32, reason_code=UPLOAD_NOT_RECEIVED, updated_at=RECENT),
        _job("d" * 32, reason_code=STALLED, updated_at=_iso(NOW - timedelta(days=2))),  # given up on
    )
    announce = FlakyAnnouncer(jobs, refuse=set())
    assert announce_unannounced_failures(jobs=jobs, announce=announce, now=NOW) == ["c" * 32]
