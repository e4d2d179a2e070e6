"""An optional SageMaker HyperPod cluster (Slurm) of Trainium instance groups, for long pre-training runs that a
persistent, self-healing cluster serves better than one training job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from cdk_constructs.handoffs import Platform
from cdk_constructs.hyperpod_cluster import HyperPodCluster
from config import AppConfig

SCRIPTS = Path(__file__).resolve().parent.parent / "hyperpod"


class HyperPodStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, platform: Platform, **kwargs: Any
    ) -> None:
        super().__init__(
            scope, construct_id, description="Neuron GenAI: SageMaker HyperPod cluster (Slurm, Trainium)", **kwargs
        )
        settings = config.hyperpod
        self.hyperpod = HyperPodCluster(
            self,
            "HyperPod",
            groups=settings.groups,
            node_recovery=settings.node_recovery,
            deep_health_checks=settings.deep_health_checks,
            partition=settings.partition,
            scripts=SCRIPTS,
            bucket=platform.buckets.models,
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
