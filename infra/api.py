"""The HTTP API's front door: an API Gateway REST API proxying every request to the API function.

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
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import ApiSettings

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
        settings: ApiSettings,
        stage_name: str,
        api_name: str,
        log_retention: logs.RetentionDays,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage_name = stage_name
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        self.rest_api = apigateway.LambdaRestApi(
            self,
            "RestApi",
            handler=function,
            proxy=True,
            rest_api_name=api_name,
            description=f"{api_name}: transcription jobs (/v1/...), authenticated by the API function",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
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
        # CDK's own URL output names the stage by Ref, which moto cannot resolve: the stack's
        # ApiUrl output (built from ``url`` below) replaces it.
        self.rest_api.node.try_remove_child("Endpoint")
        # API Gateway writes execution logs to a group named after the API and stage, and creates it
        # with no retention if it does not exist: created here first, with the stack's retention.
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{stage_name}",
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.rest_api.deployment_stage.node.add_dependency(self.execution_logs)
        stack = cdk.Stack.of(self)
        self.url = (
            f"https://{self.rest_api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/{stage_name}/"
        )
