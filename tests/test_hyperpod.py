"""The optional HyperPod cluster: Slurm, Trainium groups on the EFA security group, deep health checks, node recovery,
training plans, lifecycle scripts from the repo in S3; off in dev."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from cdk_constructs.hyperpod_cluster import (
    CLUSTER_ENV,
    ON_CREATE,
    SCRIPTS_PREFIX,
    SSM_CHANNEL_ACTIONS,
    HyperPodCluster,
    compile_cache_prefix,
)
from config import ConfigError, load_config
from config.lifecycle import HyperPodGroup
from neuron.errors import UserError
from stacks.hyperpod import SCRIPTS, lifecycle_bucket_prefix
from tests.support.harness import Synthesized, synth
from tests.support.state_machines import deployed, platform_bucket, platform_key_arn


@pytest.fixture(scope="module")
def hyperpod() -> Synthesized:
    return synth("hyperpod")


def groups(s: Synthesized) -> dict[str, dict[str, Any]]:
    return {g["InstanceGroupName"]: g for g in s.only("hyperpod", "AWS::SageMaker::Cluster")["InstanceGroups"]}


def test_dev_has_no_hyperpod_cluster(dev: Synthesized) -> None:
    assert "hyperpod" not in dev.templates


def test_cluster_uses_slurm_automatic_recovery_and_the_efa_security_group(hyperpod: Synthesized) -> None:
    cluster = hyperpod.only("hyperpod", "AWS::SageMaker::Cluster")
    assert cluster["Orchestrator"] == {"Slurm": {"SlurmConfigStrategy": "Managed"}}
    assert cluster["NodeRecovery"] == "Automatic"
    assert "ClusterName" not in cluster  # CloudFormation generates it
    outputs = [g["Fn::GetStackOutput"]["OutputName"] for g in cluster["VpcConfig"]["SecurityGroupIds"]]
    assert len(outputs) == 2 and any("EfaSecurityGroup" in o for o in outputs)
    assert len(cluster["VpcConfig"]["Subnets"]) == 2


def test_instance_groups_map_to_slurm_roles_with_health_checks_and_plans(hyperpod: Synthesized) -> None:
    found = groups(hyperpod)
    assert {
        name: (g["InstanceType"], g["InstanceCount"], g["SlurmConfig"]["NodeType"]) for name, g in found.items()
    } == {
        "controller": ("ml.m5.2xlarge", 1, "Controller"),
        "login": ("ml.m5.xlarge", 1, "Login"),
        "trn1-compute": ("ml.trn1.32xlarge", 4, "Compute"),
    }
    compute = found["trn1-compute"]
    assert compute["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert compute["TrainingPlanArn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-plan/hyperpod-trn1-plan"
    assert compute["SlurmConfig"]["PartitionNames"] == ["trainium"]
    assert compute["ThreadsPerCore"] == 1
    ebs = compute["InstanceStorageConfigs"][0]["EbsVolumeConfig"]
    assert ebs["VolumeSizeInGB"] == 1000
    assert deployed(hyperpod)(ebs["VolumeKmsKeyId"], "hyperpod") == platform_key_arn(hyperpod)
    for name in ("controller", "login"):
        assert "OnStartDeepHealthChecks" not in found[name] and "TrainingPlanArn" not in found[name]


def test_every_group_runs_the_repo_lifecycle_scripts_uploaded_to_s3(hyperpod: Synthesized) -> None:
    for group in groups(hyperpod).values():
        config = group["LifeCycleConfig"]
        assert config["OnCreate"] == ON_CREATE
        source = config["SourceS3Uri"]["Fn::Join"][1]
        assert source[0] == "s3://" and source[-1] == f"/{SCRIPTS_PREFIX}"
    upload = hyperpod.only("hyperpod", "Custom::CDKBucketDeployment")
    assert upload["DestinationBucketKeyPrefix"] == SCRIPTS_PREFIX
    assert upload["Prune"] is True
    handlers = hyperpod.resources("hyperpod", "AWS::Lambda::Function")
    uploads = [h for k, h in handlers.items() if k.startswith("CustomCDKBucketDeployment")]
    assert uploads and all("VpcConfig" in h["Properties"] for h in uploads)  # the upload runs inside the private VPC


@pytest.mark.parametrize("script", sorted(Path(SCRIPTS).glob("*.sh")))
def test_lifecycle_scripts_are_valid_bash(script: Path) -> None:
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True).returncode == 0
    assert script.read_text().startswith("#!/bin/bash\n")


def node_role_statements(s: Synthesized) -> list[dict[str, Any]]:
    return [
        st
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for p in s.resources("hyperpod", kind).values()
        if any(r.get("Ref", "").startswith("HyperPodNodeRole") for r in p["Properties"].get("Roles", []))
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_nodes_share_the_training_jobs_compile_cache_in_the_checkpoints_bucket(hyperpod: Synthesized) -> None:
    # The scripts get the cache URL from cluster.env, which the upload writes with the checkpoints bucket's name.
    upload = hyperpod.only("hyperpod", "Custom::CDKBucketDeployment")
    markers = [m for m in upload["SourceMarkers"] if m]
    assert len(markers) == 1 and len(upload["SourceObjectKeys"]) == 2
    (bucket,) = markers[0].values()
    assert deployed(hyperpod)(bucket, "hyperpod") == platform_bucket(hyperpod, "Checkpoints")
    # The node role reads and writes that prefix (the family of the trn1 compute group) and no other of the bucket.
    cache = [st for st in node_role_statements(hyperpod) if "CheckpointsBucket" in str(st["Resource"])]
    objects = {
        action: resource["Fn::Join"][1][-1]
        for st in cache
        for action in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
        for resource in (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
        if "Fn::Join" in resource and "CheckpointsBucket" in str(resource)
    }
    assert objects == {
        "s3:GetObject": "/neuron-compile-cache/trn1/*",
        "s3:PutObject": "/neuron-compile-cache/trn1/*",
        "s3:AbortMultipartUpload": "/neuron-compile-cache/trn1/*",
    }
    (listing,) = [st for st in cache if st["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["neuron-compile-cache/trn1/*"]}}


def test_compile_cache_prefix_is_the_compute_family_and_mixed_families_are_refused() -> None:
    controller = HyperPodGroup(
        name="controller", node_type="controller", instance_type="ml.m5.2xlarge", instance_count=1
    )
    trn1 = HyperPodGroup(name="trn1", instance_type="ml.trn1.32xlarge", instance_count=2)
    trn2 = HyperPodGroup(name="trn2", instance_type="ml.trn2.48xlarge", instance_count=2)
    # The lifecycle's training jobs use s3://<checkpoints>/neuron-compile-cache/<family>/ (test_training_job.py).
    assert compile_cache_prefix([controller, trn1]) == "neuron-compile-cache/trn1/"
    assert compile_cache_prefix([controller, trn2]) == "neuron-compile-cache/trn2/"
    with pytest.raises(ValueError) as err:
        compile_cache_prefix([controller, trn1, trn2])
    assert str(err.value) == (
        "hyperpod.groups: the compute groups span instance families trn1, trn2 (trn1 (ml.trn1.32xlarge), trn2 "
        "(ml.trn2.48xlarge)); the cluster's one Slurm partition (hyperpod.partition) and its Neuron compile cache "
        "(neuron-compile-cache/<family>/) need one family: keep the compute groups of one family in this profile and "
        "deploy the other family as a separate profile"
    )


def test_node_environment_points_the_compile_cache_at_s3_not_local_nvme(tmp_path: Path) -> None:
    profile = tmp_path / "neuron-efa.sh"
    url = "s3://checkpoints-bucket/neuron-compile-cache/trn1/"
    script = str(SCRIPTS / "setup_neuron_env.sh")
    env = {"PATH": "/usr/bin:/bin", "NEURON_ENV_PROFILE": str(profile)}
    assert subprocess.run(["bash", script, url], env=env, capture_output=True, text=True).returncode == 0
    shell = subprocess.run(
        ["bash", "-c", f". {profile}; echo $NEURON_COMPILE_CACHE_URL $FI_PROVIDER"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert shell.stdout.split() == [url, "efa"]
    refused = subprocess.run(["bash", script, "/scratch/neuron-compile-cache"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and "is not an s3:// URL" in refused.stderr
    # on_create reads the URL from the file the stack uploads next to it.
    on_create = (SCRIPTS / ON_CREATE).read_text()
    assert f'source "${{HERE}}/{CLUSTER_ENV}"' in on_create
    assert 'setup_neuron_env.sh" "${NEURON_COMPILE_CACHE_URL' in on_create


def test_node_role_has_the_shared_log_metric_and_network_statements(hyperpod: Synthesized) -> None:
    statements = node_role_statements(hyperpod)
    (eni,) = [st for st in statements if "ec2:CreateNetworkInterface" in st["Action"]]
    assert sorted(eni["Action"]) == [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DetachNetworkInterface",
    ]
    # This account's and region's interfaces, subnets, security groups and (to detach) instances.
    kinds = sorted(r["Fn::Join"][1][-1] for r in eni["Resource"])
    assert kinds == [":instance/*", ":network-interface/*", ":security-group/*", ":subnet/*"]
    (describe,) = [st for st in statements if "ec2:DescribeVpcs" in st["Action"]]
    assert describe["Resource"] == "*" and sorted(describe["Action"]) == [
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
    ]
    (metrics,) = [st for st in statements if st["Action"] == "cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Clusters"]}}
    (writes,) = [st for st in statements if "logs:PutLogEvents" in st["Action"]]
    assert writes["Resource"]["Fn::Join"][1][-1] == ":log-group:/aws/sagemaker/Clusters/*"


def test_node_role_grants_what_the_cluster_instance_role_policy_grants_scoped(hyperpod: Synthesized) -> None:
    """AmazonSageMakerClusterInstanceRolePolicy: log streams/groups under /aws/sagemaker/Clusters, metrics in that
    namespace, lifecycle scripts from a sagemaker-* bucket, the SSM message channels."""
    statements = node_role_statements(hyperpod)
    (writes,) = [st for st in statements if "logs:PutLogEvents" in st["Action"]]
    assert {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"} <= set(
        writes["Action"]
    )
    (ssm,) = [st for st in statements if "ssmmessages:OpenDataChannel" in st["Action"]]
    assert sorted(ssm["Action"]) == sorted(SSM_CHANNEL_ACTIONS) and ssm["Resource"] == "*"
    # S3: only the scripts prefix of the lifecycle-scripts bucket (and the compile cache), nothing else.
    on_bucket = [st for st in statements if "LifecycleScriptsBucket" in str(st)]
    (reads,) = [st for st in on_bucket if "s3:GetObject" in st["Action"]]
    objects = [r["Fn::Join"][1] for r in reads["Resource"] if "LifecycleScriptsBucket" in str(r)]
    assert objects == [[{"Fn::GetAtt": [objects[0][0]["Fn::GetAtt"][0], "Arn"]}, f"/{SCRIPTS_PREFIX}*"]]
    (listing,) = [st for st in on_bucket if st["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{SCRIPTS_PREFIX}*"]}}
    assert {a for st in on_bucket for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])} == {
        "s3:GetObject",
        "s3:ListBucket",
    }


def test_lifecycle_scripts_bucket_is_named_sagemaker_and_protected_like_the_platform_buckets(
    hyperpod: Synthesized,
) -> None:
    buckets = hyperpod.resources("hyperpod", "AWS::S3::Bucket")
    (key,) = [k for k in buckets if k.startswith("LifecycleScriptsBucket")]
    bucket = buckets[key]["Properties"]
    delimiter, parts = bucket["BucketName"]["Fn::Join"]
    assert (
        delimiter == "-"
        and parts[0].startswith("sagemaker-")
        and parts[1:]
        == [
            {"Ref": "AWS::AccountId"},
            {"Ref": "AWS::Region"},
        ]
    )
    assert parts[0] == lifecycle_bucket_prefix("NeuronGenAI", "hyperpod")
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert deployed(hyperpod)(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"], "hyperpod") == (
        platform_key_arn(hyperpod)
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith("ScriptsAccessLogs")
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    policies = hyperpod.resources("hyperpod", "AWS::S3::BucketPolicy")
    (policy,) = [p for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": key}]
    denies = [st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st["Effect"] == "Deny"]
    assert {"aws:SecureTransport": "false"} in [st["Condition"].get("Bool") for st in denies]
    # Every instance group reads its scripts from that bucket.
    for group in groups(hyperpod).values():
        assert group["LifeCycleConfig"]["SourceS3Uri"]["Fn::Join"][1][1] == {"Ref": key}


def test_lifecycle_bucket_names_fit_s3_and_differ_per_deployment() -> None:
    names = {lifecycle_bucket_prefix(p, q) for p in ("NeuronGenAI", "Team") for q in ("dev", "a" * 40, "My_Profile")}
    assert len(names) == 6
    for name in names:
        assert name.startswith("sagemaker-") and len(name) + 1 + 12 + 1 + 14 <= 63
        assert all(c.islower() or c.isdigit() or c == "-" for c in name)


def test_a_scripts_bucket_not_named_sagemaker_is_refused() -> None:
    settings = load_config("hyperpod", environ={}).hyperpod
    stack = cdk.Stack(cdk.App(), "Bare")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    group = ec2.SecurityGroup(stack, "Group", vpc=vpc)
    bucket = s3.Bucket(stack, "Scripts", bucket_name="models-bucket-of-mine")
    with pytest.raises(UserError) as err:
        HyperPodCluster(
            stack,
            "Cluster",
            groups=settings.groups,
            node_recovery="Automatic",
            deep_health_checks=(),
            partition="trainium",
            scripts=SCRIPTS,
            bucket=bucket,
            compile_cache_bucket=bucket,
            key=kms.Key(stack, "Key"),
            vpc=vpc,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[group],
            upload_security_group=group,
            log_retention=logs.RetentionDays.ONE_WEEK,
        )
    assert str(err.value) == (
        "HyperPod lifecycle scripts in bucket 'models-bucket-of-mine': SourceS3Uri must start with s3://sagemaker- "
        "(the cluster instance role policy reads only such buckets); use a bucket named sagemaker-..."
    )


@pytest.mark.parametrize("partition", ["trn_1", "ml.trn1.32xlarge", "-trainium", "trainium-", ""])
def test_partition_names_follow_the_api_pattern(partition: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config("hyperpod", {"hyperpod": {"partition": partition}}, environ={})
    assert f"hyperpod.partition = {partition!r}: String should match pattern '^[a-zA-Z0-9](-*[a-zA-Z0-9])*$'" in str(
        err.value
    )
    assert load_config("hyperpod", {"hyperpod": {"partition": "trn1-32xl--a"}}, environ={}).hyperpod.partition


def fake_node(tmp_path: Path, *, active: bool, mounted: bool) -> dict[str, str]:
    """A PATH with `systemctl` answering for dlami-nvme.service and `mountpoint` answering for the NVMe mount."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answer = "active" if active else "activating"
    (bin_dir / "systemctl").write_text(
        f'#!/bin/bash\ncase "$*" in *ActiveState*) echo {answer};; *ExecMainStatus*) echo 0;; esac\n'
    )
    (bin_dir / "mountpoint").write_text(f"#!/bin/bash\nexit {0 if mounted else 1}\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "NVME_MOUNT": str(tmp_path / "nvme"),
        "NVME_WAIT_SECONDS": "1",
        "NVME_CHECK_SECONDS": "1",
    }


def test_scratch_reuses_the_instance_store_the_image_mounted(tmp_path: Path) -> None:
    env = fake_node(tmp_path, active=True, mounted=True)
    (tmp_path / "nvme").mkdir()
    scratch = tmp_path / "scratch"
    run = subprocess.run(
        ["bash", str(SCRIPTS / "use_instance_store.sh"), str(scratch)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert scratch.is_symlink() and scratch.resolve() == (tmp_path / "nvme/scratch").resolve()
    assert oct((tmp_path / "nvme/scratch").stat().st_mode)[-4:] == "1777"


def test_without_instance_store_scratch_stays_on_the_root_volume(tmp_path: Path) -> None:
    env = fake_node(tmp_path, active=False, mounted=False)  # the service never becomes active: waits 1 s, moves on
    scratch = tmp_path / "scratch"
    run = subprocess.run(
        ["bash", str(SCRIPTS / "use_instance_store.sh"), str(scratch)], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert scratch.is_dir() and not scratch.is_symlink()
    assert "dlami-nvme.service not active after 1 s" in run.stdout and "stays on the root volume" in run.stdout


def test_no_lifecycle_script_formats_or_stripes_disks() -> None:
    for script in SCRIPTS.glob("*.sh"):
        text = script.read_text()
        body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert not {"mdadm", "mkfs", "wipefs"} & set(body.replace("/", " ").replace(".", " ").split()), script.name
    assert 'use_instance_store.sh" /scratch' in (SCRIPTS / ON_CREATE).read_text()
