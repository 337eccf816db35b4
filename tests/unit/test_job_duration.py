"""JobDuration counts from when the job's current run was queued: not from ``created_at``, which an
API job gets when its upload URL is issued and keeps across retries."""

from __future__ import annotations

from transcriber.stages.aggregate import run_queued_at

CREATED = "2026-11-20T09:00:00.000Z"  # the upload URL was issued; the file came days later
QUEUED = "2026-11-24T12:00:00.000Z"


def test_the_duration_starts_when_the_run_was_queued() -> None:
    assert run_queued_at({"created_at": CREATED, "queued_at": QUEUED}) == QUEUED


def test_a_record_from_before_queued_at_falls_back_to_created_at() -> None:
    assert run_queued_at({"created_at": CREATED}) == CREATED
    assert run_queued_at(None) is None
