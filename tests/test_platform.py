"""The stateful platform stack: key, buckets, network, and what dev and prod keep."""

from cdk_constructs.private_network import INTERFACE_ENDPOINTS
from tests.support.harness import Synthesized

DATA_BUCKET_IDS = ("Models", "Datasets", "Checkpoints", "Evaluation", "DataCapture")


def key_id(s: Synthesized) -> str:
    (logical_id,) = s.resources("platform", "AWS::KMS::Key")
    return logical_id


def test_customer_managed_key_rotates(dev: Synthesized) -> None:
    assert dev.only("platform", "AWS::KMS::Key")["EnableKeyRotation"] is True


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
