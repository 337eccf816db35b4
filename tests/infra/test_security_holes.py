"""Infrastructure of issue 20's holes: the 413 problem, the tombstones' TTL, stray uploads' expiry."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match, Template

from transcriber.api import problems


def test_a_body_over_10_mb_is_answered_as_problem_json(template: Template) -> None:
    (response,) = template.find_resources(
        "AWS::ApiGateway::GatewayResponse", {"Properties": {"ResponseType": "REQUEST_TOO_LARGE"}}
    ).values()
    props = response["Properties"]
    assert props["StatusCode"] == "413"
    assert props["ResponseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    body = json.loads(props["ResponseTemplates"]["application/json"])
    assert body["status"] == 413 and body["detail"] == problems.REQUEST_TOO_LARGE_DETAIL


def test_deleted_jobs_tombstones_expire(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        },
    )


def test_stray_api_uploads_expire(prod: Template) -> None:
    prod.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Id": "expire-api-uploads", "Prefix": "tenants/", "ExpirationInDays": 30}
                        )
                    ]
                )
            }
        },
    )
