"""The live-status WebSocket API and the web app's hosting, as synthesized."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from localrun.webapp import security_headers
from transcriber.domain.jobs import EVENT_SOURCE, JOB_EVENT_TYPES


def _one(template: Template, kind: str, props: dict[str, Any] | None = None) -> dict[str, Any]:
    found = template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, (kind, list(found))
    return dict(next(iter(found.values())))


def test_a_websocket_api_with_connect_subscribe_and_disconnect(template: Template) -> None:
    api = _one(template, "AWS::ApiGatewayV2::Api", {"ProtocolType": "WEBSOCKET"})
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {
        r["Properties"]["RouteKey"] for r in template.find_resources("AWS::ApiGatewayV2::Route").values()
    }
    assert routes == {"$connect", "$disconnect", "subscribe"}
    stage = _one(template, "AWS::ApiGatewayV2::Stage")["Properties"]
    assert stage["AutoDeploy"] is True and "AccessLogSettings" in stage
    assert json.loads(stage["AccessLogSettings"]["Format"])["connectionId"] == "$context.connectionId"


def test_the_connections_table_expires_and_finds_a_tenants_subscribers(template: Template) -> None:
    table = _one(
        template,
        "AWS::DynamoDB::Table",
        {
            "TimeToLiveSpecification": Match.any_value(),
            "GlobalSecondaryIndexes": Match.array_with([Match.object_like({"IndexName": "by-tenant"})]),
        },
    )
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert [k["AttributeName"] for k in props["KeySchema"]] == ["connection_id", "topic"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_job_event_reaches_the_pusher_through_a_queue(template: Template) -> None:
    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if "live-status" in r["Properties"].get("Description", "")
    ]
    (rule,) = rules
    assert rule["EventPattern"] == {"source": [EVENT_SOURCE], "detail-type": list(JOB_EVENT_TYPES)}
    assert "Arn" in json.dumps(rule["Targets"][0]["Arn"]) and "DeadLetterConfig" in rule["Targets"][0]
    mappings = template.find_resources("AWS::Lambda::EventSourceMapping")
    pusher = [m for m in mappings.values() if "Pusher" in json.dumps(m["Properties"]["FunctionName"])]
    assert len(pusher) == 1 and pusher[0]["Properties"]["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]


def test_the_pusher_may_post_to_connections_of_its_stage_only(template: Template) -> None:
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "execute-api:ManageConnections"
    ]
    (statement,) = statements
    assert "/live/*/@connections/*" in json.dumps(statement["Resource"])


def test_the_web_app_is_a_private_bucket_behind_cloudfront_https_only(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    (web_bucket,) = [b for logical_id, b in buckets.items() if logical_id.startswith("WebAppBucket")]
    assert web_bucket["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    _one(template, "AWS::CloudFront::OriginAccessControl")
    config = _one(template, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    assert {b["PathPattern"]: b["ViewerProtocolPolicy"] for b in config["CacheBehaviors"]} == {
        "/v1/*": "https-only"
    }
    assert config["DefaultRootObject"] == "index.html"
    deployments = template.find_resources("Custom::CDKBucketDeployment")
    assert sorted(d["Properties"].get("DestinationBucketKeyPrefix", "") for d in deployments.values()) == [
        "",
        "sdk-js/src/",
    ]


def test_cloudfront_sends_the_same_security_headers_as_make_serve(template: Template) -> None:
    policy = _one(template, "AWS::CloudFront::ResponseHeadersPolicy")["Properties"][
        "ResponseHeadersPolicyConfig"
    ]
    security = policy["SecurityHeadersConfig"]
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    local = dict(security_headers())["Content-Security-Policy"]
    for directive in local.split("; "):
        name = directive.split(" ", 1)[0]
        if name in ("connect-src", "media-src"):  # plus the deployed bucket and WebSocket origins
            assert f"{directive} https://" in csp or f"{directive} wss://" in csp or directive in csp, (
                directive
            )
        else:
            assert directive in csp, directive
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert security["StrictTransportSecurity"]["AccessControlMaxAgeSec"] == 365 * 24 * 3600


def test_the_pusher_reads_key_revocations_and_connection_records_and_writes_no_tenant_data(
    template: Template,
) -> None:
    """Before each push the pusher reads the connection's record and whether its key was revoked
    (functions/pusher): GetItem on both tables, and nothing that could change the tenants table."""
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if "PusherFunction" in json.dumps(p["Properties"]["Roles"])
    ]
    granted: dict[str, set[str]] = {}
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            for table in ("TenantsTable", "LiveStatusConnectionsTable"):
                if json.dumps(resource).startswith(f'{{"Fn::GetAtt": ["{table}'):
                    granted.setdefault(table, set()).update(actions)
    assert granted["TenantsTable"] == {"dynamodb:GetItem"}
    assert granted["LiveStatusConnectionsTable"] == {
        "dynamodb:GetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:Query",
    }
