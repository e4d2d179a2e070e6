"""JSON documents generated at synth (Clarify analysis configs) written to a bucket at deploy time.

A file asset cannot hold a deploy-time value such as another stack's endpoint name; a BucketDeployment with JSON
sources can. Its handler runs on the private subnets (S3 through the gateway endpoint) and writes with the bucket's key.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from compliance.packs import acknowledge, acknowledge_in_hipaa_and_nist
from compliance.wildcards import acknowledge_managed_policies, expect_bucket_deployment_wildcards

HANDLER_REASON = (
    "CDK's BucketDeployment handler: runs only during deployments to copy generated JSON into this stack's "
    "evaluation bucket prefix; its managed policies and bucket-scoped wildcard actions are CDK's own"
)


class ConfigObjects(Construct):
    """Collects documents with `add`, and deploys them under `prefix` when the stack is deployed (`seal`).

    Args:
        bucket: the destination bucket.
        prefix: key prefix of every document (a trailing `/` is added).
        vpc, subnets: where the BucketDeployment handler runs (the private subnets; S3 via the gateway endpoint).
        key: encrypts the handler's log group.
        log_retention: of that log group.

    Attributes:
        bucket, prefix: as given (prefix normalized to end in `/`).
        deployment: the BucketDeployment once `seal()` created it; None before, and when nothing was added.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        prefix: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = bucket
        self.prefix = prefix.rstrip("/") + "/"
        self._sources: list[s3deploy.ISource] = []
        self._vpc, self._subnets = vpc, subnets
        self._key, self._log_retention = key, log_retention
        self.deployment: s3deploy.BucketDeployment | None = None

    def add(self, key: str, document: dict[str, Any]) -> str:
        """Register a document; returns its S3 URI."""
        if self.deployment is not None:
            raise RuntimeError("ConfigObjects already sealed")
        self._sources.append(s3deploy.Source.json_data(key, document))
        return self.bucket.s3_url_for_object(self.prefix + key)

    def seal(self) -> s3deploy.BucketDeployment | None:
        """Create the deployment once every document is registered (nothing to deploy: no resources)."""
        if not self._sources:
            return None
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=self._sources,
            destination_bucket=self.bucket,
            destination_key_prefix=self.prefix,
            vpc=self._vpc,
            vpc_subnets=self._subnets,
            memory_limit=256,
            log_group=logs.LogGroup(self, "Logs", encryption_key=self._key, retention=self._log_retention),
        )
        stack = cdk.Stack.of(self)
        handler = next(c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment"))
        for scope in (self.deployment, handler):
            acknowledge(scope, HANDLER_REASON, "AwsSolutions-L1")
            acknowledge_managed_policies(
                scope,
                HANDLER_REASON,
                "service-role/AWSLambdaBasicExecutionRole",
                "service-role/AWSLambdaVPCAccessExecutionRole",
            )
            acknowledge_in_hipaa_and_nist(scope, HANDLER_REASON, "IAMNoInlinePolicy", "LambdaConcurrency", "LambdaDLQ")
        expect_bucket_deployment_wildcards(handler, self.bucket, HANDLER_REASON)
        return self.deployment
