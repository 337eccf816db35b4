"""Which earlier job's transcript a new upload of the same audio may reuse."""

from __future__ import annotations

from typing import Any

from transcriber.domain.dedup import duplicate_fields, reusable_job
from transcriber.domain.options import JobOptions


def _job(job_id: str, created_at: str, status: str = "COMPLETED", **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "created_at": created_at,
        "status": status,
        "options": {},
        "outputs": {"json": f"s3://r/transcripts/{job_id}/transcript.json"},
        **extra,
    }


def test_the_newest_completed_job_with_the_same_options_is_reused() -> None:
    candidates = [
        _job("old", "2026-11-24T08:00:00.000Z"),
        _job("new", "2026-11-24T09:00:00.000Z"),
        _job("running", "2026-11-24T10:00:00.000Z", status="PROCESSING"),
        _job("failed", "2026-11-24T10:30:00.000Z", status="FAILED"),
    ]
    assert reusable_job(candidates, JobOptions())["job_id"] == "new"  # type: ignore[index]


def test_options_that_change_the_transcript_must_match() -> None:
    german = _job("de", "2026-11-24T09:00:00.000Z", options={"language": "de"})
    assert reusable_job([german], JobOptions()) is None
    assert reusable_job([german], JobOptions(language="de")) is german
    # Turning reuse off on the earlier job does not change its transcript.
    fresh = _job("fresh", "2026-11-24T09:00:00.000Z", options={"dedupe": False})
    assert reusable_job([fresh], JobOptions()) is fresh


def test_a_job_whose_stored_options_no_longer_validate_is_skipped_not_fatal() -> None:
    """A deploy that tightens an option's rule must not stop every later upload of the tenant."""
    outdated = _job("outdated", "2026-11-24T10:00:00.000Z", options={"max_chunk_seconds": 5})
    current = _job("current", "2026-11-24T09:00:00.000Z")
    assert reusable_job([outdated, current], JobOptions()) is current
    assert reusable_job([outdated], JobOptions()) is None


def test_a_duplicate_points_to_the_original_not_to_another_duplicate() -> None:
    original = _job("orig", "2026-11-24T08:00:00.000Z", language="en", duration=12.5, segments=3)
    first_copy = {**_job("copy1", "2026-11-24T09:00:00.000Z"), **duplicate_fields(original)}
    assert first_copy["duplicate_of"] == "orig" and first_copy["status"] == "COMPLETED"
    assert first_copy["outputs"] == original["outputs"] and first_copy["language"] == "en"
    assert duplicate_fields(first_copy)["duplicate_of"] == "orig"
