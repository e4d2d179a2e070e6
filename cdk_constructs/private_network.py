"""A VPC with no route to the internet, reaching AWS services only through VPC endpoints."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from compliance.packs import acknowledge_in_hipaa_and_nist

# The interface endpoints a SageMaker workload needs with no internet route: control and data plane, credentials,
# logs and metrics, image pulls, the lifecycle workflow, and the Hugging Face token in Secrets Manager.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SageMakerApi": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "SageMakerRuntime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "EcrApi": ec2.InterfaceVpcEndpointAwsService.ECR,
    "EcrDocker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
}


def s3_endpoint_policy(stack: cdk.Stack) -> list[iam.PolicyStatement]:
    """The S3 gateway endpoint's policy: this account's buckets, plus the two AWS-owned buckets the platform's
    workloads must reach through it (without a policy, anything in the VPC could read or write any bucket anywhere).

    - ECR serves image layers from `prod-<region>-starport-layer-bucket` (Amazon ECR user guide, "Amazon ECR interface
      VPC endpoints", minimum S3 bucket permissions): pulls of the DLC, Clarify and evaluation images need it.
    - CloudFormation custom resources answer on a presigned URL of `cloudformation-custom-resource-response-<region
      without dashes>` (the ResponseURL in the CloudFormation request, e.g. `...-useast1.s3-us-east-1.amazonaws.com`,
      AWS Lambda developer guide "Using Lambda with CloudFormation"): CDK's BucketDeployment handlers run in the VPC.

    Both are requested with presigned URLs of AWS's own accounts, so those statements carry no account condition.
    """
    region = stack.region
    return [
        iam.PolicyStatement(
            sid="ThisAccountsBuckets",
            principals=[iam.AnyPrincipal()],
            actions=["s3:*"],
            resources=["*"],
            conditions={"StringEquals": {"s3:ResourceAccount": stack.account}},
        ),
        iam.PolicyStatement(
            sid="EcrImageLayers",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[f"arn:{stack.partition}:s3:::prod-{region}-starport-layer-bucket/*"],
        ),
        iam.PolicyStatement(
            sid="CloudFormationCustomResourceResponses",
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[
                f"arn:{stack.partition}:s3:::cloudformation-custom-resource-response-{region.replace('-', '')}/*"
            ],
        ),
    ]


class PrivateNetwork(Construct):
    """A VPC of private isolated subnets (no NAT, no internet gateway) with flow logs and VPC endpoints.

    Args:
        cidr: the VPC's address range; also the source allowed to reach the interface endpoints.
        max_azs: availability zones (one /20 private subnet each).
        key: encrypts the flow-log group.
        log_retention: of the flow-log group.

    Attributes:
        vpc: the VPC, with the S3 gateway endpoint and the interface endpoints of `INTERFACE_ENDPOINTS`.
        s3_endpoint: the S3 gateway endpoint, with its policy (`s3_endpoint_policy`).
        interface_endpoints: name -> interface endpoint, each usable by this account's principals only.
        subnets: the selection of its private isolated subnets.
        endpoint_security_group: the interface endpoints' group (HTTPS from the VPC's CIDR, no egress).
        workload_security_group: for SageMaker endpoints and jobs (HTTPS egress only).
        efa_security_group: all traffic between its own members only (EFA).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        max_azs: int,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        flow_logs = logs.LogGroup(self, "FlowLogs", encryption_key=key, retention=log_retention)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20)
            ],
            flow_logs={"all": ec2.FlowLogOptions(destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))},
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        stack = cdk.Stack.of(self)
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets]
        )
        for statement in s3_endpoint_policy(stack):
            self.s3_endpoint.add_to_policy(statement)

        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="VPC interface endpoints: HTTPS from inside the VPC",
        )
        self.endpoint_security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
        self.interface_endpoints: dict[str, ec2.InterfaceVpcEndpoint] = {}
        for name, service in INTERFACE_ENDPOINTS.items():
            endpoint = self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=self.subnets,
                private_dns_enabled=True,
                open=False,
                security_groups=[self.endpoint_security_group],
            )
            # Only this account's principals may use the endpoints: a workload in the VPC cannot reach the service
            # with credentials of another account.
            endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="ThisAccountsPrincipalsOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["*"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:PrincipalAccount": stack.account}},
                )
            )
            self.interface_endpoints[name] = endpoint

        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="SageMaker endpoints and jobs: HTTPS to VPC endpoints only",
        )
        # The subnets have no route to the internet, so HTTPS egress reaches only the interface endpoints and S3's
        # gateway endpoint (whose addresses are a regional prefix list that is unknown at synth).
        self.workload_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints (no internet route exists)"
        )

        # EFA needs all traffic to and from the members of its own security group (and nothing else).
        self.efa_security_group = ec2.SecurityGroup(
            self,
            "EfaSecurityGroup",
            vpc=self.vpc,
            allow_all_outbound=False,
            description="EFA: all traffic between members of this group",
        )
        self.efa_security_group.add_ingress_rule(self.efa_security_group, ec2.Port.all_traffic(), "EFA from members")
        self.efa_security_group.add_egress_rule(self.efa_security_group, ec2.Port.all_traffic(), "EFA to members")
        acknowledge_in_hipaa_and_nist(
            self.efa_security_group,
            "EFA requires all traffic between members of this group and allows nothing else; the rule cannot "
            "evaluate a rule whose source is a security group reference",
            "EC2RestrictedCommonPorts",
        )
        flow_log_role = self.vpc.node.find_child("all").node.find_child("IAMRole")
        acknowledge_in_hipaa_and_nist(
            flow_log_role,
            "CDK's flow-log role: its one inline policy allows writing to this VPC's flow log group only",
            "IAMNoInlinePolicy",
        )
