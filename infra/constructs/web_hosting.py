"""The web app in AWS: web/ and the JavaScript SDK in a private bucket behind CloudFront.

::

    browser --HTTPS--> CloudFront --OAC (SigV4)--> private bucket (web/ at /, sdk-js/src/ at /sdk-js/src/)
                                  --/v1/*-------> the HTTP API (same origin: no CORS, the app's default URL)

Every answer carries the same security headers as ``make serve`` (localrun/webapp.py builds
both): a CSP with no inline script whose connect and media sources add the upload bucket (the
presigned PUTs and the player's GETs), whose connect sources add the results bucket (the presigned
GET a large transcript's 303 points to) and the live-status WebSocket, ``nosniff``, no referrer,
no framing, and HSTS. Both buckets answer the app's origin, and only it, with CORS
(infra/constructs/browser_storage.py). With cdk.json ``web_acl_arn`` set, a WAF web ACL screens
every request.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct

from infra.constructs.browser_storage import BrowserAccess, BrowserStorageAccess
from localrun.environment import REPO_ROOT
from localrun.webapp import security_headers

SDK_PREFIX = "sdk-js/src/"


#: What the app's upload sends beyond CORS-safelisted headers (sdk-js/src/upload.js: the binary
#: Content-Type; the presigned URL carries its X-Amz-* signature in the query, not in headers).
UPLOAD_HEADERS = ("Content-Type",)


def content_security_policy(
    storage_origins: list[str], live_origins: list[str], download_origins: list[str] | None = None
) -> str:
    """localrun/webapp.py's CSP, for the deployed origins (CDK tokens allowed). ``storage_origins``
    are connect and media sources; ``live_origins`` and ``download_origins`` connect sources only."""
    connect_only = [*live_origins, *(download_origins or [])]
    return dict(security_headers(storage_origins, connect_only))["Content-Security-Policy"]


def bucket_origins(bucket: s3.IBucket) -> list[str]:
    """Where a presigned URL of ``bucket`` points: its regional endpoint (boto3's, in most regions)
    and its global one (us-east-1's)."""
    return [f"https://{bucket.bucket_regional_domain_name}", f"https://{bucket.bucket_domain_name}"]


class WebHosting(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rest_api: apigateway.RestApi,
        upload_bucket: s3.IBucket,
        download_bucket: s3.IBucket,
        access_logs_bucket: s3.IBucket,
        live_status_url: str,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.DESTROY,
        web_acl_arn: str | None = None,
    ) -> None:
        """``upload_bucket``: where the browser PUTs files; ``download_bucket``: where the API's
        303s for large transcripts point (the results bucket)."""
        super().__init__(scope, construct_id)
        # Private, TLS-only, S3-managed keys (CloudFront's origin access control signs its reads),
        # and its server access logs in the stack's access-log bucket.
        private = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "encryption": s3.BucketEncryption.S3_MANAGED,
            "enforce_ssl": True,
            "server_access_logs_bucket": access_logs_bucket,
            "removal_policy": removal_policy,
        }
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_prefix="web/",
            **private,  # type: ignore[arg-type]
        )
        # CloudFront's standard logs need ACLs, which the stack's access-log bucket has turned off.
        self.logs_bucket = s3.Bucket(
            self,
            "LogsBucket",
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            server_access_logs_prefix="web-logs/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-logs", expiration=cdk.Duration.days(90))],
            **private,  # type: ignore[arg-type]
        )
        policy = content_security_policy(
            bucket_origins(upload_bucket), [live_status_url], bucket_origins(download_bucket)
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="The web app's security headers (as localrun/webapp.py sends them)",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=policy, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=cdk.Duration.days(365), include_subdomains=True, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Opener-Policy", value="same-origin", override=True
                    )
                ]
            ),
        )
        api_origin = origins.RestApiOrigin(rest_api)
        # GETs reach the API with their key only if the key is part of the cache key (CloudFront's
        # rule for Authorization); one second at most, and per key, so nothing is shared.
        api_cache = cloudfront.CachePolicy(
            self,
            "ApiCachePolicy",
            comment="The API: keyed by Authorization and the query, cached at most a second",
            min_ttl=cdk.Duration.seconds(0),
            default_ttl=cdk.Duration.seconds(0),
            max_ttl=cdk.Duration.seconds(1),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Authorization"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.all(),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Audio transcriber web app",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            web_acl_id=web_acl_arn,  # CLOUDFRONT scope, us-east-1 (infra/constructs/cloudfront_firewall.py)
            log_bucket=self.logs_bucket,
            log_file_prefix="cloudfront/",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                response_headers_policy=headers,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            additional_behaviors={
                # The API beside the app, uncached, with the Authorization header passed on.
                "/v1/*": cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=api_cache,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                ),
            },
        )
        # web/ at the root and the SDK at its repository path, as make serve serves them.
        for deployment_id, folder, prefix in (
            ("App", REPO_ROOT / "web", ""),
            ("Sdk", REPO_ROOT / "sdk-js" / "src", SDK_PREFIX),
        ):
            s3_deployment.BucketDeployment(
                self,
                f"Deploy{deployment_id}",
                sources=[s3_deployment.Source.asset(str(folder))],
                destination_bucket=self.bucket,
                destination_key_prefix=prefix or None,
                prune=not prefix,  # the app's deployment prunes; the SDK's keeps the app's files
                exclude=[] if prefix else [f"{SDK_PREFIX}*"],
                distribution=self.distribution,
                distribution_paths=[f"/{prefix}*"],
                memory_limit=256,
            )
        self.url = f"https://{self.distribution.distribution_domain_name}/"
        self.origin = f"https://{self.distribution.distribution_domain_name}"
        # The app's own origin, and no other, may PUT uploads and GET large transcripts.
        access = [
            BrowserAccess("InputBucket", upload_bucket, ["PUT"], UPLOAD_HEADERS),
            BrowserAccess("ResultsBucket", download_bucket, ["GET"]),
        ]
        self.storage_access = BrowserStorageAccess(self, "StorageAccess", origin=self.origin, access=access)
