"""The optional HyperPod cluster: Slurm, Trainium groups on the EFA security group, deep health checks, node recovery,
training plans, lifecycle scripts from the repo in S3; off in dev."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cdk_constructs.hyperpod_cluster import ON_CREATE, SCRIPTS_PREFIX
from stacks.hyperpod import SCRIPTS
from tests.harness import Synthesized, synth


@pytest.fixture(scope="module")
def hyperpod() -> Synthesized:
    return synth("hyperpod")


def groups(s: Synthesized) -> dict[str, dict]:
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
    assert {name: (g["InstanceType"], g["InstanceCount"], g["SlurmConfig"]["NodeType"]) for name, g in
            found.items()} == {"controller": ("ml.m5.2xlarge", 1, "Controller"), "login": ("ml.m5.xlarge", 1, "Login"),
                               "trn1-compute": ("ml.trn1.32xlarge", 4, "Compute")}
    compute = found["trn1-compute"]
    assert compute["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert compute["TrainingPlanArn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-plan/hyperpod-trn1-plan"
    assert compute["SlurmConfig"]["PartitionNames"] == ["trainium"]
    assert compute["ThreadsPerCore"] == 1
    ebs = compute["InstanceStorageConfigs"][0]["EbsVolumeConfig"]
    assert ebs["VolumeSizeInGB"] == 1000 and "DataKey" in ebs["VolumeKmsKeyId"]["Fn::GetStackOutput"]["OutputName"]
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
    assert all("VpcConfig" in h["Properties"] for h in handlers.values())  # the upload runs inside the private VPC


@pytest.mark.parametrize("script", sorted(Path(SCRIPTS).glob("*.sh")))
def test_lifecycle_scripts_are_valid_bash(script: Path) -> None:
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True).returncode == 0
    assert script.read_text().startswith("#!/bin/bash\n")
