"""GET /v1/transcriptions/{id}/audio on moto: a presigned GET of the tenant's own original upload."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.handlers.conftest import Aws, api_service
from tests.handlers.test_api_service import TENANT
from transcriber.adapters.jobs_table import JobRepository
from transcriber.api import problems
from transcriber.domain.tenants import Tenant

OTHER = Tenant(tenant_id="globex", webhook_secret="whsec_y", jobs_per_day=10, requests_per_minute=10)
KEY = "tenants/acme/jobs/c/talk.flac"


def _job(job_id: str, status: str = "COMPLETED") -> None:
    JobRepository("jobs").create(
        {"job_id": job_id, "tenant_id": "acme", "status": status, "bucket": "uploads", "key": KEY}
    )


def test_the_owner_gets_a_presigned_get_of_the_original(aws: Aws) -> None:
    aws.s3.put_object(Bucket="uploads", Key=KEY, Body=b"fLaC...")
    _job("c" * 32)
    answer = api_service().audio(TENANT, "c" * 32)
    url = urllib.parse.urlsplit(answer["url"])
    assert url.path.endswith("/" + KEY) or urllib.parse.unquote(url.path).endswith(KEY)
    assert "Signature" in url.query and answer["expires_in"] > 0


def test_another_tenants_job_is_not_found(aws: Aws) -> None:
    aws.s3.put_object(Bucket="uploads", Key=KEY, Body=b"fLaC...")
    _job("d" * 32)
    with pytest.raises(problems.NotFound):
        api_service().audio(OTHER, "d" * 32)


def test_audio_that_is_gone_is_410_and_one_not_uploaded_yet_is_409(aws: Aws) -> None:
    _job("e" * 32)  # no object in the bucket
    with pytest.raises(problems.Gone) as gone:
        api_service().audio(TENANT, "e" * 32)
    assert gone.value.status == 410 and "gone" in gone.value.body()["detail"]
    _job("f" * 32, status="AWAITING_UPLOAD")
    with pytest.raises(problems.Conflict):
        api_service().audio(TENANT, "f" * 32)
