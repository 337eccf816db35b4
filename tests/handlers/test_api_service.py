"""The API's service on moto: transcripts too large for one Lambda response go through S3."""

from __future__ import annotations

import json

from tests.handlers.conftest import Aws, api_service
from transcriber.adapters.jobs_table import JobRepository
from transcriber.api.service import RESPONSE_MAX_BYTES
from transcriber.domain.tenants import Tenant

TENANT = Tenant(tenant_id="acme", webhook_secret="whsec_x", jobs_per_day=10, requests_per_minute=10)


def _completed_job(aws: Aws, job_id: str, *, srt: str, document: dict[str, object]) -> None:
    aws.s3.put_object(Bucket="results", Key=f"transcripts/{job_id}/transcript.srt", Body=srt.encode())
    aws.s3.put_object(
        Bucket="results", Key=f"transcripts/{job_id}/transcript.json", Body=json.dumps(document).encode()
    )
    JobRepository("jobs").create(
        {
            "job_id": job_id,
            "tenant_id": "acme",
            "status": "COMPLETED",
            "key": "tenants/acme/jobs/x/talk.flac",
            "filename": "talk.flac",
            "outputs": {
                fmt: f"s3://results/transcripts/{job_id}/transcript.{fmt}" for fmt in ("srt", "json")
            },
        }
    )


def test_a_small_transcript_comes_in_the_response(aws: Aws) -> None:
    job_id = "a" * 32
    segments = [{"id": 1, "start": 0.0, "end": 1.0, "text": "hello there"}]
    _completed_job(
        aws,
        job_id,
        srt="1\n00:00:00,000 --> 00:00:01,000\nhello there\n",
        document={"transcript": "hello there", "language": "en", "duration": 1.0, "segments": segments},
    )
    download = api_service().download(TENANT, job_id, "srt")
    assert download.redirect_url is None and "hello there" in download.body
    assert download.filename == "talk.srt"
    view = api_service().get(TENANT, job_id)
    assert view["transcript"]["segments"] == segments and "transcript" not in view["links"]


def test_a_transcript_over_the_response_limit_is_served_from_s3(aws: Aws) -> None:
    job_id = "b" * 32
    huge = "x" * (RESPONSE_MAX_BYTES + 1)
    _completed_job(aws, job_id, srt=huge, document={"transcript": huge, "segments": []})
    download = api_service().download(TENANT, job_id, "srt")
    assert download.body == "" and download.redirect_url is not None
    assert f"transcripts/{job_id}/transcript.srt" in download.redirect_url
    assert "response-content-disposition" in download.redirect_url
    view = api_service().get(TENANT, job_id)
    assert "transcript" not in view
    assert view["links"]["transcript"] == f"/v1/transcriptions/{job_id}/download?format=json"
