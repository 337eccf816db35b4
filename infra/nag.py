"""cdk-nag's AwsSolutions checks, and the findings this stack accepts, each with its reason.

Every acknowledgement is scoped to the construct it concerns (a finding elsewhere still fails the
synth) and names the exact finding, including the resource of IAM4/IAM5 findings, so that a new
wildcard is never covered by an old reason. ``ACKNOWLEDGEMENTS`` lists them for the docs and the
report: what is accepted, where, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from infra import nag_web
from infra.constructs.pipeline import REDO_MANIFESTS
from infra.stack import TranscriptionStack
from transcriber.domain.jobs import CHUNK_MANIFEST, WORK_PREFIX


@dataclass(frozen=True)
class Accepted:
    where: str
    finding: str
    reason: str


LAMBDA_BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)
REASONS = {
    "basic-execution": (
        "AWSLambdaBasicExecutionRole allows logs:CreateLogGroup, logs:CreateLogStream and "
        "logs:PutLogEvents on any log group (Resource '*') and nothing else; every function logs to its "
        "own log group, created by the stack with a set retention."
    ),
    "xray": (
        "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions, so "
        "active tracing needs Resource '*' (added by CDK for Tracing.ACTIVE)."
    ),
    "sfn-logs-xray": (
        "Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, DescribeLogGroups ...) "
        "and X-Ray tracing accept no resource-level permissions; AWS documents Resource '*' for both."
    ),
    "lambda-versions": (
        "CDK's LambdaInvoke grants the function ARN and '<arn>:*' so that a version or alias of the same "
        "function can be invoked; no other function is reachable."
    ),
    "chunk-input": (
        "Uploads may have any key in the input bucket; the chunk function only reads them: GetObject, "
        "no list, write or delete."
    ),
    "ingest-input": (
        "Uploads may have any key in the input bucket (a file dropped into it, or tenants/<tenant id>/... "
        "through the API). Ingest reads each one (GetObject) and deletes one it refuses, with every "
        "version of it: a deleted job's upload, one not of its declared size and, where uploads are "
        "scanned, one GuardDuty found a threat in (DeleteObject and DeleteObjectVersion, with "
        "ListBucketVersions on the bucket to find the versions). No write and no other read."
    ),
    "chunk-work": (
        "The chunk function writes each job's converted audio and chunk manifest under work/<job id>/, "
        "the job id known only at run time: PutObject and AbortMultipartUpload, and DeleteObject for a "
        "job deleted while it runs (ListBucket limited to work/). No read there, nothing outside work/."
    ),
    "transcribe-work": (
        "The transcribe function reads a job's converted audio and writes its chunk transcripts under "
        "work/<job id>/, the job id known only at run time: GetObject, PutObject and "
        "AbortMultipartUpload, and DeleteObject for a job deleted while it runs (ListBucket limited to "
        "work/, so that a checkpoint not yet written is a 404). Nothing outside work/."
    ),
    "aggregate-work": (
        "The aggregate function reads a job's chunk transcripts under work/<job id>/, the job id known "
        "only at run time, and deletes the work files the job no longer needs (its converted audio, a "
        "redacting job's chunk transcripts, everything of a job deleted while it runs): GetObject and "
        "DeleteObject (ListBucket limited to work/ and transcripts/). Its one write there is the redo "
        "manifest (below)."
    ),
    "redo-manifests": (
        "When the language vote sends chunks back to be decoded again, the aggregate function writes "
        "their list to work/<job id>/redo/chunk-manifest.json, the job id known only at run time: only "
        "PutObject (one small PUT, never multipart), and only objects of that name."
    ),
    "transcripts": (
        "The aggregate function writes a job's outputs under transcripts/<job id>/, the job id known only "
        "at run time: PutObject and AbortMultipartUpload, and DeleteObject for a job deleted while it "
        "runs. No read there."
    ),
    "runtime": (
        "Python 3.12 is the runtime the dependencies layer (pip --python-version 3.12) and the transcribe "
        "image (public.ecr.aws/lambda/python:3.12) are built and tested for; a runtime upgrade moves all "
        "three together."
    ),
    "dlq-of-rule": (
        "This queue is itself the dead-letter queue of an EventBridge rule target (SQS3 only recognises "
        "queues named in another queue's redrive policy); a DLQ of a DLQ would never be read."
    ),
    "executions": (
        "The sweeper reads the status of a job's latest execution, whose name is known only at run time "
        "(<job id>, or <job id>-r<n> after a retry); only DescribeExecution, and only executions of this "
        "state machine."
    ),
    "api-authentication": (
        "The API function authenticates every request itself: the 'Authorization: Bearer' key is hashed "
        "(SHA-256) and looked up in the tenants table, which also holds the tenant's rate limit and quota; "
        "a missing or unknown key is a 401 before any other work. Callers are programs holding API keys, "
        "not Cognito users, and a Lambda authorizer would repeat the same lookup in a second function."
    ),
    "api-validation": (
        "The API is one {proxy+} integration: the API function validates every request against its "
        "OpenAPI schema (Powertools' resolver) and answers 400/413/415/422 as problem JSON; an API "
        "Gateway request validator could only check the parameters the proxy resource declares, none."
    ),
    "audio-after-transcript": (
        "A tenant whose retention is 'audio: after-transcript' keeps no audio once it is transcribed: "
        "the aggregate stage deletes the job's upload, whose key is known only per job, with every "
        "version of it: DeleteObject and DeleteObjectVersion on the input bucket's objects, and "
        "ListBucketVersions on the bucket to find the versions. No read or write of uploads."
    ),
    "retention-sweep": (
        "The sweeper deletes what a tenant's retention no longer allows, under keys known only per job: "
        "a job's audio (any key of the input bucket) with every version of it (DeleteObject and "
        "DeleteObjectVersion, with ListBucketVersions on the input bucket), and its work/<job id>/ and "
        "transcripts/<job id>/ files (DeleteObject, with ListBucket limited to those two prefixes). "
        "Before an expiring job's outputs go, each duplicate job that reused them gets its own copy "
        "(GetObject and PutObject, only under transcripts/). No read of audio or work files, and no "
        "write outside transcripts/."
    ),
    "guardduty-objects": (
        "GuardDuty Malware Protection for S3 scans and tags every new object of the input bucket, whose "
        "keys are known only at upload: GetObject, GetObjectVersion, GetObjectTagging, "
        "GetObjectVersionTagging, PutObjectTagging and PutObjectVersionTagging on that bucket's objects "
        "only (and, on the bucket itself, PutBucketNotification, GetBucketNotification, "
        "GetBucketLocation and ListBucket), the actions GuardDuty documents; no delete, and no write "
        "but tags (and its one validation object)."
    ),
    "guardduty-rule": (
        "GuardDuty manages its own EventBridge rule, named by AWS with the documented prefix "
        "DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3 and a suffix it chooses; only rule actions, only "
        "rules with that prefix, and (for changes) only rules managed by GuardDuty."
    ),
    "apigw-cloudwatch-role": (
        "API Gateway's account-level CloudWatch role, which the stage's access and execution logs need, "
        "uses AmazonAPIGatewayPushToCloudWatchLogs, the managed policy AWS documents for that role; only "
        "apigateway.amazonaws.com can assume it."
    ),
    "api-uploads": (
        "The API writes uploads under tenants/<tenant id>/ (the presigned PUT URLs it signs, and small "
        "bodies sent inline), with keys known only per request; only PutObject and AbortMultipartUpload, "
        "and only under tenants/."
    ),
    "api-delete-input": (
        "Deleting a job deletes its audio, whose key is wherever it was uploaded (a file dropped into the "
        "bucket may have any key), with every version of it (DeleteObject and DeleteObjectVersion, with "
        "ListBucketVersions on the bucket); the player's presigned GET reads it (GetObject, with "
        "ListBucket on the bucket so that a gone recording is a 404). No write outside tenants/."
    ),
    "api-delete-work": (
        "Deleting a job deletes its intermediate files under work/<job id>/, known only at run time; only "
        "DeleteObject there (and ListBucket limited to the work/ and transcripts/ prefixes)."
    ),
    "api-transcripts": (
        "The API returns a job's outputs from transcripts/<job id>/ (GetObject), rewrites them when the "
        "speakers are renamed and copies them to the duplicates that reused them when the original is "
        "deleted (PutObject and AbortMultipartUpload), and deletes them with the job (DeleteObject); "
        "only under transcripts/."
    ),
    "api-executions": (
        "Deleting a job stops its running execution, whose name is known only at run time (<job id>, or "
        "<job id>-r<n> after a retry); only StopExecution and DescribeExecution, and only executions of "
        "this state machine."
    ),
    "search-index": (
        "The search index is LanceDB's files under search-index/ in the results bucket, named at run "
        "time: the search functions GetObject, PutObject, DeleteObject and AbortMultipartUpload only "
        "there (ListBucket limited to that prefix); the indexer and the maintenance function also "
        "GetObject under transcripts/ to index the transcripts. No other prefix, no other action."
    ),
    "map-children": (
        "The Distributed Map starts one child execution per chunk, named by Step Functions at run time; "
        "the role may describe, stop and redrive only executions of this state machine (its Map Runs' "
        "children), as the Distributed Map requires."
    ),
    "chunk-manifests": (
        "The Distributed Map reads each job's chunk manifest from work/<job id>/chunk-manifest.json, the "
        "job id known only at run time; only GetObject, and only objects of that name."
    ),
    "notifications-handler": (
        "CDK's BucketNotificationsHandler custom resource (it configures the input bucket's S3 "
        "notification at deploy time) is created by CDK with AWSLambdaBasicExecutionRole."
    ),
}


def _accept(scope: IConstruct, finding: str, reason_key: str, where: str, out: list[Accepted]) -> None:
    reason = REASONS[reason_key]
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason))
    out.append(Accepted(where=where, finding=finding, reason=reason))


def acknowledge_findings(stack: TranscriptionStack) -> list[Accepted]:
    """Acknowledge the findings this stack accepts; returns them, with their reasons."""
    accepted: list[Accepted] = []

    def logical_id(construct: IConstruct) -> str:
        default = construct.node.default_child
        assert isinstance(default, cdk.CfnElement)
        # Resolved, not get_logical_id(): that ignores the overrides that keep the ids flat.
        return str(stack.resolve(default.logical_id))

    input_arn = f"<{logical_id(stack.input_bucket)}.Arn>"
    results_arn = f"<{logical_id(stack.results_bucket)}.Arn>"
    zip_functions = {
        "IngestFunction": stack.ingest_fn,
        "ChunkFunction": stack.chunk_fn,
        "AggregateFunction": stack.aggregate_fn,
        "FailFunction": stack.fail_fn,
        "SweeperFunction": stack.sweeper_fn,
        "ApiFunction": stack.api_fn,
        "NotifierFunction": stack.notifier_fn,
        "LiveFunction": stack.live_status.routes_fn,
        "PusherFunction": stack.live_status.pusher_fn,
    }
    search = stack.search
    search_functions: dict[str, lambda_.Function] = {
        "SearchFunction": search.search_fn,
        "IndexerFunction": search.indexer_fn,
        "SearchMaintenanceFunction": search.maintenance_fn,
    }
    functions = {**zip_functions, "TranscribeFunction": stack.transcribe_fn, **search_functions}
    for name, search_fn in search_functions.items():
        for prefix in ("search-index", "transcripts"):
            finding = f"AwsSolutions-IAM5[Resource::{results_arn}/{prefix}/*]"
            if search_fn is not search.search_fn or prefix == "search-index":
                _accept(search_fn, finding, "search-index", name, accepted)
    dlq = search.dead_letter_queue
    _accept(dlq, "AwsSolutions-SQS3", "dlq-of-rule", "SearchIndexDeadLetterQueue", accepted)
    for name, fn in functions.items():
        _accept(fn, LAMBDA_BASIC_EXECUTION, "basic-execution", name, accepted)
        _accept(fn, "AwsSolutions-IAM5[Resource::*]", "xray", name, accepted)
    for name, fn in zip_functions.items():
        _accept(fn, "AwsSolutions-L1", "runtime", name, accepted)
    for fn, reason, name in (
        (stack.ingest_fn, "ingest-input", "IngestFunction"),
        (stack.chunk_fn, "chunk-input", "ChunkFunction"),
    ):
        _accept(fn, f"AwsSolutions-IAM5[Resource::{input_arn}/*]", reason, name, accepted)
    _accept(
        stack.aggregate_fn,
        f"AwsSolutions-IAM5[Resource::{input_arn}/*]",
        "audio-after-transcript",
        "AggregateFunction",
        accepted,
    )
    for finding in (f"{input_arn}/*", f"{results_arn}/transcripts/*", f"{results_arn}/work/*"):
        _accept(
            stack.sweeper_fn,
            f"AwsSolutions-IAM5[Resource::{finding}]",
            "retention-sweep",
            "SweeperFunction",
            accepted,
        )
    for fn, reason, name in (
        (stack.chunk_fn, "chunk-work", "ChunkFunction"),
        (stack.transcribe_fn, "transcribe-work", "TranscribeFunction"),
        (stack.aggregate_fn, "aggregate-work", "AggregateFunction"),
    ):
        _accept(fn, f"AwsSolutions-IAM5[Resource::{results_arn}/work/*]", reason, name, accepted)
    _accept(
        stack.aggregate_fn,
        f"AwsSolutions-IAM5[Resource::{results_arn}/transcripts/*]",
        "transcripts",
        "AggregateFunction",
        accepted,
    )
    _accept(
        stack.aggregate_fn,
        f"AwsSolutions-IAM5[Resource::{results_arn}/{REDO_MANIFESTS}]",
        "redo-manifests",
        "AggregateFunction",
        accepted,
    )

    machine = stack.state_machine
    machine_name = f'{{"Fn::Select":[6,{{"Fn::Split":[":",{{"Ref":"{logical_id(machine)}"}}]}}]}}'
    executions = f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{machine_name}:*"
    _accept(
        stack.sweeper_fn,
        f"AwsSolutions-IAM5[Resource::{executions}]",
        "executions",
        "SweeperFunction",
        accepted,
    )
    _accept(
        stack.api_fn,
        f"AwsSolutions-IAM5[Resource::{executions}]",
        "api-executions",
        "ApiFunction",
        accepted,
    )
    for finding, reason in (
        (f"AwsSolutions-IAM5[Resource::{input_arn}/tenants/*]", "api-uploads"),
        (f"AwsSolutions-IAM5[Resource::{input_arn}/*]", "api-delete-input"),
        (f"AwsSolutions-IAM5[Resource::{results_arn}/work/*]", "api-delete-work"),
        (f"AwsSolutions-IAM5[Resource::{results_arn}/transcripts/*]", "api-transcripts"),
    ):
        _accept(stack.api_fn, finding, reason, "ApiFunction", accepted)
    rest_api = stack.api.rest_api
    _accept(rest_api, "AwsSolutions-APIG2", "api-validation", "Api/RestApi", accepted)
    for finding in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
        _accept(rest_api.root, finding, "api-authentication", "Api/RestApi methods", accepted)
    cloud_watch_role = rest_api.node.find_child("CloudWatchRole")
    _accept(
        cloud_watch_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
        "apigw-cloudwatch-role",
        "Api/RestApi/CloudWatchRole",
        accepted,
    )
    _accept(machine, "AwsSolutions-IAM5[Resource::*]", "sfn-logs-xray", "TranscriptionStateMachine", accepted)
    for finding, reason in (
        (f"AwsSolutions-IAM5[Resource::{executions}]", "map-children"),
        (f"AwsSolutions-IAM5[Resource::{executions.removesuffix(':*')}/*:*]", "map-children"),
        (f"AwsSolutions-IAM5[Resource::{results_arn}/{WORK_PREFIX}/*/{CHUNK_MANIFEST}]", "chunk-manifests"),
    ):
        _accept(machine, finding, reason, "TranscriptionStateMachine (Distributed Map)", accepted)
    for name, fn in (
        ("ChunkFunction", stack.chunk_fn),
        ("TranscribeFunction", stack.transcribe_fn),
        ("AggregateFunction", stack.aggregate_fn),
        ("FailFunction", stack.fail_fn),
    ):
        finding = f"AwsSolutions-IAM5[Resource::<{logical_id(fn)}.Arn>:*]"
        _accept(machine, finding, "lambda-versions", f"TranscriptionStateMachine -> {name}", accepted)

    _accept(
        stack.execution_failures_dlq,
        "AwsSolutions-SQS3",
        "dlq-of-rule",
        "ExecutionFailuresDeadLetterQueue",
        accepted,
    )
    protection = stack.malware_protection
    if protection is not None:
        role = protection.node.find_child("PlanRole")
        _accept(
            role, f"AwsSolutions-IAM5[Resource::{input_arn}/*]", "guardduty-objects", "PlanRole", accepted
        )
        rule = (
            "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/"
            "DO-NOT-DELETE-AmazonGuardDutyMalwareProtectionS3*"
        )
        _accept(role, f"AwsSolutions-IAM5[Resource::{rule}]", "guardduty-rule", "PlanRole", accepted)

    def accept_with_reason(scope: IConstruct, finding: str, reason: str, where: str) -> None:
        cdk.Validations.of(scope).acknowledge(
            cdk.Acknowledgment(id=f"AwsSolutions::{finding}", reason=reason)
        )
        accepted.append(Accepted(where=where, finding=finding, reason=reason))

    nag_web.acknowledge(stack, accept_with_reason, logical_id)
    handler = stack.node.try_find_child("BucketNotificationsHandler050a0587b7544547bf325f094a3db834")
    if handler is not None:
        _accept(
            handler, LAMBDA_BASIC_EXECUTION, "notifications-handler", "BucketNotificationsHandler", accepted
        )
    return accepted


def add_checks(app: cdk.App) -> None:
    """Run the AwsSolutions pack on synth: any unacknowledged finding makes ``app.synth()`` raise."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
