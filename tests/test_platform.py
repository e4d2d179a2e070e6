"""The stateful platform stack: key, buckets, network, and what dev and prod keep."""

import fnmatch
import json
import re
from typing import Any

import aws_cdk as cdk
import pytest

from cdk_constructs.private_network import INTERFACE_ENDPOINTS
from cdk_constructs.secure_bucket import access_log_bucket
from config import available_profiles
from tests.support.harness import Synthesized, synth
from tests.support.state_machines import all_states, deployed, platform_key_arn

DATA_BUCKET_IDS = ("Models", "Datasets", "Checkpoints", "Evaluation", "DataCapture")


def key_id(s: Synthesized) -> str:
    (logical_id,) = s.resources("platform", "AWS::KMS::Key")
    return logical_id


def test_customer_managed_key_rotates(dev: Synthesized) -> None:
    assert dev.only("platform", "AWS::KMS::Key")["EnableKeyRotation"] is True


# Every property that names a KMS key: KmsKeyId, VolumeKmsKeyId, KmsKeyArn, KmsMasterKeyId, KMSMasterKeyID and the
# bucket policies' s3:x-amz-server-side-encryption-aws-kms-key-id condition (IAM policies and key policies aside).
NAMES_A_KEY = re.compile(r"kms.*key|masterkey", re.IGNORECASE)
# Where a key must be, by resource type or by the request a workflow Task sends (path patterns, `*` = any index).
# A resource of a listed type without one of its paths fails: an unencrypted log group or job output is caught.
MUST_NAME_THE_KEY = {
    "AWS::Logs::LogGroup": ["KmsKeyId"],
    "AWS::SNS::Topic": ["KmsMasterKeyId"],
    "AWS::SageMaker::EndpointConfig": ["KmsKeyId"],
    "AWS::Bedrock::Guardrail": ["KmsKeyArn"],
    "AWS::SageMaker::Cluster": ["InstanceGroups/*/InstanceStorageConfigs/*/EbsVolumeConfig/VolumeKmsKeyId"],
    "AWS::SageMaker::DataQualityJobDefinition": [
        "DataQualityJobOutputConfig/KmsKeyId",
        "JobResources/ClusterConfig/VolumeKmsKeyId",
    ],
    "AWS::SageMaker::ModelQualityJobDefinition": [
        "ModelQualityJobOutputConfig/KmsKeyId",
        "JobResources/ClusterConfig/VolumeKmsKeyId",
    ],
    "AWS::SageMaker::ModelBiasJobDefinition": [
        "ModelBiasJobOutputConfig/KmsKeyId",
        "JobResources/ClusterConfig/VolumeKmsKeyId",
    ],
    "AWS::SageMaker::ModelExplainabilityJobDefinition": [
        "ModelExplainabilityJobOutputConfig/KmsKeyId",
        "JobResources/ClusterConfig/VolumeKmsKeyId",
    ],
    # Training jobs run on trn1, whose local NVMe makes SageMaker refuse VolumeKmsKeyId: only the output is named.
    "arn:aws:states:::sagemaker:createTrainingJob.sync": ["OutputDataConfig/KmsKeyId"],
    "arn:aws:states:::sagemaker:createProcessingJob.sync": [
        "ProcessingOutputConfig/KmsKeyId",
        "ProcessingResources/ClusterConfig/VolumeKmsKeyId",
    ],
    "arn:aws:states:::sagemaker:createEndpointConfig": ["KmsKeyId"],
}


def named_keys(node: Any, path: str = "") -> dict[str, Any]:
    """Path -> value of every key-naming property under `node`."""
    found: dict[str, Any] = {}
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for name, value in items:
        where = f"{path}/{name}" if path else str(name)
        if isinstance(name, str) and NAMES_A_KEY.search(name):
            found[where] = value
        else:
            found |= named_keys(value, where)
    return found


def test_every_key_a_resource_or_request_names_is_the_platform_key() -> None:
    """Exact ARNs after following every cross-stack reference: a key id where an ARN belongs, another stack's key or
    a missing key fails. The one other key is the alarm topic's own (CloudWatch may use it; the platform key it may
    not: cdk_constructs/alarm_topic.py)."""
    checked: set[str] = set()  # the resource types and Task resources seen, so that no table entry is dead
    for profile in available_profiles():
        check_keys(synth(profile), checked)
    assert set(MUST_NAME_THE_KEY) <= set(checked), set(MUST_NAME_THE_KEY) - set(checked)


def check_keys(s: Synthesized, checked: set[str]) -> None:
    value = deployed(s)
    platform_key = platform_key_arn(s)
    for unit, template in s.templates.items():
        for logical, resource in template["Resources"].items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role", "AWS::KMS::Key"):
                continue
            targets = {f"{unit}/{logical}": (kind, props)}
            if kind == "AWS::StepFunctions::StateMachine":
                states = all_states(json.loads(value(props["DefinitionString"], unit)))
                targets |= {
                    f"{unit}/{logical}/{name}": (state["Resource"], state["Parameters"])
                    for name, state in states.items()
                    if state["Type"] == "Task"
                }
                targets[f"{unit}/{logical}"] = (kind, {k: v for k, v in props.items() if k != "DefinitionString"})
            for where, (kind_or_resource, body) in targets.items():
                keys = {path: value(v, unit) for path, v in named_keys(body).items()}
                expected = platform_key
                if kind_or_resource == "AWS::SNS::Topic" and logical.startswith("AlarmTopic"):
                    (own,) = [k for k in s.resources(unit, "AWS::KMS::Key") if k.startswith("AlarmTopicKey")]
                    expected = f"arn:aws:kms:us-east-1:123456789012:key/{unit}.{own}"
                assert keys == dict.fromkeys(keys, expected), where
                for pattern in MUST_NAME_THE_KEY.get(kind_or_resource, []):
                    assert fnmatch.filter(keys, pattern), (where, pattern)
                if kind_or_resource.endswith("EndpointConfig") and "DataCaptureConfig" in body:
                    assert "DataCaptureConfig/KmsKeyId" in keys, where  # captured requests and responses
                checked.add(kind_or_resource)
    # Every data bucket (all but the server-access-log buckets: S3 delivers access logs only to SSE-S3 buckets,
    # docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html) is encrypted with the key.
    for unit in s.templates:
        for logical, resource in s.resources(unit, "AWS::S3::Bucket").items():
            sse = resource["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
            default = sse["ServerSideEncryptionByDefault"]
            if "AccessLogs" in logical:
                assert default == {"SSEAlgorithm": "AES256"}, logical
            else:
                assert value(default["KMSMasterKeyID"], unit) == platform_key, logical


def test_data_buckets_use_the_key_block_public_access_are_versioned_and_logged(dev: Synthesized) -> None:
    buckets = dev.resources("platform", "AWS::S3::Bucket")
    data = {k: v["Properties"] for k, v in buckets.items() if k.startswith(DATA_BUCKET_IDS)}
    assert len(data) == 5
    (log_bucket,) = [k for k in buckets if k.startswith("AccessLogs")]
    for logical_id, props in data.items():
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", logical_id
        assert sse["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": [key_id(dev), "Arn"]}
        assert sse["BucketKeyEnabled"] is True
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": log_bucket}


def test_every_bucket_refuses_plain_http(dev: Synthesized) -> None:
    policies = dev.resources("platform", "AWS::S3::BucketPolicy")
    assert len(policies) == 6
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for st in statements
        )


def test_vpc_has_only_isolated_subnets_and_no_internet_path(dev: Synthesized) -> None:
    template = dev.template("platform")
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    subnets = dev.resources("platform", "AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    template.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL"})


def test_s3_gateway_and_every_interface_endpoint_sagemaker_needs(dev: Synthesized) -> None:
    endpoints = [e["Properties"] for e in dev.resources("platform", "AWS::EC2::VPCEndpoint").values()]
    region_ref = {"Ref": "AWS::Region"}
    services = {
        "".join("us-east-1" if part == region_ref else part for part in p["ServiceName"]["Fn::Join"][1])
        if isinstance(p["ServiceName"], dict)
        else p["ServiceName"]
        for p in endpoints
    }
    expected = {
        "com.amazonaws.us-east-1.s3",
        "com.amazonaws.us-east-1.sagemaker.api",
        "com.amazonaws.us-east-1.sagemaker.runtime",
        "com.amazonaws.us-east-1.sts",
        "com.amazonaws.us-east-1.logs",
        "com.amazonaws.us-east-1.monitoring",
        "com.amazonaws.us-east-1.ecr.api",
        "com.amazonaws.us-east-1.ecr.dkr",
        "com.amazonaws.us-east-1.states",
        "com.amazonaws.us-east-1.secretsmanager",
    }
    assert services == expected
    assert len(endpoints) == len(INTERFACE_ENDPOINTS) + 1
    interface = [p for p in endpoints if p.get("VpcEndpointType") == "Interface"]
    assert all(p["PrivateDnsEnabled"] is True for p in interface)


def test_efa_security_group_allows_all_traffic_to_and_from_itself_only(dev: Synthesized) -> None:
    groups = dev.resources("platform", "AWS::EC2::SecurityGroup")
    (efa,) = [k for k in groups if k.startswith("NetworkEfaSecurityGroup")]
    self_ref = {"Fn::GetAtt": [efa, "GroupId"]}
    dev.template("platform").has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"IpProtocol": "-1", "GroupId": self_ref, "SourceSecurityGroupId": self_ref}
    )
    dev.template("platform").has_resource_properties(
        "AWS::EC2::SecurityGroupEgress",
        {"IpProtocol": "-1", "GroupId": self_ref, "DestinationSecurityGroupId": self_ref},
    )
    # No other rule: nothing inline on the group, and one standalone rule each way.
    assert not {"SecurityGroupIngress", "SecurityGroupEgress"} & set(groups[efa]["Properties"])
    for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        rules = [r for r in dev.resources("platform", kind).values() if r["Properties"]["GroupId"] == self_ref]
        assert len(rules) == 1, kind


def test_dev_is_destroyable_and_prod_keeps_its_data(dev: Synthesized, prod: Synthesized) -> None:
    for s, policy in ((dev, "Delete"), (prod, "Retain")):
        for kind in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            for logical_id, resource in s.resources("platform", kind).items():
                assert resource["DeletionPolicy"] == policy, (s.config.profile, logical_id)
    assert len(dev.resources("platform", "Custom::S3AutoDeleteObjects")) == 6
    assert prod.resources("platform", "Custom::S3AutoDeleteObjects") == {}


def test_prod_stack_has_termination_protection() -> None:
    import aws_cdk as cdk

    from config import load_config
    from stacks.platform import PlatformStack

    for profile, protected in (("dev", False), ("prod", True)):
        app = cdk.App()
        stack = PlatformStack(app, "P", config=load_config(profile, environ={}))
        assert stack.termination_protection is protected


def test_outputs_name_the_buckets_and_the_key(dev: Synthesized) -> None:
    outputs = dev.templates["platform"]["Outputs"]
    assert {"ModelsBucketName", "DatasetsBucketName", "KeyArn", "VpcId"} <= set(outputs)
    dev.template("platform").has_output("KeyArn", {"Value": {"Fn::GetAtt": [key_id(dev), "Arn"]}})


def test_every_bucket_of_every_profile_disables_acls_and_access_logs_expire_with_their_versions() -> None:
    # Issue 12 item 13: no bucket may accept ACLs; an access-log bucket (S3-managed keys: S3 delivers access logs only
    # there) expires its logs and, being versioned, their noncurrent versions. The HyperPod stack's own access-log
    # bucket was BucketOwnerPreferred and kept noncurrent versions forever.
    access_log_buckets = 0
    for profile in available_profiles():
        built = synth(profile)
        for unit in built.templates:
            for logical_id, bucket in built.resources(unit, "AWS::S3::Bucket").items():
                props = bucket["Properties"]
                where = f"{profile}.{unit}.{logical_id}"
                assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, where
                sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
                if sse["SSEAlgorithm"] == "AES256":
                    access_log_buckets += 1
                    (rule,) = props["LifecycleConfiguration"]["Rules"]
                    retention = built.config.platform
                    assert rule == {
                        "ExpirationInDays": retention.log_retention_days,
                        "NoncurrentVersionExpiration": {"NoncurrentDays": retention.noncurrent_version_expiration_days},
                        "Status": "Enabled",
                    }, where
    assert access_log_buckets == len(available_profiles()) + 1  # one per platform, one in the hyperpod stack


def test_an_access_log_bucket_without_the_bucket_policy_flag_is_refused() -> None:
    app = cdk.App(context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": False})
    stack = cdk.Stack(app, "NoFlag")
    with pytest.raises(ValueError, match=r"Logs: an access-log bucket without ACLs needs the context flag"):
        access_log_bucket(stack, "Logs", log_retention_days=30, noncurrent_version_expiration_days=30, retain=False)
