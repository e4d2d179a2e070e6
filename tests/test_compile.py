"""The Neuron compile stage: the export command of each serving image, the job's size, and its request."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from neuron.catalog import ContainerKind
from neuron.compilation import (
    CHECKPOINT_DIR,
    MODEL_INPUT_DIR,
    OUTPUT_DIR,
    VLLM_DTYPE_CHECK,
    VLLM_ENTRYPOINT,
    CompiledShape,
    CompileError,
    compile_plan,
    compiled_shape,
    export_command,
    needs_compile_stage,
    served_shape,
)
from neuron.models import ModelArchitecture, preset
from neuron.serving import MODEL_DIR, ServingShape, environment
from sagemaker_requests.compile_job import CompileJobTargets, compile_job_request, compiled_artifacts_uri
from sagemaker_requests.storage_layout import compiled_prefix
from tests.support.state_machines import validate

LLAMA_8B = preset("llama-3.1-8b")
TGI_SHAPE = ServingShape(
    model_location=MODEL_DIR,
    task="text-generation",
    degree=2,
    batch_size=4,
    sequence_length=4096,
    dtype="bf16",
    max_input_tokens=3072,
    max_total_tokens=4096,
)
TARGETS = CompileJobTargets(
    image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:tag",
    role_arn="arn:aws:iam::123456789012:role/compile",
    key_arn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    output_s3_uri="s3://models/compiled/chat",
    subnet_ids=["subnet-1"],
    security_group_ids=["sg-1"],
)


def test_tgi_export_is_the_optimum_cli_of_the_tgi_image_with_the_served_shape() -> None:
    command = export_command(ContainerKind.TGI_NEURONX, TGI_SHAPE)
    # huggingface/optimum-neuron v0.0.28 optimum/commands/export/neuronx.py: L55 `optimum-cli export neuron`, L39-41
    # --model, L49-56 --task, L134-139 --num_cores, L197-201 --batch_size, L212-216 --sequence_length, L109-115
    # --auto_cast_type, L42-46 the positional output directory (as cited in neuron/compilation.py).
    assert command.entrypoint == ("optimum-cli",)
    assert command.shell == (
        f"optimum-cli export neuron --model {MODEL_INPUT_DIR} --task text-generation --num_cores 2 --batch_size 4 "
        f"--sequence_length 4096 --auto_cast_type bf16 {OUTPUT_DIR}"
    )
    assert command.environment == {"HF_HUB_OFFLINE": "1"}  # the job is network-isolated: never try the Hub


def test_vllm_export_targets_inf2_and_checks_the_checkpoint_dtype() -> None:
    shape = replace(TGI_SHAPE, batch_size=8, sequence_length=8192, max_input_tokens=6144, max_total_tokens=8192)
    command = export_command(ContainerKind.VLLM_NEURONX, shape)
    # huggingface/optimum-neuron v0.4.5 optimum/commands/export/neuronx.py: L31 --model, L41 --task, L50-56
    # --instance_type {trn1,inf2,trn1n,trn2}, L124-128 --tensor_parallel_size, L234 --batch_size, L249
    # --sequence_length, L34 the output directory (as cited in neuron/compilation.py).
    assert command.entrypoint == VLLM_ENTRYPOINT
    assert command.arguments == (
        "export",
        "neuron",
        "--model",
        MODEL_INPUT_DIR,
        "--task",
        "text-generation",
        "--instance_type",
        "inf2",
        "--tensor_parallel_size",
        "2",
        "--batch_size",
        "8",
        "--sequence_length",
        "8192",
        OUTPUT_DIR,
    )
    assert command.environment["COMPILE_CHECKPOINT_DTYPE"] == "bfloat16"
    assert command.environment["COMPILE_DTYPE_CHECK"] == VLLM_DTYPE_CHECK


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("python3")), reason="needs bash and python3")
@pytest.mark.parametrize(("checkpoint", "served", "passes"), [("bfloat16", "bf16", True), ("float16", "bf16", False)])
def test_the_vllm_dtype_check_runs_in_bash_and_refuses_a_checkpoint_of_another_dtype(
    tmp_path: Path, checkpoint: str, served: str, passes: bool
) -> None:
    """The entrypoint as SageMaker runs it (ContainerEntrypoint + ContainerArguments), with `echo` for optimum-cli."""
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": checkpoint}))
    command = export_command(ContainerKind.VLLM_NEURONX, replace(TGI_SHAPE, dtype=served))
    env = {**os.environ, **command.environment, "COMPILE_MODEL_DIR": str(tmp_path)}
    result = subprocess.run(
        [*command.entrypoint[:3], "echo", *command.arguments], env=env, capture_output=True, text=True, check=False
    )
    if passes:
        assert result.returncode == 0 and result.stdout.split() == list(command.arguments)
    else:
        assert result.returncode == 1 and result.stdout == ""
        assert "torch_dtype float16, but the endpoint serves bfloat16 (SM_ON_DTYPE)" in result.stderr


def test_lmi_partition_reads_the_endpoints_own_option_environment() -> None:
    shape = replace(TGI_SHAPE, degree=8, quantization="int8")
    command = export_command(ContainerKind.LMI_NEURONX, shape)
    assert command.entrypoint == ("/usr/local/bin/dockerd-entrypoint.sh",)
    assert command.arguments == ("partition", "--model-dir", MODEL_INPUT_DIR, "--save-mp-checkpoint-path", OUTPUT_DIR)
    served = environment(ContainerKind.LMI_NEURONX, shape)
    assert command.environment == {**served, "OPTION_MODEL_ID": MODEL_INPUT_DIR}
    assert compiled_shape(ContainerKind.LMI_NEURONX, command.arguments, command.environment) == CompiledShape(
        8, 4, 4096, "bf16", "int8"
    )


@pytest.mark.parametrize("kind", [ContainerKind.HF_INFERENCE_NEURONX, ContainerKind.NEURON_V1_INFERENCE])
def test_servers_that_compile_at_load_or_take_a_traced_model_have_no_stage(kind: ContainerKind) -> None:
    assert not needs_compile_stage(kind)
    with pytest.raises(CompileError, match=f"{kind.value} has no compile stage"):
        export_command(kind, TGI_SHAPE)


def test_a_tgi_sequence_length_other_than_max_total_tokens_is_refused() -> None:
    """TGI reads MAX_TOTAL_TOKENS as its sequence length: a different compiled length would never match."""
    with pytest.raises(CompileError) as error:
        compile_plan(
            ContainerKind.TGI_NEURONX,
            replace(TGI_SHAPE, sequence_length=8192),
            LLAMA_8B,
            where="inference.models.chat",
        )
    message = str(error.value)
    assert "sequence_length=8192" in message and "sequence_length=4096" in message
    assert "set inference.models.chat.sequence_length to max_total_tokens (4096) or remove it" in message


def test_a_degree_the_trn1_compile_instance_cannot_load_is_refused_for_device_loading_exports() -> None:
    with pytest.raises(CompileError, match=r"tensor_parallel_degree = 12: tgi-neuronx's export loads the model"):
        compile_plan(ContainerKind.TGI_NEURONX, replace(TGI_SHAPE, degree=12), LLAMA_8B, where="inference.models.x")
    # NxD (vLLM) compiles without loading: degree 12 is fine there.
    assert (
        compile_plan(ContainerKind.VLLM_NEURONX, replace(TGI_SHAPE, degree=12), LLAMA_8B, where="x").shape.degree == 12
    )


def test_the_job_is_sized_from_the_model() -> None:
    small = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, preset("llama-3.2-3b"), where="x")
    eight = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, LLAMA_8B, where="x")
    big = compile_plan(
        ContainerKind.LMI_NEURONX, replace(TGI_SHAPE, degree=8, quantization="int8"), preset("llama-3.1-70b"), where="x"
    )
    # 3B: 6 GiB x 2 + 16 GiB fits trn1.2xlarge's 32 GiB; 8B (15 GiB x 2 + 16 = 46 GiB) needs trn1.32xlarge.
    assert (small.instance_type, eight.instance_type, big.instance_type) == (
        "ml.trn1.2xlarge",
        "ml.trn1.32xlarge",
        "ml.trn1.32xlarge",
    )
    assert small.volume_size_gb < eight.volume_size_gb < big.volume_size_gb
    assert eight.max_runtime_seconds == 2 * eight.expected_seconds + 1800
    assert big.max_runtime_seconds > 5 * 3600  # 70B: 2 x (download + ~2.2 h compile + save) + provisioning


def test_a_model_too_large_for_any_trn1_host_is_refused_with_the_numbers() -> None:
    huge = ModelArchitecture(
        name="huge",
        kind="decoder",
        parameters=400_000_000_000,
        layers=126,
        hidden_size=16384,
        attention_heads=128,
        kv_heads=8,
        head_dim=128,
        max_positions=8192,
        vocab_size=128256,
        source="test",
    )
    with pytest.raises(CompileError, match=r"needs about \d+ GiB of host memory .* ml.trn1.32xlarge, has 512 GiB"):
        compile_plan(ContainerKind.VLLM_NEURONX, replace(TGI_SHAPE, degree=8), huge, where="inference.models.huge")


def test_served_and_compiled_shapes_read_the_servers_own_names() -> None:
    served = served_shape(ContainerKind.TGI_NEURONX, environment(ContainerKind.TGI_NEURONX, TGI_SHAPE))
    assert served == CompiledShape(2, 4, 4096, "bf16", None)
    with pytest.raises(CompileError, match="has no integer MAX_BATCH_SIZE"):
        served_shape(ContainerKind.TGI_NEURONX, {"HF_NUM_CORES": "2", "MAX_TOTAL_TOKENS": "4096"})


# ---- the request ----------------------------------------------------------------------------------------------------
def test_the_request_validates_and_keeps_the_guard_rails() -> None:
    plan = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, LLAMA_8B, where="x")
    request = compile_job_request(
        plan=plan,
        targets=TARGETS,
        job_name_path="States.Format('compile-{}', States.UUID())",
        model_s3_uri="s3://models/llama/",
    )
    validate("CreateTrainingJob", dict(request))
    assert "TrainingJobName" not in request  # never a fixed name
    assert request["EnableNetworkIsolation"] is True
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://models/compiled/chat",
        "KmsKeyId": TARGETS.key_arn,
        "CompressionType": "NONE",
    }
    assert request["InputDataConfig"][0]["CompressionType"] == "None"
    # trn1 instances have local NVMe: SageMaker rejects a volume key there.
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]
    ebs_only = replace(plan, instance_type="ml.inf2.xlarge")  # an EBS-only type, only to exercise the rule
    assert compile_job_request(plan=ebs_only, targets=TARGETS, job_name_path="$.n", model_s3_uri="s3://m/")[
        "ResourceConfig"
    ]["VolumeKmsKeyId"] == (TARGETS.key_arn)
    assert (
        compiled_artifacts_uri(TARGETS.output_s3_uri, "compile-1")
        == "s3://models/compiled/chat/compile-1/output/model/"
    )


def test_an_exact_artifacts_prefix_is_synced_from_the_checkpoint_directory() -> None:
    plan = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, LLAMA_8B, where="x", output_dir=CHECKPOINT_DIR)
    assert plan.command.arguments[-1] == CHECKPOINT_DIR
    request = compile_job_request(
        plan=plan,
        targets=TARGETS,
        job_name_path="$.n",
        model_s3_uri="s3://models/llama/",
        artifacts_s3_uri="s3://models/compiled/chat/",
    )
    validate("CreateTrainingJob", dict(request))
    assert request["CheckpointConfig"] == {"S3Uri": "s3://models/compiled/chat/", "LocalPath": CHECKPOINT_DIR}
    # The export and the upload must agree: an /opt/ml/model export with an exact prefix (and the reverse) is refused.
    with pytest.raises(
        ValueError, match="the export writes /opt/ml/checkpoints but this request uploads /opt/ml/model"
    ):
        compile_job_request(plan=plan, targets=TARGETS, job_name_path="$.n", model_s3_uri="s3://m/")
    default = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, LLAMA_8B, where="x")
    with pytest.raises(
        ValueError, match="the export writes /opt/ml/model but this request uploads /opt/ml/checkpoints"
    ):
        compile_job_request(
            plan=default, targets=TARGETS, job_name_path="$.n", model_s3_uri="s3://m/", artifacts_s3_uri="s3://m/c/"
        )
    with pytest.raises(ValueError, match="must end with '/'"):
        compile_job_request(
            plan=plan, targets=TARGETS, job_name_path="$.n", model_s3_uri="s3://m/", artifacts_s3_uri="s3://m/c"
        )
    with pytest.raises(ValueError, match="writes to /opt/ml/model or /opt/ml/checkpoints, not /tmp"):
        export_command(ContainerKind.TGI_NEURONX, TGI_SHAPE, output_dir="/tmp")


def test_request_rules_fail_with_the_limit() -> None:
    plan = compile_plan(ContainerKind.TGI_NEURONX, TGI_SHAPE, LLAMA_8B, where="x")
    with pytest.raises(ValueError, match="exactly one of model_s3_uri and model_s3_uri_path"):
        compile_job_request(plan=plan, targets=TARGETS, job_name_path="$.n")
    long = replace(plan, command=replace(plan.command, arguments=(*plan.command.arguments, "x" * 257)))
    with pytest.raises(ValueError, match="limited to 256 characters; 1 are longer"):
        compile_job_request(plan=long, targets=TARGETS, job_name_path="$.n", model_s3_uri="s3://m/")
    with pytest.raises(ValueError, match="one path segment"):
        compiled_prefix("a/b")
