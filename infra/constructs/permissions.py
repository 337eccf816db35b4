"""Least-privilege statements, written out: the actions a handler calls on the resources it uses.

The constructs write their grants as ``(actions, resources)`` rows rather than through CDK's
``grant_*`` helpers, which add wildcard actions no handler uses (see Pipeline._grant).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3

#: One row of a function's permissions: the actions, and the ARNs they are allowed on.
Grant = tuple[Sequence[str], Sequence[str]]


def allow(function: lambda_.IFunction, grants: Iterable[Grant]) -> None:
    """Add one statement per row to ``function``'s role."""
    for actions, resources in grants:
        function.add_to_role_policy(iam.PolicyStatement(actions=list(actions), resources=list(resources)))


def list_bucket(bucket: s3.IBucket, prefixes: Sequence[str]) -> iam.PolicyStatement:
    """ListBucket on ``bucket`` for keys under ``prefixes`` only. Deleting a job's objects lists
    them, and without ListBucket S3 answers a missing key's GET or HEAD with 403 instead of 404."""
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": list(prefixes)}},
    )


def delete_every_version(bucket: s3.IBucket) -> list[Grant]:
    """Deleting an object of ``bucket`` with every version of it (prod versions the input bucket):
    the versions are listed, then each is deleted."""
    return [
        (["s3:DeleteObject", "s3:DeleteObjectVersion"], [bucket.arn_for_objects("*")]),
        (["s3:ListBucketVersions"], [bucket.bucket_arn]),
    ]
