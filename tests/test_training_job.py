"""The training jobs as the workflow sends them: image, instances, EFA, compile cache, channels, encryption,
checkpoints, spot, warm pools, retries, VPC, isolation, code asset, hyperparameters, training plans."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from cdk_constructs.source_archive import reproducible_tarball
from config import available_profiles
from config.training import TRAINING_SOURCE_DIR
from tests.support.harness import Synthesized, synth
from tests.support.state_machines import (
    all_states,
    definition,
    deployed_definition,
    platform_key_arn,
    sagemaker_requests,
)
from tests.support.state_machines import (
    platform_bucket as bucket,
)

# The HF training image, written out: registry account from aws/sagemaker-python-sdk a2481266
# sagemaker-core/src/sagemaker/core/image_uri_config/huggingface-neuronx.json, training "4.55.4" registries
# ("us-east-1": "763104351884", "us-west-2": "763104351884"); tag from aws/deep-learning-containers e0ecedea
# docs/src/data/huggingface-pytorch-training-neuronx/2.8-neuronx-sdk2.26.0.yml (tag: "2.8.0-transformers4.55.4-...").
HF_TRAINING_IMAGE = (
    "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training-neuronx:"
    "2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04"
)


def request(s: Synthesized, state: str = "FineTune") -> dict[str, Any]:
    operation, params = sagemaker_requests(definition(s.templates["lifecycle"])["States"])[state]
    assert operation == "CreateTrainingJob"
    return params


def sent(s: Synthesized, state: str = "FineTune") -> dict[str, Any]:
    """The request with every reference followed across stacks: buckets as `platform.<logical id>`, the key's ARN."""
    params: dict[str, Any] = all_states(deployed_definition(s, "lifecycle"))[state]["Parameters"]
    return params


def security_group(s: Synthesized, name: str) -> str:
    (logical,) = [k for k in s.resources("platform", "AWS::EC2::SecurityGroup") if k.startswith(f"Network{name}")]
    return logical


def channels(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["ChannelName"]: c for c in params["InputDataConfig"]}


def test_default_fine_tune_is_one_trn1_2xlarge_from_the_catalog_image(dev: Synthesized) -> None:
    params = request(dev)
    assert params["AlgorithmSpecification"]["TrainingImage"] == HF_TRAINING_IMAGE.format(region="us-east-1")
    assert params["ResourceConfig"] == {"InstanceType": "ml.trn1.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 256}
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 14400}
    assert params["EnableManagedSpotTraining"] is False
    assert params["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    # Single node: no EFA variables and only the workload security group.
    assert not {"FI_PROVIDER", "FI_EFA_USE_DEVICE_RDMA"} & set(params["Environment"])
    assert sent(dev)["VpcConfig"] == {
        "SecurityGroupIds": [f"platform.{security_group(dev, 'Workload')}.GroupId"],
        "Subnets": [f"platform.{k}" for k in dev.resources("platform", "AWS::EC2::Subnet")],  # both isolated subnets
    }
    assert params["EnableInterContainerTrafficEncryption"] is True
    assert params["EnableNetworkIsolation"] is False


def test_outputs_checkpoints_and_cache_are_encrypted_and_placed(dev: Synthesized) -> None:
    params = sent(dev)
    # The next stage reads an uncompressed model directory (CompressionType NONE), encrypted with the platform key.
    assert params["OutputDataConfig"] == {
        "S3OutputPath": f"s3://{bucket(dev, 'Models')}/training-output",
        "KmsKeyId": platform_key_arn(dev),
        "CompressionType": "NONE",
    }
    # One checkpoint prefix per run: a spot interruption or a retry resumes from the run's own checkpoints.
    assert params["CheckpointConfig"] == {
        "S3Uri.$": f"States.Format('s3://{bucket(dev, 'Checkpoints')}/checkpoints/fine-tune/{{}}/', $.run.id)",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert "VolumeKmsKeyId" not in params["ResourceConfig"]  # trn1 has local NVMe: SageMaker rejects a volume key
    assert params["Environment"] == {
        "NEURON_CC_FLAGS": "--model-type=transformer",
        # What optimum-neuron's own launch scripts export (huggingface/optimum-neuron v0.4.1
        # examples/training/llama/finetune_llama.sh L4-7, as cited in sagemaker_requests/training_job.py).
        "NEURON_FUSE_SOFTMAX": "1",
        "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "3",
        "MALLOC_ARENA_MAX": "64",
        # An s3:// URL is a shared persistent cache (aws-neuron/aws-neuron-sdk 4c317caa
        # general/arch/neuron-features/neuron-caching.rst, "NEURON_COMPILE_CACHE_URL=<cache_url>"); one per instance
        # family, since graphs compiled for trn1 do not run on trn2.
        "NEURON_COMPILE_CACHE_URL": f"s3://{bucket(dev, 'Checkpoints')}/neuron-compile-cache/trn1/",
    }


def test_channels_read_datasets_with_fastfile_and_the_model_from_the_run(dev: Synthesized) -> None:
    found = channels(sent(dev))
    assert set(found) == {"code", "train", "validation", "model"}
    train = found["train"]
    assert train["InputMode"] == "FastFile"
    assert train["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{bucket(dev, 'Datasets')}/fine-tune/train/"
    assert found["validation"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{bucket(dev, 'Datasets')}/fine-tune/validation/"
    )
    assert found["model"]["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.model_source.s3_uri"


def test_code_ships_as_a_reproducible_asset_read_through_the_code_channel(dev: Synthesized) -> None:
    params = request(dev)
    code_uri = channels(params)["code"]["DataSource"]["S3DataSource"]["S3Uri"]
    stack = dev.stacks["lifecycle"]
    file_name = stack.code.file_name  # type: ignore[attr-defined]
    # The default bootstrap's file-asset bucket (cdk-hnb659fds-assets-<account>-<region>), the archive's content hash.
    assert code_uri == f"s3://cdk-hnb659fds-assets-123456789012-us-east-1/{file_name}"
    hyper = {k: json.loads(v) for k, v in params["HyperParameters"].items()}
    assert hyper["sagemaker_submit_directory"] == f"/opt/ml/input/data/code/{file_name}"
    assert hyper["sagemaker_program"] == "train.py"
    assert hyper["sagemaker_torch_distributed_enabled"] is True
    assert hyper["sagemaker_instance_type"] == "ml.trn1.2xlarge"
    # The default profile: LoRA on Llama 3.1 8B over both cores of the chip, checkpoints in /opt/ml/checkpoints.
    assert {k: hyper[k] for k in ("mode", "method", "lora_r", "tensor_parallel_size", "pipeline_parallel_size")} == {
        "mode": "fine-tune",
        "method": "lora",
        "lora_r": 16,
        "tensor_parallel_size": 2,
        "pipeline_parallel_size": 1,
    }
    assert (hyper["max_seq_length"], hyper["gradient_checkpointing"], hyper["zero_1"], hyper["bf16"]) == (
        2048,
        True,
        True,
        True,
    )
    assert (hyper["output_dir"], hyper["num_train_epochs"], hyper["report_to"]) == ("/opt/ml/checkpoints", 1, "none")
    archive = reproducible_tarball(TRAINING_SOURCE_DIR)
    assert archive == reproducible_tarball(TRAINING_SOURCE_DIR)  # same sources, same bytes, same asset hash
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert sorted(tar.getnames()) == [
            "__init__.py",
            "requirements.txt",
            "train.py",
            "train_data.py",
            "train_distill.py",
            "train_export.py",
            "train_resume.py",
        ]


def test_multi_node_spot_job_gets_efa_and_max_wait(prod: Synthesized) -> None:
    params = sent(prod)
    assert params["AlgorithmSpecification"]["TrainingImage"] == HF_TRAINING_IMAGE.format(region="us-west-2")
    assert params["ResourceConfig"]["InstanceCount"] == 2
    assert params["EnableManagedSpotTraining"] is True
    assert params["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    # libfabric's EFA provider (FI_PROVIDER=efa, device RDMA, fork-safe), as sagemaker_requests/training_job.py sets it.
    assert {k: v for k, v in params["Environment"].items() if k.startswith("FI_")} == {
        "FI_PROVIDER": "efa",
        "FI_EFA_USE_DEVICE_RDMA": "1",
        "FI_EFA_FORK_SAFE": "1",
    }
    assert params["VpcConfig"]["SecurityGroupIds"] == [
        f"platform.{security_group(prod, 'Workload')}.GroupId",
        f"platform.{security_group(prod, 'Efa')}.GroupId",
    ]
    # A spot interruption resumes from the run's checkpoints: the same per-run prefix as every profile.
    assert params["CheckpointConfig"] == {
        "S3Uri.$": f"States.Format('s3://{bucket(prod, 'Checkpoints')}/checkpoints/fine-tune/{{}}/', $.run.id)",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert params["RetryStrategy"] == {"MaximumRetryAttempts": 3}
    assert channels(params)["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"


def test_pretraining_on_four_trn1_32xlarge_then_fine_tune_with_warm_pool() -> None:
    s = synth("pretrain")
    pre = sent(s, "PreTrain")
    assert pre["ResourceConfig"] == {"InstanceType": "ml.trn1.32xlarge", "InstanceCount": 4, "VolumeSizeInGB": 1024}
    assert pre["Environment"] == {
        "NEURON_CC_FLAGS": "--model-type=transformer --distribution-strategy=llm-training",
        "NEURON_FUSE_SOFTMAX": "1",
        "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "3",
        "MALLOC_ARENA_MAX": "64",
        "NEURON_COMPILE_CACHE_URL": f"s3://{bucket(s, 'Checkpoints')}/neuron-compile-cache/trn1/",
        "FI_PROVIDER": "efa",
        "FI_EFA_USE_DEVICE_RDMA": "1",
        "FI_EFA_FORK_SAFE": "1",
    }
    assert pre["CheckpointConfig"] == {
        "S3Uri.$": f"States.Format('s3://{bucket(s, 'Checkpoints')}/checkpoints/pretrain/{{}}/', $.run.id)",
        "LocalPath": "/opt/ml/checkpoints",
    }
    hyper = {k: json.loads(v) for k, v in pre["HyperParameters"].items()}
    assert (hyper["mode"], hyper["method"], hyper["tensor_parallel_size"], hyper["pipeline_parallel_size"]) == (
        "pretrain",
        "full",
        8,
        1,
    )
    assert hyper["from_scratch"] is True
    assert pre["TrainingJobName.$"] == "States.Format('pretrain-{}', $.run.id)"
    fine = request(s)
    assert fine["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert fine["EnableManagedSpotTraining"] is False


def test_distillation_fine_tune_uses_a_training_plan_and_a_teacher_channel() -> None:
    # The `trn2` profile: the HF training image is refused on trn2 (tested only on trn1), so it distills on trn1.
    trn2 = synth("trn2")
    params = sent(trn2)
    assert params["ResourceConfig"]["InstanceType"] == "ml.trn1.32xlarge"
    assert params["ResourceConfig"]["TrainingPlanArn"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:training-plan/trn1-distill-plan"
    )
    assert params["AlgorithmSpecification"]["TrainingImage"] == HF_TRAINING_IMAGE.format(region="us-east-1")
    teacher = channels(params)["teacher"]["DataSource"]["S3DataSource"]
    assert teacher["S3Uri.$"] == "$.run.options.teacher_model_s3_uri"
    hyper = {k: json.loads(v) for k, v in params["HyperParameters"].items()}
    assert (hyper["distillation_alpha"], hyper["tensor_parallel_size"], hyper["method"]) == (0.5, 32, "full")
    assert params["Environment"]["NEURON_COMPILE_CACHE_URL"] == (
        f"s3://{bucket(trn2, 'Checkpoints')}/neuron-compile-cache/trn1/"
    )


def test_training_role_reads_its_image_writes_only_training_output(dev: Synthesized) -> None:
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for k, p in dev.resources("lifecycle", "AWS::IAM::ManagedPolicy").items()
        if k.startswith("TrainingRole")
    ]
    ecr = next(s for s in policy if "ecr:BatchGetImage" in s["Action"])
    assert ecr["Resource"] == "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-training-neuronx"
    writes = [s for s in policy if "s3:PutObject" in s["Action"]]
    written = [
        json.dumps(r) for s in writes for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    ]
    models_writes = [r for r in written if "ModelsBucket" in r]
    assert models_writes and all(r.endswith('/training-output/*"]]}') for r in models_writes)
    (logs,) = [s for s in policy if "logs:PutLogEvents" in s["Action"]]
    assert logs["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:aws:logs:us-east-1:", {"Ref": "AWS::AccountId"}, ":log-group:/aws/sagemaker/TrainingJobs:*"],
        ]
    }


@pytest.mark.parametrize("profile", available_profiles())
def test_no_stack_creates_a_log_group_sagemaker_owns(profile: str) -> None:
    """SageMaker creates /aws/sagemaker/* groups itself (TrainingJobs on an account's first job): a stack that
    creates one fails with AlreadyExists, blocks redeploys once retained, and collides across profiles."""
    templates = synth(profile).templates
    owned = [
        (unit, key, resource["Properties"]["LogGroupName"])
        for unit, template in templates.items()
        for key, resource in template["Resources"].items()
        if str(resource.get("Properties", {}).get("LogGroupName", "")).startswith("/aws/sagemaker/")
    ]
    assert owned == []


@pytest.mark.parametrize("script", sorted(Path(TRAINING_SOURCE_DIR).glob("*.py")))
def test_training_code_is_valid_python(script: Path) -> None:
    compile(script.read_text(), str(script), "exec")
