"""Storage: the customer key (where asked for), the input, results and access-log buckets."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.constructs.concern import Concern
from infra.constructs.rules import encrypted_queue
from transcriber.domain.jobs import WORK_PREFIX
from transcriber.domain.tenants import TENANTS_PREFIX

#: The key actions a service needs to write into an encrypted queue or topic (data key, decrypt).
SERVICE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey*"]


def service_key_statements(stack: cdk.Stack) -> list[iam.PolicyStatement]:
    """The data key's policy for the services that write into encrypted queues and the topic.

    EventBridge puts rule targets' events and undeliverable events (their DLQs) into encrypted SQS
    queues; CloudWatch alarms publish to the encrypted alarm topic. Neither may use the key for
    anything else: SQS and SNS call KMS with the queue's or topic's ARN as encryption context
    (``aws:sqs:arn``, ``aws:sns:topicArn``), which must be one of this account's in this region.
    CloudWatch must also act for one of this account's alarms (``aws:SourceAccount``,
    ``aws:SourceArn``). EventBridge gets no source condition: AWS documents ``aws:SourceAccount``
    and ``aws:SourceArn`` as unsupported in a key policy for EventBridge's deliveries into encrypted
    SNS topics and does not document them for its deliveries into SQS queues; a condition that KMS
    never sees would drop every event silently. The encryption context, which SQS always sends,
    binds it instead. The exact ARNs cannot be named: the queues and the topic are encrypted with
    this key, so naming them here would be a dependency cycle.
    """
    account, region, partition = stack.account, stack.region, stack.partition
    return [
        iam.PolicyStatement(
            sid="EventBridgeIntoThisAccountsQueues",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=SERVICE_KEY_ACTIONS,
            resources=["*"],
            conditions={
                "ArnLike": {"kms:EncryptionContext:aws:sqs:arn": f"arn:{partition}:sqs:{region}:{account}:*"}
            },
        ),
        iam.PolicyStatement(
            sid="CloudWatchAlarmsIntoThisAccountsTopics",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=SERVICE_KEY_ACTIONS,
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*",
                    "kms:EncryptionContext:aws:sns:topicArn": f"arn:{partition}:sns:{region}:{account}:*",
                },
            },
        ),
    ]


class Storage(Concern):
    """The data at rest: uploads (input), intermediate files and transcripts (results)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        # One customer key for the data at rest where the environment asks for it (prod): audio,
        # transcripts, job records, queued events and alarm notifications. Elsewhere the services'
        # own keys encrypt everything, with no key to pay for or to lose.
        self.data_key: kms.Key | None = None
        if config.customer_managed_key:
            self.data_key = kms.Key(
                self,
                "DataKey",
                description=f"{config.stack_name}: audio, transcripts, job records and queues",
                enable_key_rotation=True,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            for statement in service_key_statements(cdk.Stack.of(self)):
                self.data_key.add_to_resource_policy(statement)
        self._buckets(config)

    def _buckets(self, config: EnvironmentConfig) -> None:
        encryption = {
            "encryption": s3.BucketEncryption.KMS if self.data_key else s3.BucketEncryption.S3_MANAGED,
            "encryption_key": self.data_key,
            "bucket_key_enabled": bool(self.data_key),  # one KMS call per bucket key, not per object
        }
        private = {
            "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
            "enforce_ssl": True,
            "removal_policy": config.removal_policy,
        }
        # Server access logs land here. S3 cannot deliver them into a bucket encrypted with a customer
        # key, so this bucket keeps S3-managed keys in every environment.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(max(config.log_retention_days, 90)),
                )
            ],
            **private,  # type: ignore[arg-type]
        )
        input_rules = [
            s3.LifecycleRule(
                id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
            ),
            # Uploads through the API (tenants/<tenant>/jobs/...) go when the work files do: a
            # stray upload (a deleted job's, one never ingested) cannot stay forever.
            s3.LifecycleRule(
                id="expire-api-uploads",
                prefix=f"{TENANTS_PREFIX}/",
                expiration=cdk.Duration.days(config.lifecycle.work_expiry_days),
            ),
        ]
        if config.lifecycle.raw_to_glacier_days is not None:
            input_rules.append(
                s3.LifecycleRule(
                    id="raw-uploads-to-glacier",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER,
                            transition_after=cdk.Duration.days(config.lifecycle.raw_to_glacier_days),
                        )
                    ],
                )
            )
        if config.version_input_bucket:
            # Versions keep an overwritten or deleted upload recoverable for a while, not forever.
            input_rules.append(
                s3.LifecycleRule(
                    id="expire-old-versions", noncurrent_version_expiration=cdk.Duration.days(30)
                )
            )
        self.input_bucket = s3.Bucket(
            self,
            "InputBucket",
            versioned=config.version_input_bucket,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="input/",
            lifecycle_rules=input_rules,
            **encryption,  # type: ignore[arg-type]
            **private,  # type: ignore[arg-type]
        )
        self.results_bucket = s3.Bucket(
            self,
            "ResultsBucket",
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="results/",
            # Converted audio (the chunks are byte ranges of it), chunk manifests and partial transcripts are
            # intermediate; transcripts/ is kept.
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-work",
                    prefix=f"{WORK_PREFIX}/",
                    expiration=cdk.Duration.days(config.lifecycle.work_expiry_days),
                ),
                s3.LifecycleRule(
                    id="abort-multipart", abort_incomplete_multipart_upload_after=cdk.Duration.days(7)
                ),
            ],
            **encryption,  # type: ignore[arg-type]
            **private,  # type: ignore[arg-type]
        )

    def grant_key(self, grantee: iam.IGrantable, *, encrypt: bool) -> None:
        """Use of the customer key (prod): decrypt to read, data keys to write; no wildcards."""
        if self.data_key is None:
            return
        actions = ["kms:Decrypt", "kms:DescribeKey"]
        if encrypt:
            actions += ["kms:Encrypt", "kms:GenerateDataKey"]
        self.data_key.grant(grantee, *actions)

    def queue(
        self, scope: Construct, construct_id: str, *, dead_letter_queue: sqs.IQueue | None = None
    ) -> sqs.Queue:
        """An encrypted (the data key where there is one), TLS-only queue that keeps messages for the
        14 days SQS allows."""
        return encrypted_queue(scope, construct_id, key=self.data_key, dead_letter_queue=dead_letter_queue)
