"""The web app's CloudFront web ACL, in a small stack of its own in us-east-1.

WAF accepts a web ACL for a CloudFront distribution only with scope CLOUDFRONT, created in
us-east-1, while the transcription stack deploys to any region. So this stack is deployed first
(on request: ``-c transcriber:cloudfront-web-acl=true``), and its ``WebAclArn`` output goes into
cdk.json's ``web_acl_arn`` of the environment, which the main stack puts on the distribution
(docs/deploy.md, "A web ACL for the web app"). A stack output read by hand, rather than CDK's
crossRegionReferences, keeps the main stack environment-agnostic and its template unchanged.
"""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra.constructs.firewall import protective_rules, visibility

#: The only region WAF accepts a CloudFront web ACL in.
CLOUDFRONT_WAF_REGION = "us-east-1"
#: CDK context key: true adds :class:`CloudFrontWebAclStack` to the app (infra/app.py).
CLOUDFRONT_WEB_ACL = "transcriber:cloudfront-web-acl"


class CloudFrontWebAcl(Construct):
    """The API firewall's rules (rate per IP, AWS's managed groups) with scope CLOUDFRONT."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_prefix: str, requests_per_5_min_per_ip: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{name_prefix}-web"),
            rules=protective_rules(requests_per_5_min_per_ip),
        )


class CloudFrontWebAclStack(cdk.Stack):
    """``<stack_name>-WebAcl`` in us-east-1; its ``WebAclArn`` output is cdk.json's ``web_acl_arn``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_prefix: str, requests_per_5_min_per_ip: int
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=CLOUDFRONT_WAF_REGION),
            description="CloudFront-scope WAF web ACL of the transcriber's web app",
        )
        self.firewall = CloudFrontWebAcl(
            self,
            "WebAppFirewall",
            name_prefix=name_prefix,
            requests_per_5_min_per_ip=requests_per_5_min_per_ip,
        )
        cdk.CfnOutput(
            self,
            "WebAclArn",
            value=self.firewall.web_acl.attr_arn,
            description="Set as web_acl_arn of this environment in cdk.json, then deploy the main stack",
        )
