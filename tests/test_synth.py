"""The app as a user synthesizes it: the pinned CLI with the built-in validator on, and a synth matrix by region."""

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from compliance.packs import add_compliance_checks
from tests.support.background import cli_synth
from tests.support.harness import CDK_CONTEXT, ROOT, synth_with
from tools.synth_summary import summarize


def test_cli_synth_with_builtin_validator_and_summary() -> None:
    """`cdk synth` as `make synth` runs it: the CloudFormation validator (errors, per cdk.json) and every nag pack."""
    synth = cli_synth()  # started in the background when collection ended (tests/conftest.py)
    returncode, stderr = synth.wait()
    assert returncode == 0, stderr[-3000:]
    assert "end-of-life" not in stderr, "jsii ran on an end-of-life node"
    summary = summarize(synth.out_dir)
    assert "NeuronGenAI-dev-platform  region=us-east-1" in summary
    assert "AWS::S3::Bucket" in summary
    assert json.loads((ROOT / "cdk.json").read_text())["context"]["@aws-cdk/core:validateAgainstDefaultRules"] is True


# il-central-1 has Neuron images (a registry account CDK's facts lack) but no Clarify image: Clarify is switched off.
MATRIX: dict[str, dict[str, Any]] = {
    "us-east-1": {"region": "us-east-1"},
    "eu-west-1": {"region": "eu-west-1"},
    "il-central-1": {"region": "il-central-1", "evaluation": {"clarify": None}},
}
# The DLC registry account per region: aws/sagemaker-python-sdk image_uri_config/huggingface-neuronx.json
# 'registries' (us-east-1 and eu-west-1: 763104351884; il-central-1: 780543022126, which aws-cdk-lib's
# DLC_REPOSITORY_ACCOUNT fact lacks). dev serves TGI-neuronx: repository and tag as in tests/test_catalog.py IMAGES.
REGISTRY = {"us-east-1": "763104351884", "eu-west-1": "763104351884", "il-central-1": "780543022126"}
TGI_IMAGE = "huggingface-pytorch-tgi-inference:2.1.2-optimum0.0.28-neuronx-py310-ubuntu22.04"


@pytest.mark.parametrize("region", MATRIX)
def test_synth_matrix(region: str) -> None:
    synthesized = synth_with("dev", **MATRIX[region])
    platform = synthesized.templates["platform"]
    services = [
        r["Properties"]["ServiceName"] for r in platform["Resources"].values() if r["Type"] == "AWS::EC2::VPCEndpoint"
    ]
    assert f"com.amazonaws.{region}.sagemaker.runtime" in services
    (model,) = synthesized.resources("inference", "AWS::SageMaker::Model").values()
    image = model["Properties"]["PrimaryContainer"]["Image"]
    assert image == f"{REGISTRY[region]}.dkr.ecr.{region}.amazonaws.com/{TGI_IMAGE}"


def test_an_unacknowledged_compliance_finding_fails_synth() -> None:
    app = cdk.App(context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Careless", env=cdk.Environment(region="us-east-1"))
    s3.Bucket(stack, "PlainBucket")
    add_compliance_checks(app)
    with pytest.raises(RuntimeError, match=r"ValidationFailed: ERROR(.|\n)*'AwsSolutions::AwsSolutions-S10'"):
        app.synth()
