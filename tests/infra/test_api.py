"""The HTTP API's infrastructure: API Gateway in front of the API function, tenants, and grants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import REPO_ROOT, build_app
from infra.config import EnvironmentConfig
from infra.nag import acknowledge_findings

ENVIRONMENTS: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]
API_HANDLER = "functions.api.handler.handler"


def _one(template: Template, kind: str, props: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": props} if props else None)
    assert len(found) == 1, (kind, sorted(found))
    ((logical_id, resource),) = found.items()
    return logical_id, dict(resource)


def _api_function(template: Template) -> tuple[str, dict[str, Any]]:
    return _one(template, "AWS::Lambda::Function", {"Handler": API_HANDLER})


def _table(template: Template, partition_key: str) -> tuple[str, dict[str, Any]]:
    ((name, table),) = [
        (name, t)
        for name, t in template.find_resources("AWS::DynamoDB::Table").items()
        if t["Properties"]["KeySchema"] == [{"AttributeName": partition_key, "KeyType": "HASH"}]
    ]
    return name, dict(table)


def _api_grants(template: Template) -> dict[str, list[dict[str, Any]]]:
    """The API function role's statements, by action."""
    _, fn = _api_function(template)
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                by_action.setdefault(action, []).append(statement)
    return by_action


def _resources(statements: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for statement in statements:
        resource = statement["Resource"]
        out.extend(json.dumps(r) for r in (resource if isinstance(resource, list) else [resource]))
    return out


# The API function --------------------------------------------------------------------------------


def test_the_api_function_gets_its_settings(template: Template) -> None:
    _, fn = _api_function(template)
    props = fn["Properties"]
    assert props["MemorySize"] == 512 and props["Timeout"] == 29  # cdk.json functions.api
    assert props["Runtime"] == "python3.12" and props["TracingConfig"] == {"Mode": "Active"}
    assert len(props["Layers"]) == 1  # the dependencies layer, no ffmpeg
    variables = props["Environment"]["Variables"]
    tenants, _ = _table(template, "pk")
    jobs, _ = _table(template, "job_id")
    assert variables["TENANTS_TABLE"] == {"Ref": tenants}
    assert variables["JOBS_TABLE"] == {"Ref": jobs}
    assert variables["INPUT_BUCKET"]["Ref"].startswith("InputBucket")
    assert variables["RESULTS_BUCKET"]["Ref"].startswith("ResultsBucket")
    assert variables["STATE_MACHINE_ARN"]["Ref"].startswith("TranscriptionStateMachine")
    assert variables["EVENT_BUS_NAME"] == "Transcriber-dev-jobs"
    assert variables["MAX_UPLOAD_BYTES"] == str(500 * 1024 * 1024)
    assert variables["UPLOAD_URL_EXPIRY_S"] == "900"  # presigned uploads live at most 15 minutes
    assert variables["POWERTOOLS_SERVICE_NAME"] == "transcriber-api"


def test_the_tenants_table_expires_usage_counters(template: Template, prod: Template) -> None:
    _, tenants = _table(template, "pk")
    props = tenants["Properties"]
    assert props["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    _, prod_tenants = _table(prod, "pk")
    assert prod_tenants["DeletionPolicy"] == "Retain"
    assert prod_tenants["Properties"]["SSESpecification"]["SSEType"] == "KMS"


def test_the_jobs_table_lists_a_tenants_jobs_newest_first(template: Template) -> None:
    _, jobs = _table(template, "job_id")
    indexes = {i["IndexName"]: i for i in jobs["Properties"]["GlobalSecondaryIndexes"]}
    assert indexes["by_tenant"]["KeySchema"] == [
        {"AttributeName": "tenant_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert indexes["by_tenant"]["Projection"] == {"ProjectionType": "ALL"}
    attributes = {a["AttributeName"]: a["AttributeType"] for a in jobs["Properties"]["AttributeDefinitions"]}
    assert attributes["tenant_id"] == "S" and attributes["created_at"] == "S"


def test_the_api_function_may_do_only_what_it_does(template: Template) -> None:
    grants = _api_grants(template)
    assert set(grants) == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:DeleteObjectVersion",
        "s3:ListBucketVersions",
        "states:StartExecution",
        "states:StopExecution",
        "states:DescribeExecution",
        "events:PutEvents",  # a deletion is announced on the jobs bus (search forgets the job)
    }
    tenants, _ = _table(template, "pk")
    jobs, _ = _table(template, "job_id")
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        tables = sorted(json.loads(r)["Fn::GetAtt"][0] for r in _resources(grants[action]))
        assert tables == sorted([jobs, tenants]), action  # the tables themselves, no index
    # Deleting items: only a tenant's vocabulary, in the tenants table; never a job record.
    assert [json.loads(r)["Fn::GetAtt"][0] for r in _resources(grants["dynamodb:DeleteItem"])] == [tenants]
    queries = _resources(grants["dynamodb:Query"])
    # a tenant's list; and a deleted original's duplicates, by content (transcriber/api/erasure.py)
    assert sorted(q.rsplit("/index/", 1)[1] for q in queries) == ['by_content"]]}', 'by_tenant"]]}']
    assert all(jobs in q for q in queries)

    uploads, copies = sorted(_resources(grants["s3:PutObject"]), key=lambda r: "ResultsBucket" in r)
    assert "InputBucket" in uploads and '"/tenants/*"' in uploads
    assert "ResultsBucket" in copies and '"/transcripts/*"' in copies  # outputs handed to duplicates
    assert sorted(_resources(grants["s3:AbortMultipartUpload"])) == sorted([uploads, copies])
    deletes = _resources(grants["s3:DeleteObject"])
    assert len(deletes) == 3
    (input_deletes,) = [json.loads(d) for d in deletes if "InputBucket" in d]
    assert input_deletes["Fn::Join"][1][1] == "/*"  # a bucket-dropped job's audio may have any key
    # every version of it (prod versions the input bucket), found by listing that bucket's versions
    assert [json.loads(d) for d in _resources(grants["s3:DeleteObjectVersion"])] == [input_deletes]
    (versions,) = _resources(grants["s3:ListBucketVersions"])
    assert json.loads(versions)["Fn::GetAtt"][0].startswith("InputBucket")
    assert sorted(d.rsplit('"/', 1)[1] for d in deletes if "ResultsBucket" in d) == [
        'transcripts/*"]]}',
        'work/*"]]}',
    ]
    # Transcripts to return, and the original recording for the player (GET .../audio).
    (transcripts,) = [r for r in _resources(grants["s3:GetObject"]) if "ResultsBucket" in r]
    assert '"/transcripts/*"' in transcripts
    (recordings,) = [json.loads(r) for r in _resources(grants["s3:GetObject"]) if "InputBucket" in r]
    assert recordings["Fn::Join"][1][1] == "/*" and len(_resources(grants["s3:GetObject"])) == 2
    (listing,) = [g for g in grants["s3:ListBucket"] if "Condition" in g]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["work/*", "transcripts/*"]}}
    assert listing["Resource"]["Fn::GetAtt"][0].startswith("ResultsBucket")
    # HEAD of a gone recording is a 404 (410 to the caller), not a 403: ListBucket on the input bucket.
    (input_listing,) = [g for g in grants["s3:ListBucket"] if "Condition" not in g]
    assert input_listing["Resource"]["Fn::GetAtt"][0].startswith("InputBucket")
    assert len(grants["s3:ListBucket"]) == 2

    (start,) = _resources(grants["states:StartExecution"])
    assert json.loads(start)["Ref"].startswith("TranscriptionStateMachine")
    for action in ("states:StopExecution", "states:DescribeExecution"):
        (execution,) = _resources(grants[action])
        assert ":execution:" in execution and "TranscriptionStateMachine" in execution


def test_no_api_grant_has_a_wildcard_action(template: Template, prod: Template) -> None:
    for t in (template, prod):
        for action in _api_grants(t):
            assert "*" not in action, action


def test_the_api_function_may_use_the_customer_key_in_prod(template: Template, prod: Template) -> None:
    assert not [a for a in _api_grants(template) if a.startswith("kms:")]
    kms = {a for a in _api_grants(prod) if a.startswith("kms:")}
    assert kms == {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}


# API Gateway -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("env_name", "rate", "burst"), [("dev", 10, 20), ("prod", 200, 400)])
def test_the_stage_is_throttled_logged_and_traced(
    env_name: str, rate: int, burst: int, template: Template, prod: Template
) -> None:
    t = {"dev": template, "prod": prod}[env_name]
    assert (rate, burst) == tuple(ENVIRONMENTS[env_name]["api"].values())
    _, stage = _one(t, "AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert props["StageName"] == env_name
    assert props["TracingEnabled"] is True
    (settings,) = props["MethodSettings"]
    assert settings == {
        "HttpMethod": "*",
        "ResourcePath": "/*",
        "ThrottlingRateLimit": rate,
        "ThrottlingBurstLimit": burst,
        "LoggingLevel": "ERROR",
        "DataTraceEnabled": False,  # request and response bodies (and bearer keys) stay out of logs
        "MetricsEnabled": True,
    }
    access_logs = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    groups = t.find_resources("AWS::Logs::LogGroup")
    retention = ENVIRONMENTS[env_name]["log_retention_days"]
    assert groups[access_logs]["Properties"]["RetentionInDays"] == retention
    fields = json.loads(props["AccessLogSetting"]["Format"])
    assert {"requestId", "ip", "httpMethod", "path", "status", "responseLatency"} <= set(fields)
    # API Gateway's execution-log group is the stack's, with its retention, before the stage exists.
    execution_logs = [
        (name, g)
        for name, g in groups.items()
        if "API-Gateway-Execution-Logs_" in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]
    ((name, group),) = execution_logs
    assert f'"/{env_name}"' in json.dumps(group["Properties"]["LogGroupName"])
    assert name in stage["DependsOn"]


def test_every_request_goes_to_the_api_function(template: Template) -> None:
    function_id, _ = _api_function(template)
    methods = template.find_resources("AWS::ApiGateway::Method")
    # GET /v1/search goes to the search function (tests/infra/test_search.py), nothing else does.
    search = {k: m for k, m in methods.items() if m["Properties"]["HttpMethod"] == "GET"}
    ((search_method,),) = [tuple(search.values())]
    assert "search" in json.dumps(search_method["Properties"]["ResourceId"])
    methods = {k: m for k, m in methods.items() if k not in search}
    assert len(methods) == 3  # ANY /, ANY /{proxy+} and ANY /v1/{proxy+}: the function routes /v1/...
    for method in methods.values():
        props = method["Properties"]
        assert props["HttpMethod"] == "ANY"
        # Authentication is the function's (hashed bearer keys in the tenants table).
        assert props["AuthorizationType"] == "NONE"
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert function_id in json.dumps(props["Integration"]["Uri"])
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "{proxy+}"})
    # No API Gateway keys or usage plans: tenants' keys, limits and quotas live in DynamoDB.
    for kind in ("AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::Authorizer"):
        assert template.find_resources(kind) == {}
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {"Principal": "apigateway.amazonaws.com", "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]}},
    )


def test_the_api_is_regional_and_takes_json_and_forms_only(template: Template) -> None:
    _, api = _one(template, "AWS::ApiGateway::RestApi")
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    # Audio goes to S3 through the presigned URL, inline as base64 in JSON, or in a multipart form
    # (issue 17), which API Gateway must pass base64-encoded: that is the only binary type.
    assert api["Properties"]["BinaryMediaTypes"] == ["multipart/form-data"]


def test_the_cloudwatch_role_for_api_gateway_logs_is_kept(template: Template) -> None:
    _, account = _one(template, "AWS::ApiGateway::Account")
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    # Account-wide: other APIs in the account log through it after this stack is gone.
    assert template.find_resources("AWS::IAM::Role")[role]["DeletionPolicy"] == "Retain"
    assert account["DeletionPolicy"] == "Retain"


def test_the_outputs_name_the_api(template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    function_id, _ = _api_function(template)
    tenants, _ = _table(template, "pk")
    assert outputs["ApiFunctionName"]["Value"] == {"Ref": function_id}
    assert outputs["TenantsTableName"]["Value"] == {"Ref": tenants}
    parts = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert parts[0] == "https://" and parts[-1] == "/dev/"
    # No output refers to the stage: moto (the local runtime) skips AWS::ApiGateway::Stage.
    stage_id, _ = _one(template, "AWS::ApiGateway::Stage")
    assert stage_id not in json.dumps(outputs)


# Settings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api": {"throttle_rate_per_s": 10}}, r"api: unknown keys \[\], missing \['throttle_burst'\]"),
        ({"api": {"throttle_rate_per_s": 0, "throttle_burst": 20}}, "throttle_rate_per_s must be above 0"),
        ({"api": {"throttle_rate_per_s": 10, "throttle_burst": 0}}, "throttle_burst must be at least 1"),
        ({"api": {"throttle_rate_per_s": "10", "throttle_burst": 20}}, "throttle_rate_per_s must be"),
        ({"api": {"throttle_rate_per_s": 10, "throttle_burst": 2.5}}, "throttle_burst must be"),
        (
            {"functions": {**ENVIRONMENTS["dev"]["functions"], "api": {"memory_mb": 512, "timeout_s": 60}}},
            r"functions.api.timeout_s must be at most 29",
        ),
        (
            {"functions": {k: v for k, v in ENVIRONMENTS["dev"]["functions"].items() if k != "notifier"}},
            "functions must set exactly",
        ),
    ],
)
def test_a_mistake_in_the_api_settings_is_an_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.from_context("dev", ENVIRONMENTS, overrides)


def test_every_environment_sizes_the_api_and_notifier_functions() -> None:
    for name in ENVIRONMENTS:
        config = EnvironmentConfig.from_context(name, ENVIRONMENTS)
        assert (config.function("api").memory_mb, config.function("api").timeout_s) == (512, 29)
        assert (config.function("notifier").memory_mb, config.function("notifier").timeout_s) == (256, 60)
    rates = {n: EnvironmentConfig.from_context(n, ENVIRONMENTS).api.throttle_rate_per_s for n in ENVIRONMENTS}
    assert rates["dev"] < rates["staging"] < rates["prod"]


# cdk-nag -----------------------------------------------------------------------------------------


def test_the_api_findings_are_acknowledged_with_reasons(tmp_path: Path) -> None:
    _, stack = build_app("dev", outdir=str(tmp_path))
    accepted = {(a.where, a.finding): a.reason for a in acknowledge_findings(stack)}
    for where, finding in (
        ("Api/RestApi", "AwsSolutions-APIG2"),
        ("Api/RestApi methods", "AwsSolutions-APIG4"),
        ("Api/RestApi methods", "AwsSolutions-COG4"),
    ):
        assert len(accepted[(where, finding)]) > 80
    assert "Bearer" in accepted[("Api/RestApi methods", "AwsSolutions-APIG4")]
    # The stage has its WAF web ACL now (infra/constructs/firewall.py): nothing to acknowledge.
    assert not [a for (_, finding) in accepted if (a := finding) == "AwsSolutions-APIG3"]


def test_an_authorizer_free_method_outside_the_api_is_still_a_finding(tmp_path: Path) -> None:
    from aws_cdk import aws_apigateway as apigateway

    app, stack = build_app("dev", outdir=str(tmp_path), checks=True)
    other = apigateway.RestApi(stack, "OtherApi", deploy=False)
    other.root.add_method("GET", apigateway.MockIntegration())
    with pytest.raises(Exception, match="AwsSolutions-APIG4"):
        app.synth()
