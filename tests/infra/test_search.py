"""The search resources in the template: rule -> queue (DLQ, alarm) -> indexer, the route, the
schedule, image functions, and grants limited to the index's prefix."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_SOURCE
from transcriber.domain.search import EVENT_JOB_DELETED


def _function(template: Template, service: str) -> tuple[str, dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    ((logical, fn),) = [
        (k, f)
        for k, f in functions.items()
        if f["Properties"].get("Environment", {}).get("Variables", {}).get("POWERTOOLS_SERVICE_NAME")
        == f"transcriber-{service}"
    ]
    return logical, dict(fn)


def _policy_of(template: Template, function_logical: str) -> list[dict[str, Any]]:
    fn = template.find_resources("AWS::Lambda::Function")[function_logical]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_search_functions_are_container_images_with_the_index_location(template: Template) -> None:
    for service, command in (
        ("search", "functions.search.handler.handler"),
        ("indexer", "functions.indexer.handler.handler"),
        ("searchmaintenance", "functions.indexer.operations.handler"),
    ):
        _, fn = _function(template, service)
        props = fn["Properties"]
        assert props["PackageType"] == "Image"
        assert props["ImageConfig"]["Command"] == [command]
        uri = json.dumps(props["Environment"]["Variables"]["SEARCH_INDEX_URI"])
        assert "s3://" in uri and "/search-index" in uri
    # Each its own image tag: the local runtime finds a function's handler by it.
    uris = [json.dumps(_function(template, name)[1]["Properties"]["Code"]["ImageUri"]) for name in
            ("search", "indexer", "searchmaintenance")]  # fmt: skip
    assert len(set(uris)) == 3
    _, maintenance = _function(template, "searchmaintenance")
    assert maintenance["Properties"]["ReservedConcurrentExecutions"] == 1  # compaction never races itself


def test_completed_and_deleted_events_reach_the_indexer_in_batches(template: Template) -> None:
    rules = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if EVENT_JOB_DELETED in json.dumps(r["Properties"].get("EventPattern", {}))
    ]
    ((rule,),) = [rules]
    pattern = rule["Properties"]["EventPattern"]
    assert pattern == {"source": [EVENT_SOURCE], "detail-type": [EVENT_JOB_COMPLETED, EVENT_JOB_DELETED]}
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target
    indexer, _ = _function(template, "indexer")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": {"Ref": indexer},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    queues = template.find_resources("AWS::SQS::Queue")
    (queue,) = [q for k, q in queues.items() if k.startswith("SearchIndexQueue")]
    assert "SearchIndexDeadLetterQueue" in json.dumps(queue["Properties"]["RedrivePolicy"])
    alarms = json.dumps(template.find_resources("AWS::CloudWatch::Alarm"))
    assert "SearchIndexDeadLetterQueue" in alarms


def test_get_v1_search_goes_to_the_search_function(template: Template) -> None:
    search, _ = _function(template, "search")
    methods = template.find_resources("AWS::ApiGateway::Method")
    ((method,),) = [[m for m in methods.values() if m["Properties"]["HttpMethod"] == "GET"]]
    assert method["Properties"]["Integration"]["Type"] == "AWS_PROXY"
    assert search in json.dumps(method["Properties"]["Integration"]["Uri"])
    template.has_resource_properties("AWS::ApiGateway::Resource", {"PathPart": "search"})


def test_maintenance_runs_on_a_schedule(template: Template) -> None:
    maintenance, _ = _function(template, "searchmaintenance")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": Match.string_like_regexp("rate"),
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [maintenance, "Arn"]}})],
        },
    )


def test_search_grants_stay_on_the_index_prefix(template: Template) -> None:
    search, _ = _function(template, "search")
    statements = _policy_of(template, search)
    actions = {a for s in statements for a in _actions(s)}
    # The search function reads (and may create the empty) index and authenticates; it never
    # reads transcripts or the jobs table.
    assert "dynamodb:Query" not in actions and "dynamodb:PutItem" not in actions
    for statement in statements:
        text = json.dumps(statement["Resource"])
        if any(a.startswith("s3:") and a != "s3:ListBucket" for a in _actions(statement)):
            assert "/search-index/*" in text and "transcripts" not in text
        if _actions(statement) == ["s3:ListBucket"]:
            assert "search-index" in json.dumps(statement["Condition"])
