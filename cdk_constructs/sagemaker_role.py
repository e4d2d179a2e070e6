"""IAM statements every SageMaker execution role (jobs, endpoints, HyperPod nodes) or SageMaker caller repeats.

One definition each, so a corrected action list is corrected for every role. Each function returns the statement(s)
exactly as the roles built them; callers add them with `role.add_to_policy` or put them in a managed policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

# SageMaker creates, describes and removes the network interfaces of VPC jobs, endpoints and cluster nodes with the
# role's credentials; none of these actions accepts a resource ARN.
NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
ECR_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
LOG_WRITE_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def vpc_network_interfaces(*, detach: bool = False, sid: str | None = None) -> iam.PolicyStatement:
    """The ENI management SageMaker performs for a resource in a VPC; HyperPod nodes also detach interfaces."""
    actions = [*NETWORK_INTERFACE_ACTIONS, *(["ec2:DetachNetworkInterface"] if detach else [])]
    return iam.PolicyStatement(sid=sid, actions=actions, resources=["*"])


def ecr_pull(repository_arns: Sequence[str], *, sid: str | None = None) -> iam.PolicyStatement:
    """Pull the layers of the given repositories (the registry login is `ecr_login`)."""
    return iam.PolicyStatement(sid=sid, actions=list(ECR_PULL_ACTIONS), resources=list(repository_arns))


def ecr_login(*, sid: str | None = None) -> iam.PolicyStatement:
    """The registry authorization token: ECR accepts only '*' for it."""
    return iam.PolicyStatement(sid=sid, actions=["ecr:GetAuthorizationToken"], resources=["*"])


def write_logs(stack: cdk.Stack, log_group_names: Sequence[str], *, sid: str | None = None) -> iam.PolicyStatement:
    """Create and write the log groups SageMaker names for the role's jobs (names may end in a wildcard)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=list(LOG_WRITE_ACTIONS),
        resources=[
            stack.format_arn(
                service="logs", resource="log-group", resource_name=name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )
            for name in log_group_names
        ],
    )


def publish_metrics(namespaces: str | Sequence[str], *, sid: str | None = None) -> iam.PolicyStatement:
    """PutMetricData (no resource ARNs exist) limited to the given namespace pattern(s)."""
    value: str | list[str] = namespaces if isinstance(namespaces, str) else list(namespaces)
    return iam.PolicyStatement(
        sid=sid,
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringLike": {"cloudwatch:namespace": value}},
    )


def key_grants_for_sagemaker(key_arn: str) -> list[iam.PolicyStatement]:
    """What the caller of Create*Job needs when the request names a KMS key (VolumeKmsKeyId, output KmsKeyId):
    SageMaker describes the key and creates grants on it for the job's volumes with the caller's credentials."""
    return [
        iam.PolicyStatement(
            actions=["kms:CreateGrant"], resources=[key_arn], conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}}
        ),
        iam.PolicyStatement(actions=["kms:DescribeKey"], resources=[key_arn]),
    ]
