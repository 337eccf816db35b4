"""The controls of issue 20 on the local stack and in the synthesized prod template: WAF and
GuardDuty resources (prod), the scan verdict through the deployed ingest, retention (audio gone once
transcribed), and tenant isolation on every route of transcriber/api/routes.py."""

from __future__ import annotations

import base64
import copy
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from localrun.pipeline import LocalPipeline
from localrun.synth import synthesize
from tests.integration.conftest import Api, ApiTenant
from tests.unit.test_malware_verdict import scan_result_event
from transcriber.adapters.ffmpeg import ffmpeg_path
from transcriber.api.routes import openapi_document
from transcriber.domain.retention import Retention

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = REPO_ROOT / "samples" / "sample.flac"


# The synthesized prod template -----------------------------------------------------------------


@pytest.fixture(scope="module")
def prod_template() -> dict[str, Any]:
    assembly, stack_name = synthesize("prod")
    return dict(json.loads((assembly / f"{stack_name}.template.json").read_text()))


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_prod_has_a_web_acl_on_the_api_stage_with_a_rate_rule_and_an_alarm(
    prod_template: dict[str, Any],
) -> None:
    config = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]["prod"]
    (acl,) = _of_type(prod_template, "AWS::WAFv2::WebACL")
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    rate = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": config["waf"]["requests_per_5_min_per_ip"]}
    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    (association,) = _of_type(prod_template, "AWS::WAFv2::WebACLAssociation")
    assert "/stages/prod" in json.dumps(association["Properties"]["ResourceArn"])
    alarms = [
        a
        for a in _of_type(prod_template, "AWS::CloudWatch::Alarm")
        if a["Properties"].get("Namespace") == "AWS/WAFV2"
    ]
    assert alarms and alarms[0]["Properties"]["AlarmActions"]


def test_prod_scans_uploads_and_ingest_hears_only_verdicts(prod_template: dict[str, Any]) -> None:
    (plan,) = _of_type(prod_template, "AWS::GuardDuty::MalwareProtectionPlan")
    assert plan["Properties"]["ProtectedResource"]["S3Bucket"]["BucketName"]
    rules = [r for r in _of_type(prod_template, "AWS::Events::Rule") if "aws.guardduty" in json.dumps(r)]
    assert len(rules) == 1 and "IngestFunction" in json.dumps(rules[0]["Properties"]["Targets"])
    notifications = _of_type(prod_template, "Custom::S3BucketNotifications")
    assert not any("IngestFunction" in json.dumps(n) for n in notifications)


def test_prod_users_cannot_choose_their_tenant(prod_template: dict[str, Any]) -> None:
    (pool,) = _of_type(prod_template, "AWS::Cognito::UserPool")
    (tenant_attribute,) = [a for a in pool["Properties"]["Schema"] if a["Name"] == "tenant_id"]
    assert tenant_attribute["Mutable"] is False
    (client,) = _of_type(prod_template, "AWS::Cognito::UserPoolClient")
    assert "custom:tenant_id" not in client["Properties"]["WriteAttributes"]


# The scan verdict through the deployed ingest ----------------------------------------------------


def _ingest_function(pipeline: LocalPipeline) -> str:
    resources = pipeline.aws.client("cloudformation").list_stack_resources(StackName=pipeline.stack_name)
    (name,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::Lambda::Function"
        and r["LogicalResourceId"].startswith("IngestFunction")
    ]
    return str(name)


def test_the_deployed_ingest_acts_on_guardduty_verdicts(pipeline: LocalPipeline) -> None:
    s3, bucket = pipeline.aws.client("s3"), pipeline.stack.input_bucket
    saved = s3.get_bucket_notification_configuration(Bucket=bucket)
    saved.pop("ResponseMetadata", None)
    # As with malware_scanning on: no ObjectCreated notification, only the verdict reaches ingest.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    answers = {}
    try:
        for status, threats in (("NO_THREATS_FOUND", None), ("THREATS_FOUND", [{"name": "EICAR-Test-File"}])):
            key = f"tenants/scan/{status.lower()}-{uuid.uuid4().hex[:6]}.flac"
            s3.put_object(Bucket=bucket, Key=key, Body=SAMPLE.read_bytes())
            event = copy.deepcopy(scan_result_event(status, threats=threats))
            head = s3.head_object(Bucket=bucket, Key=key)
            event["detail"]["s3ObjectDetails"].update(
                {"bucketName": bucket, "objectKey": key, "eTag": head["ETag"].strip('"'), "versionId": None}
            )
            resp = pipeline.aws.client("lambda").invoke(
                FunctionName=_ingest_function(pipeline), Payload=json.dumps(event).encode()
            )
            assert not resp.get("FunctionError"), resp["Payload"].read()
            (answers[status],) = json.loads(resp["Payload"].read())["jobs"]
            answers[status]["key"] = key
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=saved)
    clean, threat = answers["NO_THREATS_FOUND"], answers["THREATS_FOUND"]
    assert clean["started"] is True  # its execution runs; the pipeline tests follow jobs to the end
    started = pipeline.job(clean["job_id"])
    assert started is not None and started["status"] in ("PENDING", "PROCESSING", "COMPLETED")
    record = pipeline.job(threat["job_id"])
    assert record is not None and (record["status"], record["reason_code"]) == ("FAILED", "MALWARE_DETECTED")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=threat["key"])


# Retention -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The sample's first 4 seconds: retention needs a transcript, not a long one."""
    clip = tmp_path_factory.mktemp("clip") / "clip.flac"
    subprocess.run(
        [ffmpeg_path(), "-loglevel", "error", "-i", str(SAMPLE), "-t", "4", str(clip)], check=True, timeout=60
    )
    return clip.read_bytes()


def test_audio_is_gone_once_transcribed_when_the_tenant_asks(
    api: Api, pipeline: LocalPipeline, short_clip: bytes
) -> None:
    tenant_id = f"forget-{uuid.uuid4().hex[:6]}"
    key, _, _ = api.tenants.create_key(tenant_id, retention=Retention.parse("after-transcript", 30))
    settings = api.http.request("GET", "/v1/tenant", key=key).json()
    assert settings["retention"] == {"audio": "after-transcript", "transcripts": "30 days"}
    created = api.http.request(
        "POST",
        "/v1/transcriptions",
        key=key,
        json_body={"filename": "clip.flac", "content_base64": base64.b64encode(short_clip).decode()},
    ).json()
    deadline = time.monotonic() + 300
    while (job := api.http.request("GET", created["links"]["self"], key=key).json())["status"] not in (
        "COMPLETED",
        "FAILED",
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert job["status"] == "COMPLETED" and job["transcript"]["text"]
    listed = pipeline.aws.client("s3").list_objects_v2(
        Bucket=pipeline.stack.input_bucket, Prefix=f"tenants/{tenant_id}/"
    )
    assert "Contents" not in listed  # the audio is gone; the transcript stays
    download = api.http.request("GET", f"{created['links']['self']}/download?format=txt", key=key)
    assert download.status == 200 and download.body


# Tenant isolation on every route -------------------------------------------------------------------

ROUTES = sorted(
    (method.upper(), path)
    for path, operations in openapi_document()["paths"].items()
    for method in operations
)


@pytest.fixture(scope="module")
def owner_job(api: Api) -> tuple[ApiTenant, str]:
    owner = api.tenant(f"owner-{uuid.uuid4().hex[:6]}")
    created = api.http.request(
        "POST", "/v1/transcriptions", key=owner.key, json_body={"filename": "secret.flac", "size": 1000}
    )
    assert created.status == 201, created.body
    return owner, created.json()["job_id"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_another_tenant_gets_nothing_of_a_job(
    api: Api, owner_job: tuple[ApiTenant, str], method: str, path: str
) -> None:
    owner, job_id = owner_job
    intruder = api.tenant(f"intruder-{uuid.uuid4().hex[:6]}")
    concrete = re.sub(r"\{job_id\}", job_id, path)
    body: dict[str, Any] | None = None
    if method == "POST" and "{" not in path:
        body = {"filename": "mine.flac", "size": 1000}
    elif path.endswith("/speakers"):  # a valid body: the refusal must be about whose job it is
        body = {"spk_0": "Intruder"}
    resp = api.http.request(method, concrete, key=intruder.key, json_body=body)
    if "{job_id}" in path:  # the 404 may repeat the id the caller sent, nothing more
        assert resp.status == 404, (method, path, resp.status, resp.body)
    else:
        assert resp.status < 500 and job_id.encode() not in resp.body
    assert owner.tenant_id.encode() not in resp.body and b"secret.flac" not in resp.body
    still = api.http.request("GET", f"/v1/transcriptions/{job_id}", key=owner.key)
    assert still.status == 200 and still.json()["status"] == "AWAITING_UPLOAD"
