"""A transcript about to be deleted by its tenant's retention is never reused, and a job completed
by reuse gets the same retention fields as a transcribed one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from transcriber.domain.dedup import REUSE_MARGIN, reusable_job
from transcriber.domain.jobs import iso_timestamp
from transcriber.domain.options import JobOptions
from transcriber.domain.retention import UNCONFIRMED_GRACE, Retention, held_record_ttl

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def _job(
    job_id: str, created_at: str, *, expires_in: timedelta | None = None, **extra: Any
) -> dict[str, Any]:
    expiry = {"transcript_expires_at": iso_timestamp(NOW + expires_in)} if expires_in is not None else {}
    return {
        "job_id": job_id,
        "created_at": created_at,
        "status": "COMPLETED",
        "options": {},
        "outputs": {"json": f"s3://r/transcripts/{job_id}/transcript.json"},
        **expiry,
        **extra,
    }


def test_a_transcript_past_or_near_its_expiry_is_not_reused() -> None:
    expired = _job("expired", "2026-12-04T09:00:00.000Z", expires_in=-timedelta(minutes=1))
    expiring = _job("expiring", "2026-12-04T08:00:00.000Z", expires_in=REUSE_MARGIN - timedelta(seconds=1))
    lasting = _job("lasting", "2026-12-04T07:00:00.000Z", expires_in=REUSE_MARGIN + timedelta(minutes=1))
    kept = _job("kept", "2026-12-04T06:00:00.000Z")  # no transcript retention: kept
    assert reusable_job([expired], JobOptions(), now=NOW) is None
    assert reusable_job([expired, expiring], JobOptions(), now=NOW) is None
    # The newest that lasts wins over newer ones about to go.
    assert reusable_job([expired, expiring, lasting, kept], JobOptions(), now=NOW) is lasting
    assert reusable_job([expired, kept], JobOptions(), now=NOW) is kept


def test_a_duplicate_of_an_expiring_original_is_not_reused_either() -> None:
    """Reusing a duplicate points the new job at its original's outputs: those go with the original."""
    original = _job("orig", "2026-12-03T09:00:00.000Z", expires_in=timedelta(minutes=1))
    duplicate = _job(
        "copy", "2026-12-03T10:00:00.000Z", expires_in=timedelta(days=1), duplicate_of="orig",
        outputs=original["outputs"],
    )  # fmt: skip
    assert reusable_job([duplicate, original], JobOptions(), now=NOW) is None
    lasting_original = {**original, "transcript_expires_at": iso_timestamp(NOW + timedelta(days=2))}
    assert reusable_job([duplicate, lasting_original], JobOptions(), now=NOW) is duplicate


def test_a_job_completed_by_reuse_gets_the_retention_fields_of_a_transcribed_one() -> None:
    retention = Retention(audio_days=0, transcript_days=1)
    fields = retention.completion_fields(NOW)
    assert fields["audio_deleted_at"] == iso_timestamp(NOW)  # the caller deleted the audio
    assert fields["transcript_expires_at"] == iso_timestamp(NOW + timedelta(days=1))
    assert fields["retention_due_at"] == fields["transcript_expires_at"] and fields["retention_due"] == "due"
    # Audio gone after the transcript, transcripts kept: nothing for the sweeper, the audio noted.
    assert Retention(audio_days=0).completion_fields(NOW) == {"audio_deleted_at": iso_timestamp(NOW)}


def test_a_failed_expiry_holds_the_record_longer_never_shorter() -> None:
    soon = {"expires_at": int((NOW + timedelta(hours=1)).timestamp())}
    assert held_record_ttl(soon, NOW) == int((NOW + UNCONFIRMED_GRACE).timestamp())
    later = {"expires_at": int((NOW + UNCONFIRMED_GRACE * 2).timestamp())}
    assert held_record_ttl(later, NOW) == later["expires_at"]
