"""Settings of one Trainium training job (pre-training or fine-tuning), with the pre-flight rules SageMaker would
otherwise only enforce an hour into a run.

Each cross-field rule is one validator on the field that closes it; its message names every field involved, the
numbers, and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from config.base import StrictModel
from neuron import training_memory
from neuron.catalog import (
    INSTANCES,
    TENSOR_PARALLEL_DEGREES,
    TRAINING_IMAGE_FAMILIES,
    TRAINING_IMAGE_FAMILIES_SOURCE,
    ContainerKind,
    instance,
)
from neuron.models import PRESETS, preset

# The training code shipped with every job (entry point + source dir), packaged at synth.
TRAINING_SOURCE_DIR = Path(__file__).resolve().parent.parent / "training"

# SageMaker's hard limits. MaxRuntimeInSeconds has no `max` in the service model; its documentation says 28 days.
# KeepAlivePeriodInSeconds: shape KeepAlivePeriodInSeconds, max 21600, in botocore 1.44.8
# (botocore/data/sagemaker/2017-07-24/service-2.json; tests/test_service_model.py compares both with the model).
MAX_RUNTIME_SECONDS = 28 * 24 * 3600
MAX_KEEP_ALIVE_SECONDS = 21_600
# Channels the lifecycle workflow fills itself: the training code, the model to start from, a distillation teacher.
RESERVED_CHANNELS = ("code", "model", "teacher")
TRAINIUM_TYPES = tuple(name for name, spec in INSTANCES.items() if spec.accelerator == "trainium")
# The images train.py runs in: it needs optimum-neuron, which only the HF training image ships (neuron/catalog.py).
TRAINING_CONTAINERS = (ContainerKind.HF_TRAINING_NEURONX.value,)
# Architectures optimum-neuron 0.4.1 trains with tensor/pipeline parallelism: llama, granite, qwen3
# (huggingface/optimum-neuron v0.4.1 optimum/neuron/models/training/auto_models.py L30-37); of the catalog's presets,
# the Llama ones.
TRAINABLE_MODELS = tuple(name for name, arch in PRESETS.items() if arch.kind == "decoder" and name.startswith("llama"))
# Hyperparameters the job derives from typed settings (the pre-flight sizes them): naming them again is an error.
DERIVED_HYPERPARAMETERS = {
    "tensor_parallel_size": "tensor_parallel_degree",
    "pipeline_parallel_size": "pipeline_parallel_degree",
    "per_device_train_batch_size": "micro_batch_size",
    "gradient_accumulation_steps": "gradient_accumulation_steps",
    "gradient_checkpointing": "gradient_checkpointing",
    "zero_1": "zero_1",
    "max_seq_length": "sequence_length",
    "method": "method",
    "lora_r": "lora_rank",
    "bf16": "(always true)",
    "output_dir": "(always /opt/ml/checkpoints)",
    "mode": "(the lifecycle stage)",
}
TRAINING_PLAN_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-plan/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class DataChannel(StrictModel):
    """An input channel read from the datasets bucket."""

    prefix: str = Field(pattern=r"^[A-Za-z0-9!_.*'()/-]+/$", description="Key prefix in the datasets bucket.")
    # FastFile streams from S3 on first read (no download wait); File copies everything to the volume first.
    input_mode: Literal["FastFile", "File"] = "FastFile"
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"


class TrainingJobConfig(StrictModel):
    container: ContainerKind = ContainerKind.HF_TRAINING_NEURONX
    instance_type: str = "ml.trn1.2xlarge"
    instance_count: int = Field(1, ge=1, le=256)
    volume_size_gb: int = Field(256, ge=1, le=16384)
    encrypt_volume_with_platform_key: bool = False
    efa_security_group: bool | None = Field(None, description="Attach the EFA security group; None = when multi-node.")
    tensor_parallel_degree: int = Field(2, ge=1)
    pipeline_parallel_degree: int = Field(1, ge=1)
    # What is trained, and the shape the memory pre-flight sizes (neuron/training_memory.py).
    model: str = Field("llama-3.1-8b", description="Model preset of the `model` channel's weights.")
    method: training_memory.Method = Field("lora", description="full: every weight; lora: adapters, merged at the end.")
    lora_rank: int = Field(16, ge=1, le=256)
    micro_batch_size: int = Field(1, ge=1, le=64, description="Sequences per NeuronCore rank and step.")
    gradient_accumulation_steps: int = Field(8, ge=1, le=1024)
    sequence_length: int = Field(2048, ge=128)
    gradient_checkpointing: bool = True
    zero_1: bool = Field(True, description="Shard the optimizer state over data-parallel ranks (ZeRO-1).")
    teacher_model: str | None = Field(
        None, description="Model preset of the distillation teacher (weights: lifecycle.distillation_teacher_prefix)."
    )
    entry_point: str = "train.py"
    hyperparameters: dict[str, str | int | float | bool] = Field(default_factory=dict)
    channels: dict[str, DataChannel] = Field(default_factory=lambda: {"train": DataChannel(prefix="train/")})
    compiler_flags: tuple[str, ...] = ("--model-type=transformer",)
    persistent_compile_cache: bool = Field(True, description="Neuron compile cache in the checkpoints bucket.")
    network_isolation: bool = False
    inter_container_encryption: bool = True
    max_runtime_seconds: int = Field(24 * 3600, ge=1)
    checkpoints: bool = True
    spot: bool = False
    max_wait_seconds: int | None = Field(None, ge=1)
    keep_alive_seconds: int = Field(0, ge=0, le=MAX_KEEP_ALIVE_SECONDS)
    retry_attempts: int = Field(2, ge=1, le=30, description="RetryStrategy.MaximumRetryAttempts (1 = no retry).")
    training_plan_arn: str | None = Field(None, pattern=TRAINING_PLAN_ARN)

    # ---- single-field rules ----------------------------------------------------------------------------------------
    @field_validator("container")
    @classmethod
    def _neuronx_training_image(cls, value: ContainerKind) -> ContainerKind:
        if value.value not in TRAINING_CONTAINERS:
            raise ValueError(
                f"container {value.value!r} cannot run the training entry point: train.py trains with "
                f"optimum-neuron 0.4.1, which only {', '.join(TRAINING_CONTAINERS)} ships "
                "(pytorch-training-neuronx has NxD Training but no optimum-neuron); use "
                f"{TRAINING_CONTAINERS[0]}"
            )
        return value

    @field_validator("instance_type")
    @classmethod
    def _trainium_only(cls, value: str) -> str:
        spec = instance(value)
        if spec.accelerator != "trainium":
            raise ValueError(
                f"{value} is an {spec.accelerator.capitalize()} instance; training runs only on Trainium: "
                f"{', '.join(TRAINIUM_TYPES)}"
            )
        return value

    @field_validator("instance_type")
    @classmethod
    def _image_runs_on_the_instance(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("container")
        families = TRAINING_IMAGE_FAMILIES.get(kind) if kind else None
        if families and instance(value).family not in families:
            fitting = ", ".join(n for n in TRAINIUM_TYPES if INSTANCES[n].family in families)
            raise ValueError(
                f"container {kind.value if kind else kind} on {value}: the image's training stack is tested only on "
                f"{', '.join(families)} ({TRAINING_IMAGE_FAMILIES_SOURCE}); use {fitting}"
            )
        return value

    @field_validator("model", "teacher_model")
    @classmethod
    def _trainable_model(cls, value: str | None) -> str | None:
        if value is not None and value not in TRAINABLE_MODELS:
            preset(value)  # an unknown name: the error lists the presets
            raise ValueError(
                f"model {value!r} is not an architecture optimum-neuron 0.4.1 trains with tensor parallelism "
                f"(llama, granite, qwen3); trainable presets: {', '.join(TRAINABLE_MODELS)}"
            )
        return value

    @field_validator("sequence_length")
    @classmethod
    def _sequence_within_positions(cls, value: int, info: ValidationInfo) -> int:
        name = info.data.get("model")
        if name and value > preset(name).max_positions:
            raise ValueError(
                f"sequence_length {value} exceeds the {preset(name).max_positions} positions of model {name}; "
                "lower sequence_length"
            )
        return value

    @field_validator("entry_point")
    @classmethod
    def _entry_point_shipped(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_/-]+\.py", value) or not (TRAINING_SOURCE_DIR / value).is_file():
            raise ValueError(f"no Python file {value!r} in {TRAINING_SOURCE_DIR}; name a script shipped there")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _own_hyperparameters(cls, value: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
        reserved = sorted(k for k in value if k.startswith("sagemaker_"))
        if reserved:
            raise ValueError(
                f"{', '.join(reserved)}: the sagemaker_ prefix is reserved for the training toolkit's "
                "own settings, which the stack sets; rename the hyperparameter"
            )
        derived = sorted(k for k in value if k.replace("-", "_") in DERIVED_HYPERPARAMETERS)
        if derived:
            settings = ", ".join(f"{k} -> {DERIVED_HYPERPARAMETERS[k.replace('-', '_')]}" for k in derived)
            raise ValueError(
                f"{', '.join(derived)}: set by the job's typed settings, which the memory pre-flight checks "
                f"({settings}); remove the hyperparameter and use the setting"
            )
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, DataChannel]) -> dict[str, DataChannel]:
        for name in value:
            if name in RESERVED_CHANNELS:
                raise ValueError(
                    f"channel {name!r} is filled by the lifecycle workflow "
                    f"({', '.join(RESERVED_CHANNELS)} are reserved); rename it"
                )
            if not re.fullmatch(r"[A-Za-z0-9\.\-_]{1,64}", name):
                raise ValueError(f"channel name {name!r} must be 1-64 letters, digits, '.', '-' or '_'")
        if not value:
            raise ValueError("a training job needs at least one data channel, e.g. {train: {prefix: train/}}")
        return value

    @field_validator("compiler_flags")
    @classmethod
    def _compiler_flags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for flag in value:
            if not flag.startswith("--") or any(c in flag for c in " '\""):
                raise ValueError(f"compiler flag {flag!r} must be one '--name[=value]' token without spaces or quotes")
            if flag.split("=", 1)[0] in ("--cache_dir", "--cache-dir"):
                raise ValueError(
                    f"{flag!r}: the compile cache location is set by persistent_compile_cache "
                    "(NEURON_COMPILE_CACHE_URL); remove the flag"
                )
        return value

    @field_validator("max_runtime_seconds")
    @classmethod
    def _runtime_limit(cls, value: int) -> int:
        if value > MAX_RUNTIME_SECONDS:
            raise ValueError(
                f"{value} s is above SageMaker's limit of {MAX_RUNTIME_SECONDS} s (28 days) per training "
                "job; lower it and resume the next job from the checkpoints"
            )
        return value

    # ---- cross-field rules (each validator closes one rule on its last field) ---------------------------------------
    @field_validator("encrypt_volume_with_platform_key")
    @classmethod
    def _no_volume_key_on_nvme(cls, value: bool, info: ValidationInfo) -> bool:
        name = info.data.get("instance_type")
        if value and name:
            nvme = instance(name).local_nvme_gb
            if nvme:
                raise ValueError(
                    f"instance_type {name} has {nvme} GB of local NVMe storage and SageMaker rejects VolumeKmsKeyId "
                    "on instance types with local NVMe (their instance store is encrypted by the hardware); set "
                    "encrypt_volume_with_platform_key to false"
                )
        return value

    @field_validator("efa_security_group")
    @classmethod
    def _multi_node_needs_efa(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        name, count = info.data.get("instance_type"), info.data.get("instance_count")
        if not name or not count or count == 1:
            return value
        spec = instance(name)
        if not spec.efa_gbps:
            capable = ", ".join(n for n in TRAINIUM_TYPES if INSTANCES[n].efa_gbps)
            raise ValueError(
                f"instance_count = {count} on instance_type {name}: multi-node training needs EFA and {name} has "
                f"none; use instance_count 1 or an EFA instance type ({capable})"
            )
        if value is False:
            raise ValueError(
                f"efa_security_group = false with instance_count = {count}: EFA between the {count} nodes needs the "
                "platform's EFA security group (all traffic between its members); remove the setting or set it true"
            )
        return value

    @field_validator("tensor_parallel_degree")
    @classmethod
    def _tensor_degree_supported(cls, value: int, info: ValidationInfo) -> int:
        name = info.data.get("instance_type")
        if not name:
            return value
        spec = instance(name)
        supported = TENSOR_PARALLEL_DEGREES[spec.family]
        if value not in supported or value > spec.neuron_cores:
            fitting = ", ".join(str(d) for d in supported if d <= spec.neuron_cores)
            raise ValueError(
                f"tensor_parallel_degree = {value} on instance_type {name} ({spec.neuron_cores} NeuronCores per node): "
                f"the degree must be one of {fitting} (the {spec.family} collectives' ring sizes, within one node)"
            )
        return value

    @field_validator("pipeline_parallel_degree")
    @classmethod
    def _parallel_degrees_divide_cores(cls, value: int, info: ValidationInfo) -> int:
        name, count, tp = (info.data.get(k) for k in ("instance_type", "instance_count", "tensor_parallel_degree"))
        if not name or not count or not tp:
            return value
        cores = instance(name).neuron_cores
        total = cores * count
        if total % (tp * value):
            raise ValueError(
                f"tensor_parallel_degree {tp} x pipeline_parallel_degree {value} = {tp * value} does not divide the "
                f"{total} NeuronCores of instance_count {count} x {name} ({cores} each); choose degrees whose product "
                f"divides {total}"
            )
        return value

    @field_validator("teacher_model")
    @classmethod
    def _fits_in_memory(cls, value: str | None, info: ValidationInfo) -> str | None:
        """The training-memory pre-flight: weights, gradients, optimizer state, activations (and a teacher) per
        NeuronCore against its HBM, for this TP/PP/DP split; refused with the numbers and the smallest fit."""
        needed = (
            "instance_type",
            "instance_count",
            "tensor_parallel_degree",
            "pipeline_parallel_degree",
            "model",
            "method",
            "lora_rank",
            "micro_batch_size",
            "sequence_length",
            "gradient_checkpointing",
            "zero_1",
        )
        d = info.data
        if any(d.get(k) is None for k in needed):
            return value  # an earlier rule already refused one of them
        shape = training_memory.TrainingShape(
            model=preset(d["model"]),
            method=d["method"],
            instance_type=d["instance_type"],
            instance_count=d["instance_count"],
            tensor_parallel=d["tensor_parallel_degree"],
            pipeline_parallel=d["pipeline_parallel_degree"],
            micro_batch=d["micro_batch_size"],
            sequence_length=d["sequence_length"],
            gradient_checkpointing=d["gradient_checkpointing"],
            zero_1=d["zero_1"],
            lora_rank=d["lora_rank"],
            teacher=preset(value) if value else None,
        )
        kind = d.get("container")
        training_memory.check(shape, "memory pre-flight", TRAINING_IMAGE_FAMILIES.get(kind) if kind else None)
        return value

    @field_validator("spot")
    @classmethod
    def _spot_needs_checkpoints(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("checkpoints") is False:
            raise ValueError(
                "spot = true with checkpoints = false: an interrupted spot job restarts from step 0; "
                "set checkpoints to true (CheckpointConfig) or spot to false"
            )
        return value

    @field_validator("max_wait_seconds")
    @classmethod
    def _spot_max_wait(cls, value: int | None, info: ValidationInfo) -> int | None:
        spot, runtime = info.data.get("spot"), info.data.get("max_runtime_seconds")
        if spot is None or runtime is None:
            return value
        if spot and value is None:
            raise ValueError(
                f"spot = true needs max_wait_seconds (MaxWaitTimeInSeconds) >= max_runtime_seconds "
                f"({runtime}); set max_wait_seconds, e.g. to {min(2 * runtime, MAX_RUNTIME_SECONDS)}"
            )
        if not spot and value is not None:
            raise ValueError(
                f"max_wait_seconds = {value} applies only to managed spot training; set spot to true "
                "or remove max_wait_seconds"
            )
        if value is not None and value < runtime:
            raise ValueError(
                f"max_wait_seconds = {value} is below max_runtime_seconds = {runtime}; SageMaker needs "
                "MaxWaitTimeInSeconds >= MaxRuntimeInSeconds: raise max_wait_seconds to at least "
                f"{runtime}"
            )
        if value is not None and value > MAX_RUNTIME_SECONDS:
            raise ValueError(
                f"max_wait_seconds = {value} is above SageMaker's limit of {MAX_RUNTIME_SECONDS} s (28 days); lower it"
            )
        return value

    @field_validator("keep_alive_seconds")
    @classmethod
    def _no_warm_pool_on_spot(cls, value: int, info: ValidationInfo) -> int:
        if value and info.data.get("spot"):
            raise ValueError(
                f"keep_alive_seconds = {value} with spot = true: SageMaker managed warm pools cannot be "
                "used with spot instances; set keep_alive_seconds to 0 or spot to false"
            )
        return value

    @field_validator("training_plan_arn")
    @classmethod
    def _plan_is_not_spot(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("spot"):
            raise ValueError(
                "training_plan_arn with spot = true: a training plan runs on reserved capacity that is "
                "paid up front, not on spot capacity; remove training_plan_arn or set spot to false"
            )
        return value

    @field_validator("network_isolation")
    @classmethod
    def _isolation_vs_s3_cache(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("persistent_compile_cache"):
            raise ValueError(
                "network_isolation = true with persistent_compile_cache = true: an isolated container cannot reach "
                "the S3 compile cache (NEURON_COMPILE_CACHE_URL), so every run would recompile; set one of them false"
            )
        return value

    # ---- derived facts -----------------------------------------------------------------------------------------------
    @property
    def multi_node(self) -> bool:
        return self.instance_count > 1

    @property
    def attach_efa_security_group(self) -> bool:
        return self.multi_node if self.efa_security_group is None else self.efa_security_group

    @property
    def total_neuron_cores(self) -> int:
        return instance(self.instance_type).neuron_cores * self.instance_count

    @property
    def data_parallel_degree(self) -> int:
        return self.total_neuron_cores // (self.tensor_parallel_degree * self.pipeline_parallel_degree)

    @property
    def memory_shape(self) -> training_memory.TrainingShape:
        return training_memory.TrainingShape(
            model=preset(self.model),
            method=self.method,
            instance_type=self.instance_type,
            instance_count=self.instance_count,
            tensor_parallel=self.tensor_parallel_degree,
            pipeline_parallel=self.pipeline_parallel_degree,
            micro_batch=self.micro_batch_size,
            sequence_length=self.sequence_length,
            gradient_checkpointing=self.gradient_checkpointing,
            zero_1=self.zero_1,
            lora_rank=self.lora_rank,
            teacher=preset(self.teacher_model) if self.teacher_model else None,
        )

    @property
    def longest_seconds(self) -> int:
        """How long the job may take end to end, waiting for spot capacity included."""
        return self.max_wait_seconds or self.max_runtime_seconds
