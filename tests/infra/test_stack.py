"""The synthesized template: what the pipeline relies on is really in it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from infra.app import REPO_ROOT, build_app
from infra.config import EnvironmentConfig
from infra.nag import acknowledge_findings
from infra.stack import TranscriptionStack


def _definition(template: Template) -> dict[str, Any]:
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    (machine,) = machines.values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "ARN" for p in parts)
    return dict(json.loads(text))


def test_input_bucket_notifies_ingest_on_object_created(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {
            "NotificationConfiguration": {
                "LambdaFunctionConfigurations": [Match.object_like({"Events": ["s3:ObjectCreated:*"]})]
            }
        },
    )


def test_state_machine_chunks_fans_out_and_aggregates(template: Template) -> None:
    definition = _definition(template)
    states = definition["States"]
    assert definition["StartAt"] == "ChunkAudio"
    assert states["ChunkAudio"]["Next"] == "LanguageRequested"
    fan_out = states["TranscribeChunks"]
    assert fan_out["Type"] == "Map"
    assert fan_out["MaxConcurrency"] == 4  # dev's map_max_concurrency in cdk.json
    # A Distributed Map: its items come from the chunk manifest in S3, one Express child per chunk
    assert "ItemsPath" not in fan_out
    assert fan_out["ItemReader"] == {
        "Resource": "arn:ARN:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.audio.manifest.bucket", "Key.$": "$.audio.manifest.key"},
    }
    assert fan_out["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    # no failed chunk tolerated (0, the default, which CDK leaves out)
    assert fan_out.get("ToleratedFailureCount", 0) == 0 and fan_out.get("ToleratedFailurePercentage", 0) == 0
    assert fan_out["ItemSelector"]["chunk.$"] == "$$.Map.Item.Value"
    # after the Map: aggregate, unless speaker labels first need their clustering step
    assert fan_out["Next"] == "SpeakerLabelsRequested"
    assert states["SpeakerLabelsRequested"]["Default"] == "AggregateTranscript"
    assert "ResultPath" in fan_out and fan_out["ResultPath"] is None  # transcripts are found in S3
    assert states["AggregateTranscript"]["Parameters"]["manifest.$"] == "$.audio.manifest"
    # it may answer REDO: this state machine sends the overruled chunks back through RedoChunks
    assert states["AggregateTranscript"]["Parameters"]["redo_allowed"] is True
    inner = fan_out["ItemProcessor"]["States"]["TranscribeChunk"]
    retry, throttles = inner["Retry"]  # transient errors, then Lambda's throttles (tested below)
    assert throttles["ErrorEquals"] == ["Lambda.TooManyRequestsException"]
    assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2 and retry["MaxAttempts"] == 4
    assert "RetryableError" in retry["ErrorEquals"]
    assert "States.ALL" not in retry["ErrorEquals"]  # permanent errors are never retried
    for name in ("ChunkAudio", "TranscribeChunks", "RedoChunks", "AggregateTranscript"):
        assert states[name]["Catch"][0]["Next"] == "MarkFailed"
    assert states["MarkFailed"]["Next"] == "JobFailed"
    # MarkFailed retries what a retry can fix (its announcement among them), never a permanent error.
    mark_failed_retries = [r["ErrorEquals"] for r in states["MarkFailed"]["Retry"]]
    assert any("RetryableError" in errors and "States.ALL" not in errors for errors in mark_failed_retries)
    assert ["Lambda.TooManyRequestsException"] in mark_failed_retries
    assert states["JobFailed"]["Type"] == "Fail"


def test_every_lambda_task_waits_out_throttles_longer_than_a_transient_error(template: Template) -> None:
    """A burst of uploads keeps functions at their concurrency limit for minutes: a throttled
    task of the Standard parent must wait for capacity (about 7 minutes at most), not fail its job
    after ~14 s. A chunk's Express child has a shorter one that fits AWS's 5-minute limit
    (tests/infra/test_review_fixes.py)."""

    def tasks(states: dict[str, Any], *, child: bool = False) -> Iterator[tuple[str, dict[str, Any], bool]]:
        for name, state in states.items():
            if state["Type"] == "Task":  # every task of this workflow invokes a function
                yield name, state, child
            for inner in ("ItemProcessor", "Iterator"):
                if inner in state:
                    yield from tasks(state[inner]["States"], child=True)

    found = {name: (task, child) for name, task, child in tasks(_definition(template)["States"])}
    assert {"ChunkAudio", "TranscribeChunk", "AggregateTranscript", "MarkFailed"} <= set(found)
    assert found["TranscribeChunk"][1] and not found["DiarizeSpeakers"][1]
    for name, (task, child) in found.items():
        throttled = [r for r in task["Retry"] if "Lambda.TooManyRequestsException" in r["ErrorEquals"]]
        assert len(throttled) == 1, name  # one retrier owns throttles, whatever the order
        (retry,) = throttled
        assert retry["ErrorEquals"] == ["Lambda.TooManyRequestsException"], name
        if not child:
            assert retry["MaxAttempts"] >= 8 and retry["MaxDelaySeconds"] == 60, name
        assert retry["JitterStrategy"] == "FULL", name
        others = [r for r in task["Retry"] if r is not retry]
        assert all(r["MaxAttempts"] < retry["MaxAttempts"] for r in others), name


def test_the_language_is_pinned_when_asked_for_and_voted_on_after_the_fan_out_otherwise(
    template: Template,
) -> None:
    """No step before the fan-out waits for a language: each chunk detects its own, the aggregate
    step votes, and chunks it overrules go through RedoChunks before it runs again."""
    states = _definition(template)["States"]
    choice = states["LanguageRequested"]
    assert choice["Type"] == "Choice"
    assert choice["Choices"] == [
        {"Variable": "$.options.language", "IsPresent": True, "Next": "UseRequestedLanguage"},
    ]
    assert choice["Default"] == "DetectWhileTranscribing"
    assert states["DetectWhileTranscribing"]["Parameters"] == {
        "language": "",
        "source": "detected",
        "samples": 0,
    }
    for name in ("UseRequestedLanguage", "DetectWhileTranscribing"):
        assert states[name]["Next"] == "TranscribeChunks" and states[name]["ResultPath"] == "$.language"

    aggregate = states["AggregateTranscript"]
    assert aggregate["ResultPath"] == "$.aggregated" and aggregate["Next"] == "ChunksSentBack"
    sent_back = states["ChunksSentBack"]
    assert sent_back["Choices"] == [
        {"Variable": "$.aggregated.status", "StringEquals": "REDO", "Next": "PinVotedLanguage"}
    ]
    assert states[sent_back["Default"]]["Type"] == "Succeed"
    pin = states["PinVotedLanguage"]
    assert pin["InputPath"] == "$.aggregated.redo.language" and pin["ResultPath"] == "$.language"
    assert pin["Next"] == "RedoChunks"
    redo, fan_out = states["RedoChunks"], states["TranscribeChunks"]
    assert redo["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.aggregated.redo.manifest.bucket",
        "Key.$": "$.aggregated.redo.manifest.key",
    }
    assert redo["ItemSelector"] == fan_out["ItemSelector"]  # the chunk, in the now pinned $.language
    assert redo["ItemProcessor"]["ProcessorConfig"] == fan_out["ItemProcessor"]["ProcessorConfig"]
    assert redo["MaxConcurrency"] == fan_out["MaxConcurrency"]
    (task,) = redo["ItemProcessor"]["States"].values()
    assert task["Retry"] == fan_out["ItemProcessor"]["States"]["TranscribeChunk"]["Retry"]
    assert redo["Next"] == "AggregateTranscript"


def test_state_is_references_not_audio(template: Template) -> None:
    selector = _definition(template)["States"]["TranscribeChunks"]["ItemSelector"]
    assert selector == {
        "job_id.$": "$.job_id",
        "chunk.$": "$$.Map.Item.Value",
        "language.$": "$.language.language",
        "options.$": "$.options",
    }


def test_transcribe_is_a_container_image_with_its_handler(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "PackageType": "Image",
            "ImageConfig": {"Command": ["functions.transcribe.handler.handler"]},
            "Architectures": ["arm64"],
        },
    )


def test_chunk_function_gets_the_ffmpeg_layer(template: Template) -> None:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.chunk.handler.handler"}}
    )
    (chunk,) = functions.values()
    assert len(chunk["Properties"]["Layers"]) == 2
    # transcriber.domain.audio.ffmpeg_path() finds the layer's /opt/bin/ffmpeg by itself.
    assert "FFMPEG_PATH" not in chunk["Properties"]["Environment"]["Variables"]


def test_ingest_has_a_dead_letter_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "functions.ingest.handler.handler", "DeadLetterConfig": {"TargetArn": Match.any_value()}},
    )


def test_buckets_are_private_encrypted_tls_only_and_logged(template: Template) -> None:
    buckets = template.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 5  # input, results, access logs; the web app's files and CloudFront's logs
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # dev: S3-managed
    logged = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert {b["Properties"]["LoggingConfiguration"]["LogFilePrefix"] for b in logged} == {
        "input/",
        "results/",
        "web/",
        "web-logs/",
    }
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 5
    assert all("aws:SecureTransport" in json.dumps(p) for p in policies.values())


def test_jobs_table_has_point_in_time_recovery(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    )


def test_ingest_has_idempotency_records_and_a_content_index(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_content",
                            "KeySchema": [
                                {"AttributeName": "sha256", "KeyType": "HASH"},
                                {"AttributeName": "created_at", "KeyType": "RANGE"},
                            ],
                        }
                    )
                ]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {"IDEMPOTENCY_TABLE": Match.any_value(), "DEDUP_WINDOW_HOURS": "24"}
                )
            }
        },
    )


def test_an_unknown_environment_is_an_error_not_a_default() -> None:
    with pytest.raises(ValueError, match="unknown environment 'prdo'"):
        EnvironmentConfig.from_context("prdo", {"dev": {}, "prod": {}})


def test_prod_retains_data_and_dev_does_not(prod: Template) -> None:
    for table in prod.find_resources("AWS::DynamoDB::Table").values():
        assert table["DeletionPolicy"] == "Retain"
    assert _definition(prod)["States"]["TranscribeChunks"]["MaxConcurrency"] == 40


# Environments ---------------------------------------------------------------------------------


def _bucket(template: Template, logical_prefix: str) -> dict[str, Any]:
    (bucket,) = [
        b for name, b in template.find_resources("AWS::S3::Bucket").items() if name.startswith(logical_prefix)
    ]
    return dict(bucket)


def _rules(bucket: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_dev_destroys_and_prod_retains_every_stateful_resource(template: Template, prod: Template) -> None:
    stateful = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup")
    for kind in stateful:
        assert {r["DeletionPolicy"] for r in template.find_resources(kind).values()} == {"Delete"}
        assert {r["DeletionPolicy"] for r in prod.find_resources(kind).values()} == {"Retain"}


def test_prod_encrypts_with_its_own_key_and_dev_with_service_keys(template: Template, prod: Template) -> None:
    assert template.find_resources("AWS::KMS::Key") == {}
    prod.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    for name in ("InputBucket", "ResultsBucket"):
        (rule,) = _bucket(prod, name)["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["BucketKeyEnabled"] is True
    # S3 cannot deliver access logs into a bucket under a customer key.
    (logs_rule,) = _bucket(prod, "AccessLogsBucket")["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert logs_rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    prod.has_resource_properties(
        "AWS::DynamoDB::Table", {"SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"}}
    )
    for queue in prod.find_resources("AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in queue["Properties"]
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    prod.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_input_bucket_is_versioned_in_prod_only(template: Template, prod: Template) -> None:
    assert "VersioningConfiguration" not in _bucket(template, "InputBucket")["Properties"]
    assert _bucket(prod, "InputBucket")["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    assert _rules(_bucket(prod, "InputBucket"))["expire-old-versions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 30
    }


def test_lifecycle_work_expires_raw_uploads_go_to_glacier_in_prod(template: Template, prod: Template) -> None:
    for t in (template, prod):
        work = _rules(_bucket(t, "ResultsBucket"))["expire-work"]
        assert work["Prefix"] == "work/" and work["ExpirationInDays"] == 30
        # transcripts/ is kept: no rule of the results bucket expires anything outside work/.
        assert [r for r in _rules(_bucket(t, "ResultsBucket")).values() if "ExpirationInDays" in r] == [work]
    assert _rules(_bucket(prod, "InputBucket"))["raw-uploads-to-glacier"]["Transitions"] == [
        {"StorageClass": "GLACIER", "TransitionInDays": 90}
    ]
    assert "raw-uploads-to-glacier" not in _rules(_bucket(template, "InputBucket"))


def test_settings_reach_functions_logs_and_map(template: Template, prod: Template) -> None:
    for t, retention, concurrency in ((template, 7, 4), (prod, 365, 40)):
        assert {
            g["Properties"]["RetentionInDays"] for g in t.find_resources("AWS::Logs::LogGroup").values()
        } == {retention}
        assert _definition(t)["States"]["TranscribeChunks"]["MaxConcurrency"] == concurrency
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "functions.chunk.handler.handler", "MemorySize": 1769, "Timeout": 900},
    )
    template.has_resource_properties(
        "AWS::Lambda::Function", {"PackageType": "Image", "MemorySize": 1769, "Timeout": 900}
    )


def test_architecture_is_selectable(tmp_path_factory: pytest.TempPathFactory) -> None:
    _, stack = build_app(
        "dev", overrides={"architecture": "x86_64"}, outdir=str(tmp_path_factory.mktemp("x86"))
    )
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    ours = [
        f
        for name, f in functions.items()
        if "Architectures" in f["Properties"] and not name.startswith("CustomCDKBucketDeployment")
    ]
    # ingest, chunk, transcribe, aggregate, fail, sweeper, api, notifier, search, indexer, search
    # maintenance, live, pusher
    assert len(ours) == 13
    assert all(f["Properties"]["Architectures"] == ["x86_64"] for f in ours)


ENVIRONMENTS: dict[str, Any] = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"retain_dat": True}, r"unknown keys \['retain_dat'\]"),
        ({"retain_data": "yes"}, "retain_data must be"),
        ({"map_max_concurrency": True}, "map_max_concurrency must be"),
        ({"architecture": "arm"}, "architecture must be one of"),
        ({"log_retention_days": 10}, "log_retention_days must be one of"),
        ({"functions": {"ingest": {"memory_mb": 512, "timeout_s": 300}}}, "functions must set exactly"),
        ({"lifecycle": {"work_expiry_days": 30}}, r"lifecycle: unknown keys \[\], missing"),
        (
            {"alarms": {**ENVIRONMENTS["dev"]["alarms"], "throttles": 0}},
            "alarms.throttles must be at least 1",
        ),
    ],
)
def test_a_mistake_in_the_settings_is_an_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnvironmentConfig.from_context("dev", ENVIRONMENTS, overrides)


# Security -------------------------------------------------------------------------------------


def _statements(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Policy statements by the role they are attached to."""
    out: dict[str, list[dict[str, Any]]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for role in policy["Properties"]["Roles"]:
            out.setdefault(role["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return out


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_no_role_has_a_wildcard_action_beyond_what_cdk_nag_acknowledges(prod: Template) -> None:
    for role, statements in _statements(prod).items():
        for statement in statements:
            for action in _actions(statement):
                assert action != "*" and not action.endswith(":*"), (role, action)
                if "*" in action and not role.startswith("CustomCDKBucketDeployment"):
                    # Only the X-Ray and log-delivery APIs, which have no resource-level permissions
                    # (and CDK's BucketDeployment copier, acknowledged in infra/nag_web.py).
                    assert action.startswith(("xray:", "logs:")), (role, action)


def test_each_function_reaches_only_its_prefixes(template: Template) -> None:
    by_role = _statements(template)

    def s3_resources(handler: str) -> dict[str, set[str]]:
        (fn,) = template.find_resources(
            "AWS::Lambda::Function", {"Properties": {"Handler": f"functions.{handler}.handler.handler"}}
        ).values()
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        out: dict[str, set[str]] = {}
        for statement in by_role[role]:
            for action in _actions(statement):
                if action.startswith("s3:"):
                    out.setdefault(action, set()).add(json.dumps(statement["Resource"]))
        return out

    ingest = s3_resources("ingest")
    # deletes only uploads it refuses, with every version of them
    assert set(ingest) == {
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ListBucketVersions",
    }
    assert ingest["s3:DeleteObject"] == ingest["s3:DeleteObjectVersion"] == ingest["s3:GetObject"]
    assert "InputBucket" in str(ingest) and "ResultsBucket" not in str(ingest)
    assert set(s3_resources("fail")) == set()
    aggregate = s3_resources("aggregate")
    assert all("/work/*" in r for r in aggregate["s3:GetObject"])
    # its outputs, and the chunks the language vote sends back (RedoChunks' manifest)
    assert all("/transcripts/*" in r or "/redo/chunk-manifest.json" in r for r in aggregate["s3:PutObject"])
    # "audio: after-transcript" retention deletes every version of an upload, and only uploads
    (versions,) = aggregate["s3:DeleteObjectVersion"]
    (listed,) = aggregate["s3:ListBucketVersions"]
    assert "InputBucket" in versions + listed and "ResultsBucket" not in versions + listed
    chunk = s3_resources("chunk")
    assert all("/work/*" in r for r in chunk["s3:PutObject"])


def test_transcribe_may_list_only_the_work_prefix(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "s3:ListBucket",
                                "Condition": {"StringLike": {"s3:prefix": ["work/*"]}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_queues_are_encrypted_and_tls_only(template: Template) -> None:
    queues = template.find_resources("AWS::SQS::Queue")
    # ingest DLQ, execution-failures DLQ, job outcomes and its DLQ, webhooks and their DLQ, the
    # search index's and its DLQ, live status and its DLQ
    assert len(queues) == 10
    policies = json.dumps(template.find_resources("AWS::SQS::QueuePolicy"))
    for name in queues:
        assert name in policies
    assert "aws:SecureTransport" in policies


@pytest.mark.parametrize("env_name", ["dev", "staging", "prod"])
def test_cdk_nag_finds_nothing_unacknowledged(env_name: str, tmp_path: Path) -> None:
    app, _ = build_app(env_name, outdir=str(tmp_path), checks=True)
    app.synth()  # raises on any AwsSolutions finding that is not acknowledged


def test_acknowledgements_are_scoped_to_their_construct(tmp_path: Path) -> None:
    app, stack = build_app("dev", outdir=str(tmp_path), checks=True)
    # The same wildcard that is accepted for the ingest function is not accepted for fail.
    stack.fail_fn.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[stack.input_bucket.arn_for_objects("*")])
    )
    with pytest.raises(Exception, match="AwsSolutions-IAM5"):
        app.synth()


def test_every_acknowledgement_has_a_reason(prod_stack: tuple[TranscriptionStack, Template]) -> None:
    stack, _ = prod_stack
    accepted = acknowledge_findings(stack)
    assert accepted
    assert all(len(a.reason) > 40 for a in accepted)


# Observability and events --------------------------------------------------------------------


def test_alarms_notify_the_topic(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert all(a["Properties"]["AlarmActions"] for a in alarms.values())
    text = json.dumps(alarms)
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ApproximateNumberOfMessagesVisible"):
        assert metric in text
    # one alarm per function (the API's, notifier's and search's included)
    assert text.count('"Throttles"') == 11
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "Errors", "Dimensions": [{"Name": "FunctionName", "Value": Match.any_value()}]},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Threshold": 3600,
            "Metrics": [
                Match.object_like(
                    {
                        "MetricStat": Match.object_like(
                            {
                                "Stat": "p95",
                                "Metric": Match.object_like(
                                    {"Namespace": "AudioTranscriber", "MetricName": "JobDuration"}
                                ),
                            }
                        )
                    }
                )
            ],
        },
    )
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties("AWS::SNS::Topic", {"DisplayName": "Transcriber-dev alarms"})


def test_abnormal_executions_mark_their_job_failed(template: Template) -> None:
    (rule,) = [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    props = rule["Properties"]
    assert "EventBusName" not in props  # Step Functions reports on the default bus only
    assert props["EventPattern"]["detail-type"] == ["Step Functions Execution Status Change"]
    assert props["EventPattern"]["detail"]["status"] == ["FAILED", "TIMED_OUT", "ABORTED"]
    assert props["EventPattern"]["detail"]["stateMachineArn"] == [{"Ref": Match.any_value()}] or props[
        "EventPattern"
    ]["detail"]["stateMachineArn"][0]["Ref"].startswith("TranscriptionStateMachine")
    (target,) = props["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("FailFunction")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("ExecutionFailuresDeadLetterQueue")
    template.has_resource_properties(
        "AWS::Lambda::Permission", {"Principal": "events.amazonaws.com", "Action": "lambda:InvokeFunction"}
    )


def _outcomes_rule_target(template: Template, rule_prefix: str) -> dict[str, Any]:
    """The one target of the rule that takes completed and failed jobs off the jobs bus."""
    (rule,) = [
        r for name, r in template.find_resources("AWS::Events::Rule").items() if name.startswith(rule_prefix)
    ]
    props = rule["Properties"]
    assert props["EventBusName"] == "Transcriber-dev-jobs"
    assert props["EventPattern"]["detail-type"] == [
        "Transcription Job Completed",
        "Transcription Job Failed",
    ]
    (target,) = props["Targets"]
    return dict(target)


def test_example_consumer_queues_outcomes_with_a_dlq(template: Template) -> None:
    target = _outcomes_rule_target(template, "JobOutcomesRule")
    assert target["Arn"]["Fn::GetAtt"][0].startswith("JobOutcomesQueue")
    assert target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("JobOutcomesDeadLetterQueue")


def test_webhooks_flow_from_the_bus_through_a_queue_to_the_notifier(template: Template) -> None:
    """Completed and failed jobs reach the notifier through SQS (retries, then a DLQ)."""
    target = _outcomes_rule_target(template, "Webhooks")
    assert "DeadLetterConfig" in target
    queue_id = target["Arn"]["Fn::GetAtt"][0]
    queue = template.find_resources("AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 3
    (mapping,) = [
        m
        for m in template.find_resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] == queue_id
    ]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (notifier_id,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "functions.notifier.handler.handler"}}
    )
    assert mapping["Properties"]["FunctionName"] == {"Ref": notifier_id}


# Recovery -------------------------------------------------------------------------------------


def _role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    (fn,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": f"functions.{handler}.handler.handler"}}
    ).values()
    return _statements(template)[fn["Properties"]["Role"]["Fn::GetAtt"][0]]


def test_the_sweeper_runs_every_five_minutes(template: Template) -> None:
    (rule,) = [
        r
        for name, r in template.find_resources("AWS::Events::Rule").items()
        if r["Properties"].get("ScheduleExpression") and not name.startswith("SearchMaintenanceSchedule")
    ]
    props = rule["Properties"]
    assert props["ScheduleExpression"] == "rate(5 minutes)" and props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert target["Arn"]["Fn::GetAtt"][0].startswith("SweeperFunction")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "functions.sweeper.handler.handler",
            "MemorySize": 256,
            "Environment": {"Variables": Match.object_like({"STATE_MACHINE_ARN": Match.any_value()})},
        },
    )


def test_the_jobs_table_finds_stale_jobs_through_a_keys_only_status_index(template: Template) -> None:
    (jobs,) = [
        t
        for t in template.find_resources("AWS::DynamoDB::Table").values()
        if t["Properties"]["KeySchema"] == [{"AttributeName": "job_id", "KeyType": "HASH"}]
    ]
    indexes = {i["IndexName"]: i for i in jobs["Properties"]["GlobalSecondaryIndexes"]}
    assert indexes["by_status"]["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "updated_at", "KeyType": "RANGE"},
    ]
    assert indexes["by_status"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert "by_content" in indexes


def test_the_sweeper_may_do_only_what_it_does(template: Template) -> None:
    by_action: dict[str, list[str]] = {}
    for statement in _role_statements(template, "sweeper"):
        for action in _actions(statement):
            by_action.setdefault(action, []).append(json.dumps(statement["Resource"]))
    assert set(by_action) == {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "events:PutEvents",
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "states:DescribeExecution",
        "states:StartExecution",
        # Tenants' retention (transcriber/stages/expire.py): delete due audio (every version: prod
        # versions the input bucket), transcripts and records.
        "dynamodb:DeleteItem",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ListBucketVersions",
        "s3:ListBucket",
        # ... after a duplicate that reuses an expiring transcript got its own copy of it.
        "s3:GetObject",
        "s3:PutObject",
    }
    indexes = sorted(q.split("/index/")[1].split('"')[0] for q in by_action["dynamodb:Query"])
    assert indexes == ["by_content", "by_retention_due", "by_status"]
    (copies,) = {*by_action["s3:GetObject"], *by_action["s3:PutObject"]}
    assert "/transcripts/*" in copies and "InputBucket" not in copies
    (delete_item,) = by_action["dynamodb:DeleteItem"]
    assert json.loads(delete_item)["Fn::GetAtt"][0].startswith("JobsTable")
    deletes = " ".join(by_action["s3:DeleteObject"])
    assert "InputBucket" in deletes and "/transcripts/*" in deletes and "/work/*" in deletes
    (versions,) = by_action["s3:DeleteObjectVersion"]
    (listed,) = by_action["s3:ListBucketVersions"]
    assert "InputBucket" in versions and "InputBucket" in listed and "ResultsBucket" not in versions + listed
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        (resource,) = by_action[action]
        assert json.loads(resource)["Fn::GetAtt"][0].startswith("JobsTable")  # the table, not an index
    (describe,) = by_action["states:DescribeExecution"]
    assert ":execution:" in describe and "TranscriptionStateMachine" in describe
    (start,) = by_action["states:StartExecution"]
    assert json.loads(start)["Ref"].startswith("TranscriptionStateMachine")


def test_the_sweeper_may_use_the_customer_key_in_prod(prod: Template) -> None:
    actions = {a for s in _role_statements(prod, "sweeper") for a in _actions(s)}
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= actions
