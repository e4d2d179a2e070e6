"""The SageMaker execution role (jobs, endpoints, HyperPod nodes) and the IAM statements every such role or SageMaker
caller repeats.

`SageMakerExecutionRole` is the one way the app builds a role SageMaker assumes; stacks give it access with its
`grant_*` methods. The statement functions are one definition each (a corrected action list is corrected for every
role); the workflows' roles (assumed by Step Functions) use `key_grants_for_sagemaker`.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from compliance.wildcards import ExpectedWildcards

# SageMaker creates, describes and removes the network interfaces of VPC jobs, endpoints and cluster nodes with the
# role's credentials. The Describe calls (and DeleteNetworkInterfacePermission, whose resource is optional) accept only
# '*'; the others take the ARNs of the interface, its subnet and security groups (and HyperPod's detach the instance),
# per the IAM service authorization reference as packaged in parliament 1.6.4 (iam_definition.json): they are scoped
# to this account and region.
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
SCOPED_NETWORK_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
)
ECR_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
LOG_WRITE_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")


def vpc_network_interfaces(
    stack: cdk.Stack, *, detach: bool = False, sid: str | None = None
) -> list[iam.PolicyStatement]:
    """The ENI management SageMaker performs for a resource in a VPC; HyperPod nodes also detach interfaces.

    Two statements: the actions with resource-level ARNs on this account's and region's interfaces, subnets and
    security groups (and instances, to detach); the rest on '*'."""
    scoped = [*SCOPED_NETWORK_INTERFACE_ACTIONS, *(["ec2:DetachNetworkInterface"] if detach else [])]
    kinds = ["network-interface", "subnet", "security-group", *(["instance"] if detach else [])]
    return [
        iam.PolicyStatement(
            sid=sid,
            actions=scoped,
            resources=[stack.format_arn(service="ec2", resource=kind, resource_name="*") for kind in kinds],
        ),
        iam.PolicyStatement(
            sid=f"{sid}Describe" if sid else None,
            actions=[a for a in NETWORK_INTERFACE_ACTIONS if a not in scoped],
            resources=["*"],
        ),
    ]


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


class SageMakerExecutionRole(Construct):
    """The role SageMaker assumes for a job, a model or a cluster node: one construct for every such role, so each is
    built from the same reviewed statements and every wildcard in it carries its own acknowledgement.

    Every statement lives in one customer-managed policy (`self.policy`), attached to `self.role`; access to data is
    added with the `grant_*` methods, which name exact bucket ARNs and prefixes (never `arn:aws:s3:::*`).

    Args:
        description: the role's description (what assumes it, for what).
        log_groups: log group names SageMaker writes for the role's resources; a name may end in `*` or `:*` when
            SageMaker names the groups or streams at run time. Default: none (no log statement).
        metric_namespaces: CloudWatch namespaces `PutMetricData` is allowed in (the action has no resource ARN, so
            the namespace condition is the scope). Default: none (no metric statement).
        image_repository_arns: ECR repositories whose images the role pulls; the registry login is added with them.
            Default: none (no ECR statement).
        in_vpc: the role's resources run in the VPC: SageMaker creates their network interfaces with the role's
            credentials. Default: False.
        detach_network_interfaces: HyperPod nodes also detach interfaces (implies `in_vpc`). Default: False.

    Attributes:
        role: the `iam.Role` (assumed by `sagemaker.amazonaws.com`).
        policy: the `iam.ManagedPolicy` holding every statement.
        wildcards: the `ExpectedWildcards` of `policy` (every wildcard statement registers its finding there).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        log_groups: Sequence[str] = (),
        metric_namespaces: Sequence[str] = (),
        image_repository_arns: Sequence[str] = (),
        in_vpc: bool = False,
        detach_network_interfaces: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"), description=description
        )
        self.policy = iam.ManagedPolicy(self, "Policy", roles=[self.role], description=description)
        self.wildcards = ExpectedWildcards.of(self.policy)
        self._ecr_login = False
        if image_repository_arns:
            self.grant_pull(image_repository_arns)
        if log_groups:
            statement = write_logs(self._stack, log_groups, sid="WriteLogs")
            self.policy.add_statements(statement)
            for arn in statement.resources:
                if "*" in arn:
                    self.wildcards.resource(arn, WILDCARD_REASONS["logs"])
        if metric_namespaces:
            self.policy.add_statements(publish_metrics(metric_namespaces, sid="PublishMetrics"))
            self.wildcards.resource("*", WILDCARD_REASONS["metrics"])
        if in_vpc or detach_network_interfaces:
            interfaces = vpc_network_interfaces(self._stack, detach=detach_network_interfaces, sid="VpcInterfaces")
            self.policy.add_statements(*interfaces)
            for arn in interfaces[0].resources:
                self.wildcards.resource(arn, WILDCARD_REASONS["network_scoped"])
            self.wildcards.resource("*", WILDCARD_REASONS["network"])

    @property
    def role_arn(self) -> str:
        return self.role.role_arn

    # ---- grants -------------------------------------------------------------------------------------------------
    def grant_pull(self, repository_arns: Sequence[str]) -> None:
        """Pull images of these ECR repositories (and the registry login, added once)."""
        self.policy.add_statements(ecr_pull(sorted(set(repository_arns), key=str)))
        if not self._ecr_login:
            self.policy.add_statements(ecr_login(sid="EcrLogin"))
            self.wildcards.resource("*", WILDCARD_REASONS["ecr_login"])
            self._ecr_login = True

    def grant_read(self, bucket: s3.IBucket, *prefixes: str, label: str) -> None:
        """GetObject under each prefix of `bucket` (an object key ending in `.tar.gz` is granted alone) and ListBucket
        conditioned on the prefixes. No prefix (or "") means the whole bucket. `label` names the bucket in reasons."""
        objects = self._objects(bucket, prefixes, label, "read")
        listing = iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        if any(prefixes):
            listing.add_condition("StringLike", {"s3:prefix": sorted({_pattern(p) for p in prefixes})})
        self.policy.add_statements(iam.PolicyStatement(actions=["s3:GetObject"], resources=objects), listing)

    def grant_write(self, bucket: s3.IBucket, *prefixes: str, label: str) -> None:
        """PutObject (and the abort of its multipart uploads) under each prefix of `bucket`; no reads."""
        objects = self._objects(bucket, prefixes, label, "write")
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=objects)
        )

    def grant_read_write(self, bucket: s3.IBucket, *prefixes: str, label: str) -> None:
        self.grant_read(bucket, *prefixes, label=label)
        self.grant_write(bucket, *prefixes, label=label)

    def grant_object(self, bucket: s3.IBucket, key: str) -> None:
        """GetObject on one object (e.g. a code archive in the CDK assets bucket): no wildcard, nothing else."""
        self.policy.add_statements(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(key)])
        )

    def grant_key(self, key: kms.IKey, *, decrypt: bool = True, encrypt: bool = True) -> None:
        """Use the platform key for S3 SSE-KMS objects: Decrypt to read, GenerateDataKey to write (exact actions, no
        CDK action wildcards)."""
        actions = [*(["kms:Decrypt"] if decrypt else []), *(["kms:GenerateDataKey", "kms:Encrypt"] if encrypt else [])]
        if not actions:
            raise ValueError("grant_key: neither decrypt nor encrypt requested")
        self.policy.add_statements(iam.PolicyStatement(actions=[*actions, "kms:DescribeKey"], resources=[key.key_arn]))

    def grant_invoke(self, endpoint_names: Sequence[str], *, reason: str | None = None) -> None:
        """InvokeEndpoint on the named endpoints (a name may end in `*`, e.g. a workflow's candidate prefix: then
        `reason` says why) and on their inference components."""
        arns = []
        for name in endpoint_names:
            arns.append(self._stack.format_arn(service="sagemaker", resource="endpoint", resource_name=name))
        self.policy.add_statements(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"], resources=sorted(set(arns), key=str))
        )
        for arn in arns:
            if "*" in arn:
                if reason is None:
                    raise ValueError(f"grant_invoke: {arn} has a wildcard; say why in `reason`")
                self.wildcards.resource(arn, reason)

    def add_to_policy(self, statement: iam.PolicyStatement, **wildcard_reasons: str) -> None:
        """Any other statement; each of its wildcards must be named: `Resource::...` / `Action::...` -> reason."""
        self.policy.add_statements(statement)
        for finding, reason in wildcard_reasons.items():
            self.wildcards._expect(finding, reason)

    def _objects(self, bucket: s3.IBucket, prefixes: Sequence[str], label: str, verb: str) -> list[str]:
        arns = []
        for prefix in prefixes or ("",):
            arn = bucket.arn_for_objects(_pattern(prefix))
            arns.append(arn)
            if "*" in _pattern(prefix):
                where = f"under {prefix}" if prefix else "anywhere"
                self.wildcards.resource(
                    arn,
                    f"The role may {verb} objects {where} in the platform's {label} bucket (exact bucket ARN); the "
                    "object names below it are chosen at run time",
                )
        return arns


def _pattern(prefix: str) -> str:
    """An object key pattern: an archive (`.tar.gz`) is one object, anything else a prefix."""
    return prefix if prefix.endswith(".tar.gz") else f"{prefix}*"


WILDCARD_REASONS = {
    "ecr_login": "ecr:GetAuthorizationToken (the registry login) accepts only '*'; image pulls are limited to the "
    "named repositories",
    "logs": "SageMaker names the log group or its streams after the job, endpoint or cluster at run time; the group "
    "name is fixed up to the wildcard",
    "metrics": "cloudwatch:PutMetricData has no resource ARN; the statement is conditioned on the SageMaker namespaces",
    "network": "ec2:Describe* (network interfaces, VPCs, DHCP options, subnets, security groups) and "
    "DeleteNetworkInterfacePermission, which SageMaker calls for resources in the VPC, accept only '*'",
    "network_scoped": "SageMaker creates the interfaces of VPC jobs, endpoints and nodes at run time, in this "
    "account's subnets and security groups: their IDs are not known before, the account and region are fixed",
}
