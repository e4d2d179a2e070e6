"""The stateful platform: the customer-managed key, the data buckets and the private network.

Kept in its own stack so that the stateless stacks can be replaced freely while data and network stay.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.handoffs import DataBuckets, Platform
from cdk_constructs.private_network import PrivateNetwork
from cdk_constructs.secure_bucket import SecureBucket, access_log_bucket
from config import AppConfig
from config.platform import LOG_RETENTION_DAYS

# CDK's enum lists CloudWatch's retention periods in the same order as the config's allowed days (INFINITE last).
RETENTION: dict[int, logs.RetentionDays] = dict(zip(LOG_RETENTION_DAYS, list(logs.RetentionDays)[:-1], strict=True))
DATA_BUCKETS = ("models", "datasets", "checkpoints", "evaluation", "data_capture")


class PlatformStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: AppConfig, **kwargs: Any) -> None:
        settings = config.platform
        super().__init__(
            scope,
            construct_id,
            termination_protection=settings.retain_data,
            description="Neuron GenAI platform: KMS key, data buckets, private VPC with endpoints (stateful)",
            **kwargs,
        )
        # Server access logs are delivered under a bucket policy, never the log-delivery ACL: the access-log bucket
        # disables ACLs (BUCKET_OWNER_ENFORCED). Set here too, so the stack does not depend on cdk.json for it.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        removal = cdk.RemovalPolicy.RETAIN if settings.retain_data else cdk.RemovalPolicy.DESTROY
        log_retention = RETENTION[settings.log_retention_days]

        self.key = kms.Key(
            self,
            "DataKey",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=cdk.Duration.days(30 if settings.retain_data else 7),
            description="Encrypts the Neuron GenAI platform's data, volumes, logs and topics",
        )
        # Encrypted log groups (flow logs, workflows, jobs) need the regional Logs service on the key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{self.region}.{self.url_suffix}")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{self.partition}:logs:{self.region}:{self.account}:*"
                        )
                    }
                },
            )
        )

        self.access_logs = access_log_bucket(
            self,
            "AccessLogs",
            log_retention_days=settings.log_retention_days,
            noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
            retain=settings.retain_data,
        )
        buckets = {
            name: SecureBucket(
                self,
                _camel(name),
                key=self.key,
                access_logs=self.access_logs,
                retain=settings.retain_data,
                noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
            ).bucket
            for name in DATA_BUCKETS
        }
        network = PrivateNetwork(
            self,
            "Network",
            cidr=settings.vpc_cidr,
            max_azs=settings.max_azs,
            key=self.key,
            log_retention=log_retention,
        )
        self.platform = Platform(
            key=self.key,
            buckets=DataBuckets(**buckets),
            vpc=network.vpc,
            subnets=network.subnets,
            workload_security_group=network.workload_security_group,
            efa_security_group=network.efa_security_group,
            log_retention=log_retention,
        )
        for name, bucket in buckets.items():
            cdk.CfnOutput(self, f"{_camel(name)}BucketName", value=bucket.bucket_name)
        cdk.CfnOutput(self, "KeyArn", value=self.key.key_arn)
        cdk.CfnOutput(self, "VpcId", value=network.vpc.vpc_id)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
