"""The events contract: every event a real local run emits matches its schema in docs/events/.

Three uploads through the deployed stack cover all five lifecycle event types: a speech file
(created, started, progress, completed), a text file named .mp3 (failed at intake) and a file that
sniffs as FLAC but does not decode (created, then failed inside the state machine). A job deleted
through the HTTP API covers the sixth, Deleted.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from localrun.pipeline import LocalPipeline
from tests.integration.conftest import Api, EventTap
from transcriber.domain.jobs import (
    EVENT_JOB_COMPLETED,
    EVENT_JOB_CREATED,
    EVENT_JOB_FAILED,
    EVENT_JOB_PROGRESS,
    EVENT_JOB_STARTED,
    JOB_EVENT_TYPES,
    crosses_progress_step,
)
from transcriber.domain.options import JobOptions
from transcriber.domain.search import EVENT_JOB_DELETED

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"
# Anything that would make an event large or leak content: the contract keeps these out.
FORBIDDEN_DETAIL_KEYS = {"transcript", "text", "segments_text", "words"}
MAX_DETAIL_BYTES = 2048


def _validators() -> dict[str, jsonschema.Draft202012Validator]:
    validators = {}
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        validators[schema["properties"]["detail-type"]["const"]] = jsonschema.Draft202012Validator(schema)
    return validators


@pytest.fixture(scope="module")
def runs(pipeline: LocalPipeline, event_tap: EventTap, sample_flac: Path, tmp_path_factory: Any) -> dict:
    folder = tmp_path_factory.mktemp("contract")
    fake = folder / "minutes.mp3"
    fake.write_text("Meeting minutes, not audio.\n" * 20)
    broken = folder / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(range(256)) * 64)
    submissions = {
        # A fresh transcription even if the session already transcribed the sample.
        "speech": pipeline.submit(sample_flac, key="contract/speech.flac", options=JobOptions(dedupe=False)),
        "not-audio": pipeline.submit(fake, key="contract/minutes.mp3"),
        "corrupt": pipeline.submit(broken, key="contract/broken.flac"),
    }
    jobs = {name: pipeline.wait(s.job_id, timeout_s=300) for name, s in submissions.items()}
    last = {"COMPLETED": "Transcription Job Completed", "FAILED": "Transcription Job Failed"}
    events = {
        name: event_tap.until(s.job_id, last.get(jobs[name]["status"], "")) for name, s in submissions.items()
    }
    return {"jobs": jobs, "events": events}


def test_every_emitted_event_matches_its_schema(runs: dict) -> None:
    validators = _validators()
    assert set(validators) == {*JOB_EVENT_TYPES, EVENT_JOB_DELETED}
    seen = set()
    for events in runs["events"].values():
        for event in events:
            validators[event["detail-type"]].validate(event)
            assert not FORBIDDEN_DETAIL_KEYS & set(event["detail"])
            assert len(json.dumps(event["detail"])) < MAX_DETAIL_BYTES
            seen.add(event["detail-type"])
    assert seen == set(JOB_EVENT_TYPES)  # the run really exercised all five


def test_a_transcribed_job_tells_its_whole_story(runs: dict) -> None:
    job = runs["jobs"]["speech"]
    assert job["status"] == "COMPLETED"
    events = sorted(runs["events"]["speech"], key=lambda e: e["detail"]["occurred_at"])
    kinds = [e["detail-type"] for e in events]
    assert (
        kinds[0] == EVENT_JOB_CREATED and kinds[1] == EVENT_JOB_STARTED and kinds[-1] == EVENT_JOB_COMPLETED
    )
    total = job["chunks_total"]
    progress = [e["detail"] for e in events if e["detail-type"] == EVENT_JOB_PROGRESS]
    expected = [d for d in range(1, total + 1) if crosses_progress_step(d, total)]
    assert sorted(p["chunks_done"] for p in progress) == expected
    assert max(p["progress"] for p in progress) == 100
    completed = events[-1]["detail"]
    assert completed["outputs"] == job["outputs"]
    assert completed["bucket"] == job["bucket"] and completed["key"] == job["key"] == "contract/speech.flac"


def test_failed_jobs_carry_their_reason(runs: dict) -> None:
    rejected = runs["events"]["not-audio"]
    assert [e["detail-type"] for e in rejected] == [EVENT_JOB_FAILED]
    assert rejected[0]["detail"]["reason_code"] == runs["jobs"]["not-audio"]["reason_code"]

    corrupt = runs["events"]["corrupt"]
    kinds = [e["detail-type"] for e in corrupt]
    assert kinds.count(EVENT_JOB_CREATED) == 1 and kinds.count(EVENT_JOB_FAILED) == 1
    failed = next(e["detail"] for e in corrupt if e["detail-type"] == EVENT_JOB_FAILED)
    assert failed["reason_code"] == runs["jobs"]["corrupt"]["reason_code"] != "INTERNAL_ERROR"


def test_a_deletion_through_the_api_emits_an_event_that_matches_its_schema(
    api: Api, event_tap: EventTap
) -> None:
    owner = api.tenant(f"contract-{uuid.uuid4().hex[:6]}")
    created = api.create(owner, filename="call.mp3", size=1024)
    assert created.status == 201, created.body
    job_id = created.json()["job_id"]
    assert api.http.request("DELETE", f"/v1/transcriptions/{job_id}", key=owner.key).status in (200, 204)
    (event,) = [
        e for e in event_tap.until(job_id, EVENT_JOB_DELETED) if e["detail-type"] == EVENT_JOB_DELETED
    ]
    _validators()[EVENT_JOB_DELETED].validate(event)
    assert event["detail"]["tenant_id"] == owner.tenant_id
    assert not FORBIDDEN_DETAIL_KEYS & set(event["detail"])
