"""Per-tenant retention (transcriber/domain/retention.py): what the CLI accepts and what a job carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from transcriber.domain.retention import Retention


@pytest.mark.parametrize(
    ("audio", "days", "described"),
    [
        (None, None, {"audio": "keep", "transcripts": "keep"}),
        ("after-transcript", None, {"audio": "after-transcript", "transcripts": "keep"}),
        ("7", 30, {"audio": "7 days", "transcripts": "30 days"}),
        ("keep", 1, {"audio": "keep", "transcripts": "1 days"}),
    ],
)
def test_the_cli_values_and_how_they_show(
    audio: str | None, days: int | None, described: dict[str, str]
) -> None:
    retention = Retention.parse(audio, days)
    assert retention.describe() == described
    assert Retention.from_record({"retention": retention.to_record()}) == retention


@pytest.mark.parametrize(
    ("audio", "days"), [("0", None), ("soon", None), ("-1", None), (None, 0), (None, 5000)]
)
def test_nonsense_is_refused_with_a_message(audio: str | None, days: int | None) -> None:
    with pytest.raises(ValueError, match="retention"):
        Retention.parse(audio, days)


def test_a_job_carries_its_deadlines() -> None:
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)
    fields = Retention(audio_days=2, transcript_days=30).upload_fields(now)
    assert fields["audio_expires_at"] == "2026-12-06T12:00:00.000Z"
    done = Retention(audio_days=0, transcript_days=30).completion_fields(now)
    assert done["transcript_expires_at"] == "2027-01-03T12:00:00.000Z"
    assert done["expires_at"] == int(datetime(2027, 1, 4, 12, tzinfo=UTC).timestamp())  # a day of grace
    assert Retention().completion_fields(now) == {} and Retention().upload_fields(now) == {
        "retention": {"audio_days": None, "transcript_days": None}
    }
    assert Retention.from_record(None) == Retention() and not Retention().audio_after_transcript
