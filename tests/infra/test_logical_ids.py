"""Logical ids survive the split of the stack into constructs: a deployed stack is updated in place."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import Construct

from infra.constructs.concern import Concern, keep_flat_logical_ids, make_unique_id

#: The stateful resources' logical ids of the stack before it was split into constructs
#: (synthesized from commit 13c1f15). A new id here means a new, empty bucket, table or queue.
STATEFUL_IDS = {
    "AccessLogsBucket83982689",
    "AggregateLogs7996077A",
    "ApiAccessLogs50B185DB",
    "ApiExecutionLogsB326CF6B",
    "ApiLogs3D05D88B",
    "ChunkLogsDA6234BA",
    "ExecutionFailuresDeadLetterQueue81F35AEE",
    "FailLogsC97F4B37",
    "IdempotencyTable22A5A209",
    "IngestDeadLetterQueue48D59084",
    "IngestLogs7327CBDC",
    "InputBucket3BF8630A",
    "JobEventsCA70BF1D",
    "JobOutcomesDeadLetterQueue0C71932F",
    "JobOutcomesQueueFF7B256F",
    "JobsTable1970BC16",
    "MonitoringAlarmTopicAF62D4F1",
    "NotifierLogs49177D36",
    "ResultsBucketA95A2103",
    "StateMachineLogs3CB16D3C",
    "SweeperLogs977E0681",
    "TenantsTableB701DC57",
    "TranscribeLogs88936FCF",
    "TranscriptionStateMachineDB9F5878",
    "WebhooksDeadLetterQueue1C65998B",
    "WebhooksQueueCBC86013",
    # search (infra/constructs/search.py)
    "SearchIndexQueue617A8B0D",
    "SearchIndexDeadLetterQueueC8467980",
    "SearchLogsF6BCD1F4",
    "IndexerLogs04D62BBC",
    "SearchMaintenanceLogsFACBF170",
    # Added since: live status (issue 19) and the web app's hosting.
    "LiveLogsA0C0099F",
    "LiveStatusAccessLogs1F89906E",
    "LiveStatusConnectionsTable65727D05",
    "LiveStatusDeadLetterQueue396F5E98",
    "LiveStatusQueue2BAA7996",
    "PusherLogsC8C1BA76",
    "WebAppBucketB4CB5D48",
    "WebAppLogsBucket96635922",
}
STATEFUL_TYPES = (
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::Events::EventBus",
    "AWS::SNS::Topic",
    "AWS::StepFunctions::StateMachine",
)
#: Ids CDK derives from another construct's unique id, translated back to the flat tree's.
DERIVED_IDS = {
    "AbnormalExecutionsRuleAllowEventRuleTranscriberdevFailFunction9153C9A46250BCDA",
    "SweeperScheduleAllowEventRuleTranscriberdevSweeperFunctionD03B173AB1D18556",
    "InputBucketAllowBucketNotificationsToTranscriberdevIngestFunction655EEC6FAA63972D",
    "NotifierFunctionSqsEventSourceTranscriberdevWebhooksQueue3EC8D716454AACB4",
}


def _stateful(template: Template) -> set[str]:
    return {name for kind in STATEFUL_TYPES for name in template.find_resources(kind)}


def test_stateful_resources_keep_their_logical_ids(template: Template, prod: Template) -> None:
    assert _stateful(template) == STATEFUL_IDS
    assert _stateful(prod) == STATEFUL_IDS | {"DataKey17AFBB84"}


def test_ids_derived_from_a_moved_construct_are_those_of_the_flat_stack(template: Template) -> None:
    assert set(template.to_json()["Resources"]) >= DERIVED_IDS | {
        "IngestFunction4B2F2EB2",
        "TranscribeFunction36B32E11",
        "ApiFunctionCE271BD4",
        "DependenciesLayerDF300E31",
    }


def _queues(parent: Construct) -> None:
    sqs.Queue(
        parent,
        "Queue",
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=sqs.Queue(parent, "Dead-Letter Queue"), max_receive_count=3
        ),
    )
    inner = Construct(parent, "Inner")
    sqs.Queue(inner, "InnerQueue")
    sqs.Queue(Construct(inner, "Default"), "Hidden")


def test_the_scheme_is_cdks_own_without_the_concerns() -> None:
    app = cdk.App()
    flat = cdk.Stack(app, "Flat-stack")
    _queues(flat)
    grouped = cdk.Stack(app, "Grouped-stack")
    _queues(Concern(grouped, "Messaging"))
    keep_flat_logical_ids(grouped)
    expected = set(app.synth().get_stack_by_name("Flat-stack").template["Resources"])
    assert set(app.synth().get_stack_by_name("Grouped-stack").template["Resources"]) == expected
    for element in flat.node.find_all():
        if isinstance(element, cdk.CfnElement):
            components = [s.node.id for s in element.node.scopes[2:]]  # below the stack
            assert make_unique_id(components) == flat.get_logical_id(element)


def test_two_concerns_may_not_hold_the_same_id() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Clash")
    sqs.Queue(Concern(stack, "First"), "Queue")
    sqs.Queue(Concern(stack, "Second"), "Queue")
    with pytest.raises(ValueError, match="is already"):
        keep_flat_logical_ids(stack)


def test_the_chunk_length_setting_has_one_name(template: Template) -> None:
    (chunk,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "functions.chunk.handler.handler"
    ]
    variables = chunk["Properties"]["Environment"]["Variables"]
    assert variables["MAX_CHUNK_SECONDS"] == "30"  # cdk.json's max_chunk_seconds
    assert "CHUNK_MAX_SECONDS" not in variables


def test_an_element_that_makes_its_own_id_from_its_path_may_not_be_in_a_concern() -> None:
    stack = cdk.Stack(cdk.App(), "Own")
    sqs.CfnQueue(Concern(stack, "Messaging"), "Queue").override_logical_id("MessagingQueueWithAHash")
    with pytest.raises(ValueError, match="keep it out of concerns"):
        keep_flat_logical_ids(stack)
