"""A SageMaker HyperPod cluster with Slurm orchestration: Trainium compute groups on the EFA security group, deep health
checks when nodes start, automatic node recovery, and the repo's lifecycle scripts uploaded to S3 for every node.

HyperPod reads the lifecycle scripts from an S3 prefix (not an archive), so the scripts folder is copied there with a
BucketDeployment whose function runs inside the private VPC, together with `cluster.env`: the settings the scripts
read that only exist at deploy time (the Neuron compile cache URL in the checkpoints bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from compliance.packs import acknowledge, acknowledge_in_hipaa_and_nist
from compliance.wildcards import acknowledge_managed_policies, expect_bucket_deployment_wildcards
from config.lifecycle import HyperPodGroup
from neuron.catalog import instance
from neuron.errors import UserError
from sagemaker_requests import storage_layout

ON_CREATE = "on_create.sh"
# The HyperPod cluster agent's needs, as AWS's managed AmazonSageMakerClusterInstanceRolePolicy grants them
# (https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-AmazonSageMakerClusterInstanceRolePolicy.html,
# checked 2026-11): log streams and groups under /aws/sagemaker/Clusters/, metrics in the /aws/sagemaker/Clusters
# namespace, the lifecycle scripts from a `sagemaker-*` bucket of the account, and the SSM message channels through
# which operators reach the nodes (`aws ssm start-session`). The role below grants the same, scoped to this cluster's
# bucket prefix, plus the compile cache, the key and the network interfaces.
CLUSTER_METRICS_NAMESPACE = "/aws/sagemaker/Clusters"
SSM_CHANNEL_ACTIONS = (
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)
# ClusterLifeCycleConfig.SourceS3Uri (botocore 1.44.8 sagemaker service model): "Make sure that the S3 bucket path
# starts with s3://sagemaker-".
LIFECYCLE_BUCKET_PREFIX = "sagemaker-"
SCRIPTS_PREFIX = "hyperpod/lifecycle/"
CLUSTER_ENV = "cluster.env"  # read by on_create.sh


def compile_cache_prefix(groups: Sequence[HyperPodGroup]) -> str:
    """The compile cache prefix of the cluster's compute family (`neuron-compile-cache/trn1/`).

    Graphs compiled for one Trainium generation do not run on another, and Slurm jobs carry the environment of the
    shell that submitted them, so the cluster has one cache URL: its compute groups must share one family.
    """
    compute = [g for g in groups if g.node_type == "compute"]
    families = sorted({instance(g.instance_type).family for g in compute})
    if len(families) != 1:
        found = ", ".join(f"{g.name} ({g.instance_type})" for g in compute) or "none"
        raise UserError(
            f"hyperpod.groups: the compute groups span instance families {', '.join(families) or 'none'} ({found}); "
            f"the cluster's one Slurm partition (hyperpod.partition) and its Neuron compile cache "
            f"({storage_layout.COMPILE_CACHE_PREFIX}<family>/) need one family: keep the compute groups of one "
            "family in this profile and deploy the other family as a separate profile"
        )
    return storage_layout.compile_cache_prefix(families[0])


class HyperPodCluster(Construct):
    """A HyperPod Slurm cluster whose nodes run the repo's lifecycle scripts.

    Args:
        groups: the instance groups (controller, login, compute); the compute groups share one instance family.
        node_recovery: "Automatic" or "None".
        deep_health_checks: checks run on compute nodes when they start (none: no checks).
        partition: the Slurm partition of the compute groups.
        scripts: the local folder of lifecycle scripts (must contain on_create.sh).
        bucket: where the scripts are uploaded (under hyperpod/lifecycle/); its name must start with `sagemaker-` (the
            API's requirement for SourceS3Uri; checked here when the name is known at synth).
        compile_cache_bucket: holds the Neuron compile cache of the compute family (read/write for the nodes).
        key: encrypts the nodes' volumes and the upload's logs.
        vpc, subnets, security_groups: the nodes' network.
        upload_security_group: the upload function's security group.
        log_retention: of the upload function's logs.

    Attributes: `cluster` (CfnCluster), `execution` (the nodes' SageMakerExecutionRole), `role` (its iam.Role),
    `scripts` (the S3 upload), `compile_cache_url`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        groups: Sequence[HyperPodGroup],
        node_recovery: str,
        deep_health_checks: Sequence[str],
        partition: str,
        scripts: Path,
        bucket: s3.IBucket,
        compile_cache_bucket: s3.IBucket,
        key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_groups: Sequence[ec2.ISecurityGroup],
        upload_security_group: ec2.ISecurityGroup,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (scripts / ON_CREATE).is_file():
            raise ValueError(
                f"HyperPod lifecycle scripts: {scripts / ON_CREATE} is missing; HyperPod runs it on every new node"
            )
        name = getattr(bucket.node.default_child, "bucket_name", None)  # the physical name, when one is set
        if isinstance(name, str) and not cdk.Token.is_unresolved(name) and not name.startswith(LIFECYCLE_BUCKET_PREFIX):
            raise UserError(
                f"HyperPod lifecycle scripts in bucket {name!r}: SourceS3Uri must start with "
                f"s3://{LIFECYCLE_BUCKET_PREFIX} (the cluster instance role policy reads only such buckets); use a "
                f"bucket named {LIFECYCLE_BUCKET_PREFIX}..."
            )
        stack = cdk.Stack.of(self)
        cache_prefix = compile_cache_prefix(groups)
        self.compile_cache_url = f"s3://{compile_cache_bucket.bucket_name}/{cache_prefix}"
        settings = s3_deployment.Source.data(CLUSTER_ENV, f"NEURON_COMPILE_CACHE_URL={self.compile_cache_url}\n")
        self.scripts = s3_deployment.BucketDeployment(
            self,
            "LifecycleScripts",
            sources=[s3_deployment.Source.asset(str(scripts)), settings],
            destination_bucket=bucket,
            destination_key_prefix=SCRIPTS_PREFIX,
            prune=True,
            retain_on_delete=False,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[upload_security_group],
            log_group=logs.LogGroup(self, "UploadLogs", encryption_key=key, retention=log_retention),
        )
        self.execution = SageMakerExecutionRole(
            self,
            "NodeRole",
            description="HyperPod cluster nodes: the cluster agent (logs, metrics, lifecycle scripts, SSM), compile "
            "cache, network",
            log_groups=["/aws/sagemaker/Clusters/*"],
            metric_namespaces=[CLUSTER_METRICS_NAMESPACE],
            detach_network_interfaces=True,
        )
        self.role = self.execution.role
        # SSM sessions to the nodes (`aws ssm start-session`), as the managed cluster instance role policy allows.
        self.execution.policy.add_statements(
            iam.PolicyStatement(sid="SsmSessionChannels", actions=list(SSM_CHANNEL_ACTIONS), resources=["*"])
        )
        self.execution.wildcards.resource(
            "*", "ssmmessages channel actions (SSM sessions to the cluster nodes) have no resource-level ARNs"
        )
        self.execution.grant_read(bucket, SCRIPTS_PREFIX, label="sagemaker-* bucket (lifecycle scripts)")
        self.execution.grant_read_write(compile_cache_bucket, cache_prefix, label="checkpoints (compile cache)")
        self.execution.grant_key(key)

        source = f"s3://{bucket.bucket_name}/{SCRIPTS_PREFIX}"
        self.cluster = sagemaker.CfnCluster(
            self,
            "Cluster",
            instance_groups=[self._group(g, source, key, deep_health_checks, partition) for g in groups],
            node_recovery=node_recovery,
            orchestrator=sagemaker.CfnCluster.OrchestratorProperty(
                slurm=sagemaker.CfnCluster.ClusterOrchestratorSlurmConfigProperty(slurm_config_strategy="Managed")
            ),
            vpc_config=sagemaker.CfnCluster.VpcConfigProperty(
                security_group_ids=[g.security_group_id for g in security_groups],
                subnets=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
            ),
        )
        self.cluster.node.add_dependency(self.scripts)
        self.cluster.node.add_dependency(self.execution)
        self._acknowledge_upload_function(stack, bucket)

    def _group(
        self, group: HyperPodGroup, source: str, key: kms.IKey, checks: Sequence[str], partition: str
    ) -> sagemaker.CfnCluster.ClusterInstanceGroupProperty:
        compute = group.node_type == "compute"
        return sagemaker.CfnCluster.ClusterInstanceGroupProperty(
            instance_group_name=group.name,
            instance_type=group.instance_type,
            instance_count=group.instance_count,
            execution_role=self.role.role_arn,
            threads_per_core=group.threads_per_core,
            life_cycle_config=sagemaker.CfnCluster.ClusterLifeCycleConfigProperty(
                source_s3_uri=source, on_create=ON_CREATE
            ),
            instance_storage_configs=[
                sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                    ebs_volume_config=sagemaker.CfnCluster.ClusterEbsVolumeConfigProperty(
                        volume_size_in_gb=group.volume_size_gb, volume_kms_key_id=key.key_arn
                    )
                )
            ],
            # Deep health checks stress the accelerators and EFA: they apply to Trainium compute nodes only.
            on_start_deep_health_checks=list(checks) if compute and checks else None,
            training_plan_arn=group.training_plan_arn,
            slurm_config=sagemaker.CfnCluster.ClusterSlurmConfigProperty(
                node_type=group.slurm_node_type, partition_names=[partition] if compute else None
            ),
        )

    @staticmethod
    def _acknowledge_upload_function(stack: cdk.Stack, bucket: s3.IBucket) -> None:
        """BucketDeployment's handler is a stack-level singleton; acknowledge its findings there, with reasons."""
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge_managed_policies(
                    child,
                    "CDK's BucketDeployment handler uses the AWS managed policies for basic Lambda execution "
                    "and VPC access",
                    "service-role/AWSLambdaBasicExecutionRole",
                    "service-role/AWSLambdaVPCAccessExecutionRole",
                )
                expect_bucket_deployment_wildcards(
                    child,
                    bucket,
                    "CDK's BucketDeployment handler copies the lifecycle scripts from the CDK asset bucket to the "
                    "hyperpod/lifecycle/ prefix during deployments only; its grant sets are CDK's",
                )
                acknowledge(child, "The runtime is pinned by aws-cdk-lib's BucketDeployment", "AwsSolutions-L1")
                acknowledge_in_hipaa_and_nist(
                    child,
                    "A deploy-time custom resource handler invoked only by CloudFormation: no concurrency "
                    "limit or dead-letter queue applies (CloudFormation receives its failures)",
                    "LambdaConcurrency",
                    "LambdaDLQ",
                    "IAMNoInlinePolicy",
                )
