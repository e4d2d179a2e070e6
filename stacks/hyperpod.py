"""An optional SageMaker HyperPod cluster (Slurm) of Trainium instance groups, for long pre-training runs that a
persistent, self-healing cluster serves better than one training job.

Its lifecycle scripts live in a bucket of their own, because HyperPod's API asks for a SourceS3Uri starting with
`s3://sagemaker-` (ClusterLifeCycleConfig, botocore 1.44.8) and the platform's buckets have generated names. The
bucket has the platform buckets' protections (SecureBucket: platform key, TLS only, versioned, access-logged) and its
own access-log bucket: logging into the platform's log bucket from this stack would make the platform stack reference
this one (the log bucket's policy names the source bucket), a dependency cycle.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.handoffs import Platform
from cdk_constructs.hyperpod_cluster import LIFECYCLE_BUCKET_PREFIX, HyperPodCluster
from cdk_constructs.secure_bucket import SecureBucket, access_log_bucket
from config import AppConfig

SCRIPTS = Path(__file__).resolve().parent.parent / "hyperpod"
# S3 bucket names: 3-63 characters. The name ends in -<12-digit account>-<region>; the longest region name the
# catalog knows (ap-southeast-5) has 14 characters.
BUCKET_NAME_MAX = 63
NAME_SUFFIX_MAX = 1 + 12 + 1 + 14


def lifecycle_bucket_prefix(stack_prefix: str, profile: str) -> str:
    """`sagemaker-<profile>-<hash of prefix and profile>`: lower case, unique per deployment, short enough for the
    account and region that follow."""
    slug = re.sub(r"[^a-z0-9]+", "-", profile.lower()).strip("-")[:12].strip("-") or "profile"
    digest = hashlib.sha256(f"{stack_prefix}/{profile}".encode()).hexdigest()[:6]
    name = f"{LIFECYCLE_BUCKET_PREFIX}{slug}-hp-{digest}"
    assert len(name) + NAME_SUFFIX_MAX <= BUCKET_NAME_MAX, name
    return name


class HyperPodStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, platform: Platform, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id, description="Neuron GenAI: SageMaker HyperPod cluster (Slurm, Trainium)", **kwargs
        )
        # Access logs arrive under a bucket policy, not the log-delivery ACL (set before the stack's first child).
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        settings = config.hyperpod
        access_logs = access_log_bucket(
            self,
            "ScriptsAccessLogs",
            log_retention_days=config.platform.log_retention_days,
            noncurrent_version_expiration_days=config.platform.noncurrent_version_expiration_days,
            retain=config.platform.retain_data,
        )
        # Rebuilt from the repository on every deploy: destroyed with the stack (a retained bucket's fixed name would
        # block the next deploy).
        self.scripts_bucket = SecureBucket(
            self,
            "LifecycleScriptsBucket",
            key=platform.key,
            access_logs=access_logs,
            retain=False,
            noncurrent_version_expiration_days=config.platform.noncurrent_version_expiration_days,
            bucket_name=cdk.Fn.join(
                "-", [lifecycle_bucket_prefix(config.stack_prefix, config.profile), cdk.Aws.ACCOUNT_ID, cdk.Aws.REGION]
            ),
        ).bucket
        self.hyperpod = HyperPodCluster(
            self,
            "HyperPod",
            groups=settings.groups,
            node_recovery=settings.node_recovery,
            deep_health_checks=settings.deep_health_checks,
            partition=settings.partition,
            scripts=SCRIPTS,
            bucket=self.scripts_bucket,
            compile_cache_bucket=platform.buckets.checkpoints,
            key=platform.key,
            vpc=platform.vpc,
            subnets=platform.subnets,
            security_groups=[platform.workload_security_group, platform.efa_security_group],
            upload_security_group=platform.workload_security_group,
            log_retention=platform.log_retention,
        )
        cdk.CfnOutput(self, "ClusterArn", value=self.hyperpod.cluster.attr_cluster_arn)
        cdk.CfnOutput(self, "ClusterName", value=self.hyperpod.cluster.ref)
