"""An S3 bucket as every bucket of this project must be: KMS-encrypted, private, TLS-only, versioned, access-logged."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from compliance.packs import acknowledge_in_hipaa_and_nist

NO_REPLICATION_REASON = (
    "Cross-region replication is a per-deployment disaster-recovery decision; objects are versioned and "
    "KMS-encrypted, and models, checkpoints and reports can be rebuilt from the datasets"
)


def access_log_bucket(
    scope: Construct,
    construct_id: str,
    *,
    log_retention_days: int,
    noncurrent_version_expiration_days: int,
    retain: bool,
) -> s3.Bucket:
    """The bucket that receives other buckets' server access logs, created directly in `scope` (a function, not a
    construct, so the platform's existing bucket keeps its logical id).

    S3 delivers access logs only to a bucket with S3-managed keys, so this one alone is not SSE-KMS. ACLs are off
    (BUCKET_OWNER_ENFORCED): logs arrive under the bucket policy CDK writes when the context flag
    `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` is true (cdk.json; the stack must set it before its first
    child, as PlatformStack does), not through the log-delivery ACL. Logs expire after `log_retention_days`, and,
    the bucket being versioned, their noncurrent versions after `noncurrent_version_expiration_days`.
    """
    if cdk.Stack.of(scope).node.try_get_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy") is not True:
        raise ValueError(
            f"{construct_id}: an access-log bucket without ACLs needs the context flag "
            "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy = true on its stack (set it before the stack's first "
            "child)"
        )
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        lifecycle_rules=[
            s3.LifecycleRule(
                expiration=cdk.Duration.days(log_retention_days),
                noncurrent_version_expiration=cdk.Duration.days(noncurrent_version_expiration_days),
            )
        ],
        removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
        auto_delete_objects=not retain,
    )
    acknowledge_in_hipaa_and_nist(bucket, NO_REPLICATION_REASON, "S3BucketReplicationEnabled")
    acknowledge_in_hipaa_and_nist(
        bucket,
        "S3 delivers server access logs only to buckets encrypted with S3-managed keys",
        "S3DefaultEncryptionKMS",
    )
    return bucket


class SecureBucket(Construct):
    """An S3 bucket with the project's baseline: SSE-KMS with a bucket key, public access blocked, TLS 1.2+ only,
    versioned, owner-enforced, access-logged, incomplete uploads aborted after 7 days.

    Args:
        key: the encryption key.
        access_logs: receives the server access logs under `<construct_id>/`.
        bucket_name: a physical name, only where an API requires one (HyperPod: `sagemaker-...`). Default: generated
            by CloudFormation.
        retain: keep the bucket and its objects when the stack is deleted; else both are deleted.
        noncurrent_version_expiration_days: how long overwritten or deleted versions are kept.

    Attributes:
        bucket: the bucket.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        retain: bool,
        noncurrent_version_expiration_days: int,
        bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{construct_id}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=cdk.Duration.days(noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
            auto_delete_objects=not retain,
        )
        acknowledge_in_hipaa_and_nist(self.bucket, NO_REPLICATION_REASON, "S3BucketReplicationEnabled")
        # A writer that names another KMS key (or SSE-S3) would store objects the platform's roles cannot read and
        # its key policy does not govern: refused. A PutObject without encryption headers gets the default (this key).
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyOtherEncryptionKeys",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key.key_arn}},
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyOtherEncryption",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        )
