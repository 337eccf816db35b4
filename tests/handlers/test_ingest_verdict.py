"""Ingest behind GuardDuty: the documented scan-result event (tests/unit/test_malware_verdict.py)
through the real handler and moto. A clean verdict starts the job; a threat fails it
MALWARE_DETECTED and deletes the object; an unscannable object fails closed MALWARE_SCAN_FAILED."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from functions.ingest import handler as ingest
from tests.handlers.conftest import Aws, FakeContext
from tests.unit.test_malware_verdict import scan_result_event


def _verdict(aws: Aws, key: str, body: bytes, status: str, threats: Any = None) -> dict[str, Any]:
    aws.s3.put_object(Bucket="uploads", Key=key, Body=body)
    head = aws.s3.head_object(Bucket="uploads", Key=key)
    event = scan_result_event(status, threats=threats)
    event["detail"]["s3ObjectDetails"].update(
        {"bucketName": "uploads", "objectKey": key, "eTag": head["ETag"].strip('"'), "versionId": None}
    )
    return event


def _executions(aws: Aws) -> list[dict[str, Any]]:
    return list(aws.sfn.list_executions(stateMachineArn=aws.state_machine_arn)["executions"])


def test_a_clean_verdict_starts_the_job(aws: Aws, context: FakeContext, sample_flac: Path) -> None:
    event = _verdict(aws, "clean.flac", sample_flac.read_bytes(), "NO_THREATS_FOUND")
    (result,) = ingest.handler(event, context)["jobs"]
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert job["status"] == "PENDING" and job["size"] == sample_flac.stat().st_size
    assert [e["name"] for e in _executions(aws)] == [result["job_id"]]


def test_a_threat_fails_the_job_and_deletes_the_object(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    event = _verdict(
        aws, "eicar.flac", sample_flac.read_bytes(), "THREATS_FOUND", [{"name": "EICAR-Test-File"}]
    )
    (result,) = ingest.handler(event, context)["jobs"]
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert (job["status"], job["reason_code"]) == ("FAILED", "MALWARE_DETECTED")
    assert "EICAR-Test-File" in job["error_message"]
    assert "Contents" not in aws.s3.list_objects_v2(Bucket="uploads")
    assert _executions(aws) == []
    assert [e["detail"]["reason_code"] for e in aws.events()] == ["MALWARE_DETECTED"]


@pytest.mark.parametrize("status", ["UNSUPPORTED", "ACCESS_DENIED", "FAILED"])
def test_an_unscannable_object_fails_closed(
    aws: Aws, context: FakeContext, sample_flac: Path, status: str
) -> None:
    event = _verdict(aws, f"{status}.flac", sample_flac.read_bytes(), status)
    (result,) = ingest.handler(event, context)["jobs"]
    job = aws.table.get_item(Key={"job_id": result["job_id"]})["Item"]
    assert (job["status"], job["reason_code"]) == ("FAILED", "MALWARE_SCAN_FAILED")
    assert _executions(aws) == []


def test_a_verdict_for_an_object_already_gone_starts_nothing(
    aws: Aws, context: FakeContext, sample_flac: Path
) -> None:
    event = _verdict(aws, "gone.flac", sample_flac.read_bytes(), "NO_THREATS_FOUND")
    aws.s3.delete_object(Bucket="uploads", Key="gone.flac")
    (result,) = ingest.handler(event, context)["jobs"]
    assert result["status"] == "GONE" and aws.table.scan()["Count"] == 0 and _executions(aws) == []


def test_a_malformed_verdict_is_refused_before_anything_is_touched(aws: Aws, context: FakeContext) -> None:
    event = scan_result_event("NO_THREATS_FOUND")
    del event["detail"]["s3ObjectDetails"]
    with pytest.raises(Exception, match="s3ObjectDetails"):
        ingest.handler(event, context)
    assert aws.table.scan()["Count"] == 0
