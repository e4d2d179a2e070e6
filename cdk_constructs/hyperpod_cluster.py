"""A SageMaker HyperPod cluster with Slurm orchestration: Trainium compute groups on the EFA security group, deep health
checks when nodes start, automatic node recovery, and the repo's lifecycle scripts uploaded to S3 for every node.

HyperPod reads the lifecycle scripts from an S3 prefix (not an archive), so the scripts folder is copied there with a
BucketDeployment whose function runs inside the private VPC.
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

from cdk_constructs.compliance import acknowledge, acknowledge_in_hipaa_and_nist
from cdk_constructs.granular_acknowledgment import acknowledge_managed_policies, acknowledge_wildcards
from config.lifecycle import HyperPodGroup

ON_CREATE = "on_create.sh"
SCRIPTS_PREFIX = "hyperpod/lifecycle/"


class HyperPodCluster(Construct):
    """`self.cluster` (CfnCluster), `self.role` (the nodes' execution role), `self.scripts` (the S3 upload)."""

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
        key: kms.IKey,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_groups: Sequence[ec2.ISecurityGroup],
        upload_security_group: ec2.ISecurityGroup,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (scripts / ON_CREATE).is_file():
            raise ValueError(f"HyperPod lifecycle scripts: {scripts / ON_CREATE} is missing; HyperPod runs it on "
                             "every new node")
        stack = cdk.Stack.of(self)
        self.scripts = s3_deployment.BucketDeployment(
            self, "LifecycleScripts", sources=[s3_deployment.Source.asset(str(scripts))], destination_bucket=bucket,
            destination_key_prefix=SCRIPTS_PREFIX, prune=True, retain_on_delete=False, vpc=vpc, vpc_subnets=subnets,
            security_groups=[upload_security_group],
            log_group=logs.LogGroup(self, "UploadLogs", encryption_key=key, retention=log_retention),
        )
        self.role = iam.Role(self, "NodeRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                             description="HyperPod cluster nodes: lifecycle scripts, logs, metrics, network")
        bucket.grant_read(self.role, f"{SCRIPTS_PREFIX}*")
        key.grant_encrypt_decrypt(self.role)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[stack.format_arn(service="logs", resource="log-group", resource_name="/aws/sagemaker/Clusters/*",
                                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)],
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        ))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                     "ec2:DeleteNetworkInterfacePermission", "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs",
                     "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
                     "ec2:DetachNetworkInterface"],
            resources=["*"],
        ))
        acknowledge_wildcards(self.role, "CloudWatch metrics (SageMaker namespaces only) and the nodes' network "
                                     "interfaces have no resource-level ARNs; S3 access is limited to the "
                                     "lifecycle-script prefix; cluster log groups are named by SageMaker")
        acknowledge_in_hipaa_and_nist(self.role, "The node role's grants are specific to this cluster",
                                      "IAMNoInlinePolicy")

        source = f"s3://{bucket.bucket_name}/{SCRIPTS_PREFIX}"
        self.cluster = sagemaker.CfnCluster(
            self, "Cluster",
            instance_groups=[self._group(g, source, key, deep_health_checks, partition) for g in groups],
            node_recovery=node_recovery,
            orchestrator=sagemaker.CfnCluster.OrchestratorProperty(
                slurm=sagemaker.CfnCluster.ClusterOrchestratorSlurmConfigProperty(slurm_config_strategy="Managed")),
            vpc_config=sagemaker.CfnCluster.VpcConfigProperty(
                security_group_ids=[g.security_group_id for g in security_groups],
                subnets=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
            ),
        )
        self.cluster.node.add_dependency(self.scripts)
        self.cluster.node.add_dependency(self.role)
        self._acknowledge_upload_function(stack)

    def _group(self, group: HyperPodGroup, source: str, key: kms.IKey, checks: Sequence[str],
               partition: str) -> sagemaker.CfnCluster.ClusterInstanceGroupProperty:
        compute = group.node_type == "compute"
        return sagemaker.CfnCluster.ClusterInstanceGroupProperty(
            instance_group_name=group.name, instance_type=group.instance_type, instance_count=group.instance_count,
            execution_role=self.role.role_arn, threads_per_core=group.threads_per_core,
            life_cycle_config=sagemaker.CfnCluster.ClusterLifeCycleConfigProperty(
                source_s3_uri=source, on_create=ON_CREATE),
            instance_storage_configs=[sagemaker.CfnCluster.ClusterInstanceStorageConfigProperty(
                ebs_volume_config=sagemaker.CfnCluster.ClusterEbsVolumeConfigProperty(
                    volume_size_in_gb=group.volume_size_gb, volume_kms_key_id=key.key_arn))],
            # Deep health checks stress the accelerators and EFA: they apply to Trainium compute nodes only.
            on_start_deep_health_checks=list(checks) if compute and checks else None,
            training_plan_arn=group.training_plan_arn,
            slurm_config=sagemaker.CfnCluster.ClusterSlurmConfigProperty(
                node_type=group.slurm_node_type, partition_names=[partition] if compute else None),
        )

    @staticmethod
    def _acknowledge_upload_function(stack: cdk.Stack) -> None:
        """BucketDeployment's handler is a stack-level singleton; acknowledge its findings there, with reasons."""
        for child in stack.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge_managed_policies(
                    child, "CDK's BucketDeployment handler uses the AWS managed policies for basic Lambda execution "
                    "and VPC access", "service-role/AWSLambdaBasicExecutionRole",
                    "service-role/AWSLambdaVPCAccessExecutionRole")
                acknowledge_wildcards(child, "CDK's BucketDeployment handler reads the CDK asset bucket and "
                                             "writes the lifecycle-script prefix; its wildcards come from CDK")
                acknowledge(child, "The runtime is pinned by aws-cdk-lib's BucketDeployment", "AwsSolutions-L1")
                acknowledge_in_hipaa_and_nist(
                    child, "A deploy-time custom resource handler invoked only by CloudFormation: no concurrency "
                    "limit or dead-letter queue applies (CloudFormation receives its failures)",
                    "LambdaConcurrency", "LambdaDLQ", "IAMNoInlinePolicy")
