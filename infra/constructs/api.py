"""The HTTP API: the API function, its permissions, and API Gateway's REST API in front of it.

API Gateway only throttles the stage and logs; everything else is the function's: routing
(``/v1/...``), request validation, authentication (``Authorization: Bearer`` keys, stored hashed
in the tenants table) and per-tenant rate limits and quotas. API Gateway's own API keys and usage
plans are not used: AWS documents them as best-effort metering, not authentication, and the local
runtime, which invokes the function without API Gateway, must authenticate and limit the same way.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from infra.constructs.functions import Functions, log_group
from infra.constructs.permissions import allow, delete_every_version, list_bucket
from infra.constructs.pipeline import PUT_OBJECT, SINGLE_ITEM_ACTIONS
from infra.constructs.storage import Storage
from infra.constructs.tables import Tables
from transcriber.api import problems
from transcriber.domain.jobs import CONTENT_INDEX, TENANT_INDEX, TRANSCRIPTS_PREFIX, WORK_PREFIX
from transcriber.domain.tenants import TENANTS_PREFIX

#: Lifetime of a presigned upload URL (the API's contract: at most 15 minutes).
UPLOAD_URL_EXPIRY_S = 900

# One JSON line per request. No header or body is logged, so neither is an API key.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "error": "$context.error.message",
    "xrayTraceId": "$context.xrayTraceId",
}


class HttpApi(Construct):
    """A regional REST API with one stage, ``{proxy+}`` (and ``/``) to ``function``.

    ``stage_name`` is a plain string, and so is ``url``: moto (the local runtime) skips
    ``AWS::ApiGateway::Stage``, so a Ref to the stage would not resolve there.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        config: EnvironmentConfig,
    ) -> None:
        super().__init__(scope, construct_id)
        # The stage is named after the environment; the API after the stack.
        settings, stage_name, api_name = config.api, config.name, f"{config.stack_name}-api"
        self.stage_name = stage_name
        self.access_logs = log_group(self, "AccessLogs", config)
        self.rest_api = apigateway.LambdaRestApi(
            self,
            "RestApi",
            handler=function,
            proxy=True,
            rest_api_name=api_name,
            description=f"{api_name}: transcription jobs (/v1/...), authenticated by the API function",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # Forms (uploads, /v1/audio/*) reach the function base64-encoded, their bytes intact.
            binary_media_types=["multipart/form-data"],
            # Access and execution logs need API Gateway's account-wide CloudWatch role. It is
            # kept when the stack is deleted: other stacks' APIs in the account log through it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=cdk.RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=settings.throttle_rate_per_s,
                throttling_burst_limit=settings.throttle_burst,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS)),
                # Execution logs for errors only, never request or response data (bearer keys).
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                metrics_enabled=True,
                tracing_enabled=True,
            ),
        )
        # A body over 10 MB never reaches the function: answer it as the API answers every error.
        too_large = problems.request_too_large()
        self.rest_api.add_gateway_response(
            "RequestTooLarge",
            type=apigateway.ResponseType.REQUEST_TOO_LARGE,
            status_code="413",
            response_headers={"Content-Type": f"'{problems.PROBLEM_CONTENT_TYPE}'"},
            templates={"application/json": json.dumps(too_large.body())},
        )
        # CDK's own URL output names the stage by Ref, which moto cannot resolve: the stack's
        # ApiUrl output (built from ``url`` below) replaces it.
        self.rest_api.node.try_remove_child("Endpoint")
        # API Gateway writes execution logs to a group named after the API and stage, and creates it
        # with no retention if it does not exist: created here first, with the stack's retention.
        execution_logs = f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{stage_name}"
        self.execution_logs = log_group(self, "ExecutionLogs", config, name=execution_logs)
        self.rest_api.deployment_stage.node.add_dependency(self.execution_logs)
        stack = cdk.Stack.of(self)
        # Built from strings, like ``url``: the stage's own ARN is a Ref moto cannot resolve.
        self.stage_arn = (
            f"arn:{stack.partition}:apigateway:{stack.region}::/restapis/{self.rest_api.rest_api_id}"
            f"/stages/{stage_name}"
        )
        self.url = (
            f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{stage_name}/"
        )


class ApiService(Concern):
    """The API function (jobs, tenants, uploads), with least permissions, and :class:`HttpApi` in
    front of it. The REST API is made in ``rest_api_scope`` (the stack): its deployment's logical id
    is made from its construct path, which must not include a concern."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        rest_api_scope: Construct,
        functions: Functions,
        storage: Storage,
        tables: Tables,
        state_machine: sfn.StateMachine,
        issuer_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.zip_function(
            "api",
            env={
                "TENANTS_TABLE": tables.tenants.table_name,
                "INPUT_BUCKET": storage.input_bucket.bucket_name,
                "STATE_MACHINE_ARN": state_machine.state_machine_arn,
                "MAX_UPLOAD_BYTES": str(config.max_upload_bytes),
                "UPLOAD_URL_EXPIRY_S": str(UPLOAD_URL_EXPIRY_S),
                "TRANSCRIBE_ENGINE": config.engine,
                "SYNC_MAX_AUDIO_S": str(config.sync_max_audio_s),
                **(issuer_env or {}),  # bearer JWTs: infra/constructs/identity.py
            },
            scratch_mb=config.api_scratch_mb,
        )
        self.http_api = HttpApi(rest_api_scope, "Api", function=self.function, config=config)
        self._grant(storage, tables, state_machine)

    def _grant(self, storage: Storage, tables: Tables, state_machine: sfn.StateMachine) -> None:
        """Jobs and tenants records, uploads, deletes, retries and stops: only the actions the
        handler calls, on the narrowest resource (see Pipeline._grant for why not ``grant_*``)."""
        fn = self.function
        jobs_arn, input_bucket, results = tables.jobs.table_arn, storage.input_bucket, storage.results_bucket
        statements = [
            # Job records: read, create, update (status, deletion); a tenant's list via its index.
            (SINGLE_ITEM_ACTIONS, [jobs_arn]),
            (["dynamodb:Query"], [f"{jobs_arn}/index/{TENANT_INDEX}"]),
            # Deleting an original: the duplicates that reuse its outputs, by content hash.
            (["dynamodb:Query"], [f"{jobs_arn}/index/{CONTENT_INDEX}"]),
            # Keys (looked up by hash), tenant settings, rate and quota counters (conditional updates).
            (SINGLE_ITEM_ACTIONS, [tables.tenants.table_arn]),
            (["dynamodb:DeleteItem"], [tables.tenants.table_arn]),  # a tenant deleting a vocabulary
            # Presigned and inline uploads, only under tenants/<tenant id>/ (upload_key in
            # transcriber/domain/tenants.py); a multipart upload needs its abort.
            (
                PUT_OBJECT,
                [input_bucket.arn_for_objects(f"{TENANTS_PREFIX}/*")],
            ),
            # Deleting a job deletes its audio, which a bucket-dropped job may have under any key,
            # with every version of it (prod versions the input bucket).
            *delete_every_version(input_bucket),
            # The player's presigned GET of the original (and its HEAD; ListBucket makes a gone one 404).
            (["s3:GetObject"], [input_bucket.arn_for_objects("*")]),
            (["s3:ListBucket"], [input_bucket.bucket_arn]),
            # Transcripts to return; a deleted job's intermediate files and outputs; its outputs
            # copied to the duplicates that reused them (transcriber/api/erasure.py).
            (["s3:GetObject"], [results.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")]),
            (PUT_OBJECT, [results.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*")]),
            (
                ["s3:DeleteObject"],
                [
                    results.arn_for_objects(f"{WORK_PREFIX}/*"),
                    results.arn_for_objects(f"{TRANSCRIPTS_PREFIX}/*"),
                ],
            ),
        ]
        allow(fn, statements)
        # Listing a job's objects to delete them (and a 404 rather than a 403 for a missing
        # transcript), only under the prefixes it may delete from.
        fn.add_to_role_policy(list_bucket(results, [f"{WORK_PREFIX}/*", f"{TRANSCRIPTS_PREFIX}/*"]))
        # Retry starts a new execution; delete stops a running one after reading its status.
        state_machine.grant_start_execution(fn)
        state_machine.grant_execution(fn, "states:StopExecution", "states:DescribeExecution")
        storage.grant_key(fn, encrypt=True)
