"""The execution role of the inference endpoint: only its model prefixes, its images, its logs and metrics, the key."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs import sagemaker_role as role_statements
from compliance.wildcards import acknowledge_wildcards

# CloudWatch namespaces a SageMaker inference container publishes to.
METRIC_NAMESPACES = ("/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents", "AWS/SageMaker")
# Log groups SageMaker names after the endpoint or inference component (names generated at deployment).
LOG_GROUPS = ("/aws/sagemaker/Endpoints/*", "/aws/sagemaker/InferenceComponents/*")


class InferenceExecutionRole(Construct):
    """The role SageMaker assumes to pull images, read model data, write logs, metrics and captured data."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        models_bucket: s3.IBucket,
        model_prefixes: Sequence[str],
        capture_bucket: s3.IBucket | None,
        capture_prefix: str,
        image_repository_arns: Sequence[str],
        in_vpc: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker inference endpoint execution role (model prefixes, images, logs, metrics)",
        )
        statements = [
            role_statements.ecr_pull(sorted(set(image_repository_arns)), sid="PullServingImages"),
            role_statements.ecr_login(sid="EcrLogin"),
            role_statements.write_logs(stack, LOG_GROUPS, sid="WriteLogs"),
            role_statements.publish_metrics(METRIC_NAMESPACES, sid="PublishMetrics"),
            iam.PolicyStatement(
                sid="UseDataKey", actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"], resources=[key.key_arn]
            ),
        ]
        # Object ARNs name the account's buckets by prefix (bucket-scoped ARNs from the platform stack would be
        # cross-stack tokens no reviewer can read); the platform key, the account condition and ListBucket on the one
        # bucket keep the reach to this platform's data.
        own_account = {"StringEquals": {"s3:ResourceAccount": stack.account}}
        if model_prefixes:
            statements += [
                iam.PolicyStatement(
                    sid="ReadModelData",
                    actions=["s3:GetObject"],
                    conditions=own_account,
                    resources=sorted(
                        {
                            f"arn:{stack.partition}:s3:::*/{p}{'' if p.endswith('.tar.gz') else '*'}"
                            for p in model_prefixes
                        }
                    ),
                ),
                iam.PolicyStatement(
                    sid="ListModelData",
                    actions=["s3:ListBucket"],
                    resources=[models_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": sorted({f"{p}*" for p in model_prefixes})}},
                ),
            ]
        if capture_bucket is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="WriteCapturedData",
                    actions=["s3:PutObject"],
                    conditions=own_account,
                    resources=[f"arn:{stack.partition}:s3:::*/{capture_prefix}/*"],
                )
            )
        if in_vpc:
            statements.append(role_statements.vpc_network_interfaces(sid="AttachToVpc"))
        self.policy = iam.ManagedPolicy(self, "Policy", statements=statements, roles=[self.role])
        acknowledge_wildcards(
            self.policy,
            "Each wildcard is scoped: ECR login and PutMetricData (namespace-conditioned) have no resource ARNs; "
            "log groups are named after endpoint names generated at deployment; object ARNs end in this model's "
            "own prefix (account-conditioned, readable only with the platform key); VPC network-interface actions "
            "take no resource-level scoping",
        )
