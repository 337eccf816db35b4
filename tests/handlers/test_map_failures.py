"""A chunk that fails for good inside the Distributed Map: the Map reports only
States.ExceedToleratedFailureThreshold, and the job still ends with the chunk's own reason (the
real handlers, the jobs table and S3 in moto)."""

from __future__ import annotations

import pytest

from functions.chunk import handler as chunk
from functions.fail import handler as fail
from functions.transcribe import handler as transcribe
from tests.handlers.conftest import Aws, FakeContext, chunked
from tests.handlers.test_stages import pending_job  # noqa: F401  (the fixture)
from transcriber.domain.errors import InvalidOptionsError

MAP_FAILED = {
    "Error": "States.ExceedToleratedFailureThreshold",
    "Cause": "The specified tolerated failure threshold was exceeded",
}


def test_a_chunk_failing_in_the_map_fails_the_job_with_the_chunks_reason(
    aws: Aws,
    context: FakeContext,
    pending_job: dict,  # noqa: F811
) -> None:
    prepared = chunked(chunk.handler(pending_job, context))
    with pytest.raises(InvalidOptionsError, match="English only"):  # pocketsphinx: English only
        transcribe.handler({"job_id": "job1", "chunk": prepared["chunks"][0], "language": "de"}, context)
    answer = fail.handler({**pending_job, "error": MAP_FAILED}, context)
    assert answer["reason_code"] == "INVALID_OPTIONS"
    job = aws.table.get_item(Key={"job_id": "job1"})["Item"]
    assert job["status"] == "FAILED" and job["reason_code"] == "INVALID_OPTIONS"
    assert "English only" in job["error_message"]
    (failed,) = [e for e in aws.events() if e["detail-type"] == "Transcription Job Failed"]
    assert failed["detail"]["reason_code"] == "INVALID_OPTIONS"
