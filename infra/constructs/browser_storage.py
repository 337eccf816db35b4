"""The browser's access to the data buckets: CORS rules for the web app's origin only.

The web app PUTs an upload straight to the input bucket's presigned URL, and a transcript too
large for one API answer comes back as a 303 to a presigned GET on the results bucket, which the
app's ``fetch`` follows. Both are cross-origin requests from the CloudFront origin, so each bucket
needs a CORS rule for that origin (and the distribution's CSP lists the buckets, web_hosting.py).

The origin is the distribution's domain, known only once the distribution exists, and the
distribution already depends on the buckets (its CSP names their endpoints): a ``CorsConfiguration``
on the bucket resource that named the distribution would be a dependency cycle. So the rules are
put by a custom resource (``s3:PutBucketCors`` once both exist, ``DeleteBucketCors`` on removal).
The buckets' templates declare no ``CorsConfiguration``, so a stack update leaves the rules alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import custom_resources as cr
from constructs import Construct

#: How long a browser may reuse a preflight answer (one per upload otherwise).
PREFLIGHT_MAX_AGE = cdk.Duration.hours(1)


@dataclass(frozen=True)
class BrowserAccess:
    """What the web app's origin may do on one bucket (``name``: the construct id's prefix): CORS
    ``methods``, with the request ``headers`` beyond the CORS-safelisted ones."""

    name: str
    bucket: s3.IBucket
    methods: Sequence[str]
    headers: Sequence[str] = ()


class BrowserStorageAccess(Construct):
    """One CORS rule per bucket, for ``origin`` only (no ``*``), put after the origin exists."""

    def __init__(
        self, scope: Construct, construct_id: str, *, origin: str, access: Sequence[BrowserAccess]
    ) -> None:
        super().__init__(scope, construct_id)
        for grant in access:
            bucket = grant.bucket
            rule: dict[str, object] = {
                "ID": "web-app",
                "AllowedOrigins": [origin],
                "AllowedMethods": list(grant.methods),
                "MaxAgeSeconds": PREFLIGHT_MAX_AGE.to_seconds(),
            }
            if grant.headers:
                rule["AllowedHeaders"] = list(grant.headers)
            put = cr.AwsSdkCall(
                service="S3",
                action="putBucketCors",
                parameters={"Bucket": bucket.bucket_name, "CORSConfiguration": {"CORSRules": [rule]}},
                physical_resource_id=cr.PhysicalResourceId.of(f"{bucket.bucket_name}-cors"),
            )
            cr.AwsCustomResource(
                self,
                f"{grant.name}Cors",
                resource_type="Custom::BucketCors",
                on_create=put,
                on_update=put,
                on_delete=cr.AwsSdkCall(
                    service="S3", action="deleteBucketCors", parameters={"Bucket": bucket.bucket_name}
                ),
                # PutBucketCors and DeleteBucketCors are both authorised by s3:PutBucketCORS, and
                # only on this bucket.
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [iam.PolicyStatement(actions=["s3:PutBucketCORS"], resources=[bucket.bucket_arn])]
                ),
                install_latest_aws_sdk=False,  # the Lambda runtime's SDK has both calls
            )
