"""The training job and its entry point agree: every profile's CreateTrainingJob hyperparameters, turned into argv by
the SageMaker training toolkit itself (sagemaker-training 5.1.0, the package the HF training image installs), parse
with train.py's HfArgumentParser (transformers 4.55.4, the image's version); channel names and the output layout agree
with CreateModel and the compile stage; the HF image is refused where it is not published.

optimum-neuron cannot be imported off Neuron (it imports torch_xla), so `optimum.neuron.NeuronTrainingArguments` is
replaced by a dataclass with exactly its 69 fields at v0.4.1 (huggingface/optimum-neuron a3ded34a
optimum/neuron/trainers/training_args.py L50-421): the 51 it shares with transformers.TrainingArguments, typed and
defaulted by the installed transformers, and its 18 Neuron fields as declared there. Its __post_init__ (device setup,
trn_config) needs Neuron hardware and is not run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from config import available_profiles, load_config
from neuron.errors import UserError
from sagemaker_requests import release
from sagemaker_requests.training_job import (
    CHECKPOINT_LOCAL_PATH,
    CODE_CHANNEL,
    TrainingJobTargets,
    training_job_request,
)
from tests.support.harness import synth
from tests.support.state_machines import definition, sagemaker_requests

# Every profile that builds the lifecycle, hence a CreateTrainingJob request.
PROFILES = tuple(p for p in available_profiles() if load_config(p, environ={}).lifecycle.enabled)
transformers = pytest.importorskip("transformers")
sagemaker_training = pytest.importorskip("sagemaker_training")

# NeuronTrainingArguments @ v0.4.1: fields shared with transformers.TrainingArguments (names, in declaration order) ...
SHARED_FIELDS = (
    "output_dir", "overwrite_output_dir", "do_train", "do_eval", "eval_strategy", "per_device_train_batch_size",
    "per_device_eval_batch_size", "gradient_accumulation_steps", "learning_rate", "weight_decay", "adam_beta1",
    "adam_beta2", "adam_epsilon", "max_grad_norm", "num_train_epochs", "max_steps", "lr_scheduler_type",
    "lr_scheduler_kwargs", "warmup_ratio", "warmup_steps", "log_level", "log_level_replica", "logging_dir",
    "logging_strategy", "logging_first_step", "logging_steps", "save_strategy", "save_steps", "save_total_limit",
    "save_only_model", "restore_callback_states_from_checkpoint", "seed", "bf16", "dataloader_drop_last",
    "eval_steps", "dataloader_num_workers", "dataloader_prefetch_factor", "run_name", "disable_tqdm",
    "remove_unused_columns", "label_names", "accelerator_config", "label_smoothing_factor", "optim", "optim_args",
    "report_to", "resume_from_checkpoint", "gradient_checkpointing", "gradient_checkpointing_kwargs",
    "use_liger_kernel", "average_tokens_across_devices",
)  # fmt: skip
# ... and its own (training_args.py L314-421): name, type, default.
NEURON_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("dataloader_prefetch_size", int, None),
    ("skip_cache_push", bool, False),
    ("use_autocast", bool, False),
    ("zero_1", bool, True),
    ("stochastic_rounding_enabled", bool, True),
    ("optimizer_use_master_weights", bool, True),
    ("optimizer_use_fp32_grad_acc", bool, True),
    ("optimizer_save_master_weights_in_ckpt", bool, False),
    ("tensor_parallel_size", int, 1),
    ("disable_sequence_parallel", bool, False),
    ("pipeline_parallel_size", int, 1),
    ("pipeline_parallel_num_microbatches", int, -1),
    ("kv_size_multiplier", int | None, None),
    ("num_local_ranks_per_step", int, 8),
    ("use_xser", bool, True),
    ("async_save", bool, False),
    ("fuse_qkv", bool, False),
    ("recompute_causal_mask", bool, True),
)


def neuron_training_arguments() -> type:
    shared = {f.name: f for f in dataclasses.fields(transformers.TrainingArguments)}
    fields: list[tuple[str, Any, Any]] = []
    for name in SHARED_FIELDS:
        f = shared[name]
        default = (
            dataclasses.field(default=f.default, metadata=f.metadata)
            if f.default is not dataclasses.MISSING
            else dataclasses.field(default_factory=f.default_factory, metadata=f.metadata)
        )
        fields.append((name, f.type, default))
    fields += [(name, kind, dataclasses.field(default=default)) for name, kind, default in NEURON_FIELDS]
    return dataclasses.make_dataclass("NeuronTrainingArguments", fields)


@pytest.fixture
def train(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """training/train.py with `optimum.neuron` replaced by the NeuronTrainingArguments stand-in."""
    optimum = types.ModuleType("optimum")
    neuron = types.ModuleType("optimum.neuron")
    neuron.NeuronTrainingArguments = neuron_training_arguments()  # type: ignore[attr-defined]
    optimum.neuron = neuron  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "optimum", optimum)
    monkeypatch.setitem(sys.modules, "optimum.neuron", neuron)
    from training import train as module

    return module


def toolkit_argv(hyperparameters: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the training toolkit passes to the entry point: hyperparameters.json read and json-decoded by
    `environment.read_hyperparameters`, the sagemaker_ keys split off (environment.py L616-650), the rest turned into
    sorted `--key str(value)` by `mapping.to_cmd_args` (sagemaker-training 5.1.0)."""
    from sagemaker_training import environment, mapping, params

    path = tmp_path / "hyperparameters.json"
    path.write_text(json.dumps(hyperparameters))
    monkeypatch.setattr(environment, "hyperparameters_file_dir", str(path))
    decoded = environment.read_hyperparameters()
    user = {k: v for k, v in decoded.items() if not k.startswith(params.SAGEMAKER_PREFIX)}
    return [str(a) for a in mapping.to_cmd_args(user)]


def training_requests(profile: str) -> dict[str, dict[str, Any]]:
    states = definition(synth(profile).templates["lifecycle"])["States"]
    found = {name: params for name, (op, params) in sagemaker_requests(states).items() if op == "CreateTrainingJob"}
    return {name: params for name, params in found.items() if name in ("PreTrain", "FineTune")}


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profiles_hyperparameters_parse_as_the_toolkit_passes_them(
    profile: str, train: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(profile, environ={})
    jobs = {"FineTune": config.lifecycle.fine_tune, "PreTrain": config.lifecycle.pretrain}
    requests = training_requests(profile)
    assert "FineTune" in requests
    for state, params in requests.items():
        job = jobs[state]
        assert job is not None
        argv = toolkit_argv(params["HyperParameters"], tmp_path, monkeypatch)
        assert "True" in argv and "true" not in argv  # booleans arrive as Python's str(True)
        script, training = train.parse_arguments(argv)
        assert script.mode == ("pretrain" if state == "PreTrain" else "fine-tune")
        assert (script.method, script.max_seq_length, script.lora_r) == (job.method, job.sequence_length, job.lora_rank)
        assert (training.tensor_parallel_size, training.pipeline_parallel_size) == (
            job.tensor_parallel_degree,
            job.pipeline_parallel_degree,
        )
        assert (training.per_device_train_batch_size, training.gradient_accumulation_steps) == (
            job.micro_batch_size,
            job.gradient_accumulation_steps,
        )
        assert (training.gradient_checkpointing, training.zero_1, training.bf16) == (
            job.gradient_checkpointing,
            job.zero_1,
            True,
        )
        assert training.output_dir == CHECKPOINT_LOCAL_PATH == str(train.CHECKPOINT_DIR)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"epochs": "1"}, "unrecognized arguments: --epochs 1", id="unknown-key"),
        pytest.param({"zero_1": '"maybe"'}, "Truthy value expected: got maybe", id="not-a-boolean"),
        pytest.param({"method": '"qlora"'}, "--method: invalid choice: 'qlora'", id="bad-choice"),
        pytest.param({"bf16": "false"}, "--bf16 False: the memory pre-flight", id="bf16-required"),
        pytest.param(
            {"mode": '"pretrain"', "method": '"lora"'}, "--mode pretrain trains every weight", id="pretrain-full"
        ),
    ],
)
def test_the_parser_refuses_what_the_job_cannot_use(
    extra: dict[str, str],
    message: str,
    train: types.ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hyperparameters = {**training_requests("dev")["FineTune"]["HyperParameters"], **extra}
    with pytest.raises(SystemExit):
        train.parse_arguments(toolkit_argv(hyperparameters, tmp_path, monkeypatch))
    assert message in capsys.readouterr().err


def test_channels_and_output_layout_agree_with_create_model_and_the_compile_stage(train: types.ModuleType) -> None:
    for profile in ("dev", "trn2", "pretrain"):
        for params in training_requests(profile).values():
            names = {c["ChannelName"] for c in params["InputDataConfig"]} - {CODE_CHANNEL}
            assert {"model", "train"} <= names <= set(train.CHANNELS)
            # /opt/ml/model leaves uncompressed to <S3OutputPath>/<job>/output/model/ ...
            assert params["OutputDataConfig"]["CompressionType"] == "NONE"
            assert params["CheckpointConfig"]["LocalPath"] == str(train.CHECKPOINT_DIR)
    assert str(train.MODEL_DIR) == "/opt/ml/model"  # SM_MODEL_DIR's value (sagemaker-training environment.py L94)
    states = definition(synth("dev").templates["lifecycle"])["States"]
    candidate = json.dumps(states)
    assert "/output/model/', $.fine_tune.TrainingJobName)" in candidate
    # ... which CreateModel reads as an uncompressed S3 prefix (a Hugging Face directory, no model.tar.gz).
    source = release.model_data_source("$.candidate.model_s3_uri")["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")
    compilation = pytest.importorskip("neuron.compilation", reason="the compile stage is not on this branch yet")
    assert compilation.MODEL_CHANNEL == "model"
    assert str(train.MODEL_DIR) == compilation.OUTPUT_DIR


def test_the_hf_training_image_is_refused_where_it_is_not_published() -> None:
    job = load_config("dev", environ={}).lifecycle.fine_tune
    targets = TrainingJobTargets(
        image_uri="image",
        role_arn="arn:aws:iam::123456789012:role/r",
        key_arn="arn:aws:kms:eu-west-2:123456789012:key/k",
        region="eu-west-2",
        datasets_bucket="d",
        output_s3_uri="s3://m/training-output",
        checkpoints_bucket="c",
        code_s3_uri="s3://a/code.tar.gz",
        code_file_name="code.tar.gz",
        subnet_ids=["s"],
        security_group_ids=["g"],
    )
    with pytest.raises(UserError) as err:
        training_job_request(
            stage="fine-tune", job=job, targets=targets, run_id_path="$.run.id", model_s3_uri_path=None
        )
    assert str(err.value).startswith(
        "lifecycle.fine_tune.container = hf-training-neuronx: the image is not published in region eu-west-2 "
        "(aws/sagemaker-python-sdk image_uri_config/huggingface-neuronx.json, training 4.55.4); deploy the profile "
        "to one of ap-northeast-1, "
    )
    us_east = dataclasses.replace(targets, region="us-east-1")
    assert training_job_request(
        stage="fine-tune", job=job, targets=us_east, run_id_path="$.run.id", model_s3_uri_path=None
    )["HyperParameters"]
