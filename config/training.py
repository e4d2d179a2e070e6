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
from neuron.catalog import CONTAINERS, INSTANCES, TENSOR_PARALLEL_DEGREES, ContainerKind, instance

# The training code shipped with every job (entry point + source dir), packaged at synth.
TRAINING_SOURCE_DIR = Path(__file__).resolve().parent.parent / "training"

# SageMaker's hard limits (CreateTrainingJob API reference, checked 2026-11).
MAX_RUNTIME_SECONDS = 28 * 24 * 3600
MAX_KEEP_ALIVE_SECONDS = 3600
# Channels the lifecycle workflow fills itself: the training code, the model to start from, a distillation teacher.
RESERVED_CHANNELS = ("code", "model", "teacher")
TRAINIUM_TYPES = tuple(name for name, spec in INSTANCES.items() if spec.accelerator == "trainium")
TRAINING_CONTAINERS = tuple(
    kind.value for kind, image in CONTAINERS.items() if image.purpose == "training" and image.family == "neuronx"
)
TRAINING_PLAN_ARN = r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-plan/[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"


class DataChannel(StrictModel):
    """An input channel read from the datasets bucket."""

    prefix: str = Field(pattern=r"^[A-Za-z0-9!_.*'()/-]+/$", description="Key prefix in the datasets bucket.")
    # FastFile streams from S3 on first read (no download wait); File copies everything to the volume first.
    input_mode: Literal["FastFile", "File"] = "FastFile"
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"


class TrainingJobConfig(StrictModel):
    container: ContainerKind = ContainerKind.PYTORCH_TRAINING_NEURONX
    instance_type: str = "ml.trn1.2xlarge"
    instance_count: int = Field(1, ge=1, le=256)
    volume_size_gb: int = Field(256, ge=1, le=16384)
    encrypt_volume_with_platform_key: bool = False
    efa_security_group: bool | None = Field(None, description="Attach the EFA security group; None = when multi-node.")
    tensor_parallel_degree: int = Field(1, ge=1)
    pipeline_parallel_degree: int = Field(1, ge=1)
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
                f"container {value.value!r} is not a Neuron training image; training needs a neuronx training "
                f"container: {', '.join(TRAINING_CONTAINERS)}"
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
    def longest_seconds(self) -> int:
        """How long the job may take end to end, waiting for spot capacity included."""
        return self.max_wait_seconds or self.max_runtime_seconds
