"""The checkov findings this app keeps, each with the resources it applies to and why (tests/test_checkov.py).

checkov runs over every synthesized template of every profile. A finding that matches no entry here fails the tests,
and so does an entry that no template produces any more, so a reason cannot outlive the resource it describes. An
entry names the exact check ids, the stack units ("platform", "lifecycle", ...) and a regular expression the whole
logical id must match (the construct's path, then CDK's 8-hex hash), so it covers one resource in every profile that
has it, never a resource type.

Suppressions inside templates (`checkov:skip` metadata) are not used: this list is the one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AcceptedFinding:
    checks: tuple[str, ...]  # checkov check ids, e.g. "CKV_AWS_18"
    units: tuple[str, ...]  # the stack units the resource is in
    logical_id: str  # regular expression matched against the whole logical id
    reason: str

    def __post_init__(self) -> None:
        if len(self.reason) < 60:
            raise ValueError(f"the reason for {self.checks} on {self.logical_id} is too short: {self.reason!r}")


NETWORK_PERMISSION_REASON = (
    "ec2:DeleteNetworkInterfacePermission, part of the network-interface management SageMaker performs with the role "
    "of a job, endpoint or node in a VPC, has an optional resource type (IAM service authorization reference as "
    "packaged in parliament 1.6.4): a call authorized without a resource matches only '*'. The actions that take ARNs "
    "are scoped to this account's and region's interfaces, subnets and security groups "
    "(cdk_constructs/sagemaker_role.py vpc_network_interfaces)"
)
# aws-cdk-lib 2.275.0: CustomResourceProviderProps (description, environment, memory_size, policy_statements, timeout,
# use_cfn_response_wrapper, code_directory, runtime) and BucketDeployment's props have no reserved concurrency, dead
# letter queue or environment key; the app sets none of these by overriding CDK's generated resources.
CDK_PROVIDER = "a function CDK generates for its own custom resource"
NO_RESERVED_CONCURRENCY = (
    f"{CDK_PROVIDER}, invoked by CloudFormation once per create, update or delete of its resource: reserving "
    "concurrency would take it from the account's unreserved pool without limiting anything"
)
NO_DEAD_LETTER_QUEUE = (
    f"{CDK_PROVIDER}. CloudFormation invokes it asynchronously and waits for its response (AWS Lambda developer "
    "guide, 'Using Lambda with CloudFormation'); a failed run fails the stack operation, which is where it is seen and "
    "retried. An event in a dead-letter queue would have nothing to replay it to"
)
BUCKET_DEPLOYMENT_ENVIRONMENT = (
    "CDK's BucketDeployment handler: its only environment variable is AWS_CA_BUNDLE, the path of the runtime's CA "
    "bundle, which is public; Lambda encrypts it at rest with its service key"
)
PROVIDER_OUTSIDE_VPC = (
    f"{CDK_PROVIDER} (CustomResourceProvider has no VPC setting): it calls only the S3 or EC2 API, on the resources "
    "named in its scoped policy, and answers CloudFormation's pre-signed response URL; nothing in the VPC is reachable "
    "from it or needed by it"
)
ACCESS_LOG_TARGET = (
    "This bucket receives the other buckets' server access logs. Logging it into itself would log every log delivery "
    "(S3 user guide, 'Enabling Amazon S3 server access logging': not recommended), and into another bucket would only "
    "move the question there"
)

ACCEPTED: tuple[AcceptedFinding, ...] = (
    # The SageMaker execution roles' network-interface statement (sagemaker_role.vpc_network_interfaces).
    AcceptedFinding(("CKV_AWS_109",), ("lifecycle",), r"TrainingRolePolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON),
    AcceptedFinding(("CKV_AWS_109",), ("lifecycle",), r"ModelRolePolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON),
    AcceptedFinding(
        ("CKV_AWS_109",), ("compile", "lifecycle"), r"CompileJobsExecutionPolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON
    ),
    AcceptedFinding(("CKV_AWS_109",), ("inference",), r"ExecutionPolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON),
    AcceptedFinding(("CKV_AWS_109",), ("evaluation",), r"ProcessingRolePolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON),
    AcceptedFinding(("CKV_AWS_109",), ("hyperpod",), r"HyperPodNodeRolePolicy[0-9A-F]{8}", NETWORK_PERMISSION_REASON),
    # CDK's custom-resource functions: BucketDeployment (in the VPC), auto-delete-objects and restrict-default-SG.
    AcceptedFinding(
        ("CKV_AWS_115",), ("evaluation", "hyperpod"), r"CustomCDKBucketDeployment[0-9A-Za-z]+", NO_RESERVED_CONCURRENCY
    ),
    AcceptedFinding(
        ("CKV_AWS_116",), ("evaluation", "hyperpod"), r"CustomCDKBucketDeployment[0-9A-Za-z]+", NO_DEAD_LETTER_QUEUE
    ),
    AcceptedFinding(
        ("CKV_AWS_173",),
        ("evaluation", "hyperpod"),
        r"CustomCDKBucketDeployment[0-9A-Za-z]+",
        BUCKET_DEPLOYMENT_ENVIRONMENT,
    ),
    AcceptedFinding(
        ("CKV_AWS_115",),
        ("platform", "hyperpod"),
        r"CustomS3AutoDeleteObjectsCustomResourceProviderHandler[0-9A-F]{8}",
        NO_RESERVED_CONCURRENCY,
    ),
    AcceptedFinding(
        ("CKV_AWS_116",),
        ("platform", "hyperpod"),
        r"CustomS3AutoDeleteObjectsCustomResourceProviderHandler[0-9A-F]{8}",
        NO_DEAD_LETTER_QUEUE,
    ),
    AcceptedFinding(
        ("CKV_AWS_117",),
        ("platform", "hyperpod"),
        r"CustomS3AutoDeleteObjectsCustomResourceProviderHandler[0-9A-F]{8}",
        f"Deletes the objects of this stack's buckets when the stack deletes them (profiles that do not retain data): "
        f"{PROVIDER_OUTSIDE_VPC}",
    ),
    AcceptedFinding(
        ("CKV_AWS_115",),
        ("platform",),
        r"CustomVpcRestrictDefaultSGCustomResourceProviderHandler[0-9A-F]{8}",
        NO_RESERVED_CONCURRENCY,
    ),
    AcceptedFinding(
        ("CKV_AWS_116",),
        ("platform",),
        r"CustomVpcRestrictDefaultSGCustomResourceProviderHandler[0-9A-F]{8}",
        NO_DEAD_LETTER_QUEUE,
    ),
    AcceptedFinding(
        ("CKV_AWS_117",),
        ("platform",),
        r"CustomVpcRestrictDefaultSGCustomResourceProviderHandler[0-9A-F]{8}",
        f"Removes the rules of the VPC's default security group (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup): "
        f"{PROVIDER_OUTSIDE_VPC}",
    ),
    # The candidate cleanup's dead-letter queue (cdk_constructs/candidate_cleanup.py).
    AcceptedFinding(
        ("CKV_AWS_27",),
        ("lifecycle",),
        r"CandidateCleanupDeadLetters[0-9A-F]{8}",
        "The queue is encrypted at rest with SQS-managed keys (SqsManagedSseEnabled, sqs.QueueEncryption.SQS_MANAGED); "
        "CKV_AWS_27 recognises only a KMS key (KmsMasterKeyId). It holds the lifecycle-run events EventBridge could "
        "not deliver to the cleanup (execution ARN and status), for 14 days",
    ),
    # The access-log buckets themselves.
    AcceptedFinding(("CKV_AWS_18",), ("platform",), r"AccessLogs[0-9A-F]{8}", ACCESS_LOG_TARGET),
    AcceptedFinding(("CKV_AWS_18",), ("hyperpod",), r"ScriptsAccessLogs[0-9A-F]{8}", ACCESS_LOG_TARGET),
)
