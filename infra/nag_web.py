"""cdk-nag findings of the live-status WebSocket API and the web app's hosting, with reasons.

Kept beside infra/nag.py (which calls :func:`acknowledge`) so that each concern's accepted
findings read together; scoped to the construct they concern, like every acknowledgement there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aws_cdk.custom_resources import AwsCustomResource
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import TranscriptionStack

Accept = Callable[[IConstruct, str, str, str], None]
BASIC_EXECUTION = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)

REASONS = {
    "live-authentication": (
        "The $connect route's function authenticates the connection with the HTTP API's keys (hashed "
        "and looked up in the tenants table, rate-limited) and refuses it (401) before it opens; "
        "subscribe and $disconnect run only on a connection that passed $connect. Browsers cannot send "
        "an Authorization header, so the key arrives as a subprotocol or a query parameter, which an "
        "authorizer's identity sources cannot accept as alternatives."
    ),
    "live-manage-connections": (
        "The pusher posts to connections whose ids are known only at run time; execute-api:ManageConnections "
        "is limited to this API's stage and its @connections path."
    ),
    "web-waf": (
        "The distribution serves static files (HTML, JS, CSS) and forwards /v1/* to the HTTP API, which "
        "authenticates and rate-limits every request per tenant, behind a regional web ACL (AWS's "
        "managed rule groups, and a rate limit per client address: the X-Forwarded-For address "
        "CloudFront sets, as the edge's own address is shared by many viewers). A viewer can put its "
        "own address before CloudFront's in that header and so evade the per-client limit, which only "
        "a CloudFront web ACL closes: this environment sets no web_acl_arn in cdk.json yet; "
        "docs/deploy.md shows how to deploy one and attach it."
    ),
    "web-geo": (
        "The app is for the service's tenants wherever they are; their keys, not their country, admit them."
    ),
    "web-tls": (
        "The distribution uses CloudFront's default certificate (no custom domain yet), which permits "
        "only TLSv1 as the minimum; a custom domain with an ACM certificate lifts it to TLSv1.2_2021."
    ),
    "deployment-handler": (
        "CDK's BucketDeployment custom resource copies web/ and sdk-js/src/ into the web bucket at deploy "
        "time and then invalidates the distribution; CDK creates it with its own Lambda runtime and "
        "AWSLambdaBasicExecutionRole (log groups, streams and events), and grants s3:GetObject*, "
        "s3:GetBucket* and s3:List* on the CDK asset bucket and its objects; the same with s3:PutObject "
        "(and its legal hold, retention and tagging variants), s3:DeleteObject* and s3:Abort* on the web "
        "bucket and its objects only; and cloudfront:CreateInvalidation and cloudfront:GetInvalidation "
        "on Resource '*'."
    ),
    "cors-handler": (
        "CDK's AwsCustomResource provider puts the input and results buckets' CORS rules for the web "
        "app's origin once the distribution exists (infra/constructs/browser_storage.py). CDK creates "
        "its role with AWSLambdaBasicExecutionRole (logs:CreateLogGroup, CreateLogStream and "
        "PutLogEvents); its only other permission is s3:PutBucketCORS on those two buckets."
    ),
}


def acknowledge(stack: TranscriptionStack, accept: Accept, logical_id: Callable[[IConstruct], str]) -> None:
    """Acknowledge the findings of stack.live_status and stack.web (``accept(scope, finding, reason,
    where)`` is infra/nag.py's)."""
    live = stack.live_status
    for route in live.api.node.children:
        if route.node.id.endswith("-Route"):
            accept(route, "AwsSolutions-APIG4", REASONS["live-authentication"], f"LiveStatus/{route.node.id}")
    stage_arn = (
        f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{logical_id(live.api)}>/"
        f"{live.stage.stage_name}/*/@connections/*"
    )
    accept(
        live.pusher_fn,
        f"AwsSolutions-IAM5[Resource::{stage_arn}]",
        REASONS["live-manage-connections"],
        "PusherFunction",
    )
    if stack.web is None:
        return
    distribution = stack.web.distribution
    accept(distribution, "AwsSolutions-CFR1", REASONS["web-geo"], "WebApp/Distribution")
    if stack.config.web_acl_arn is None:
        accept(distribution, "AwsSolutions-CFR2", REASONS["web-waf"], "WebApp/Distribution")
    accept(distribution, "AwsSolutions-CFR4", REASONS["web-tls"], "WebApp/Distribution")
    # AwsCustomResource's singleton provider: "AWS" and its UUID without dashes, at the stack's root.
    provider_id = f"AWS{AwsCustomResource.PROVIDER_FUNCTION_UUID.replace('-', '')}"
    provider = stack.node.try_find_child(provider_id)
    if provider is not None:
        accept(provider, BASIC_EXECUTION, REASONS["cors-handler"], provider_id)
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            for finding in (
                BASIC_EXECUTION,
                "AwsSolutions-IAM5[Resource::*]",
                "AwsSolutions-L1",
                *(f"AwsSolutions-IAM5[Action::{a}]" for a in ("s3:GetObject*", "s3:GetBucket*", "s3:List*")),
                *(f"AwsSolutions-IAM5[Action::{a}]" for a in ("s3:DeleteObject*", "s3:Abort*")),
                f"AwsSolutions-IAM5[Resource::<{logical_id(stack.web.bucket)}.Arn>/*]",
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
                "<AWS::Region>/*]",
            ):
                accept(child, finding, REASONS["deployment-handler"], child.node.id)
