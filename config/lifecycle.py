"""Settings of the foundation-model lifecycle (pre-train -> fine-tune -> evaluate -> gate -> register -> deploy ->
notify) and of the optional SageMaker HyperPod cluster that runs long training outside that workflow."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from config.base import StrictModel
from config.training import TRAINING_PLAN_ARN, TRAINIUM_TYPES, DataChannel, TrainingJobConfig
from neuron.catalog import ContainerKind, instance

MODEL_PREFIX = r"^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$"
MODEL_PACKAGE_GROUP = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,40}$"
# SageMaker's limit on a model package group name (<stack_prefix>-<profile>-<model_package_group>).
MODEL_PACKAGE_GROUP_NAME_MAX = 63


class LifecycleConfig(StrictModel):
    enabled: bool = True
    pretrain: TrainingJobConfig | None = Field(None, description="Optional pre-training job before the fine-tune.")
    fine_tune: TrainingJobConfig = TrainingJobConfig(channels={"train": DataChannel(prefix="fine-tune/train/")})
    base_model_prefix: str = Field(
        "base-models/default/",
        description="Models-bucket prefix of the uncompressed base model the fine-tune starts from when no "
        "pre-training runs; a run can name another S3 URI in its input.",
    )
    distillation_teacher_prefix: str | None = Field(
        None,
        description="Models-bucket prefix of a teacher model: the fine-tune gets it as the `teacher` channel "
        "(knowledge distillation); None = plain fine-tuning.",
    )
    model_package_group: str = Field(
        "foundation-models", description="The registry's group is named <stack_prefix>-<profile>-<this>."
    )
    approval: Literal["auto", "manual"] = Field(
        "auto",
        description="auto: a model that passes the evaluation gate is Approved and deployed; manual: it is "
        "registered PendingManualApproval and not deployed. An ungated model (no evaluation stage) is never "
        "auto-approved.",
    )
    # The image a model package names when no inference stack hands over its serving image.
    package_container: ContainerKind = ContainerKind.TGI_NEURONX
    package_instance_type: str = "ml.inf2.xlarge"
    deploy: bool = Field(
        True,
        description="Build the deploy stage: an Approved model replaces the model of the inference stack's "
        "single-model endpoint (UpdateEndpoint). false: the workflow stops after registration.",
    )
    endpoint_poll_seconds: int = Field(60, ge=10, le=900)
    notification_emails: tuple[str, ...] = ()

    @field_validator("base_model_prefix", "distillation_teacher_prefix")
    @classmethod
    def _model_prefix(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(MODEL_PREFIX, value):
            raise ValueError(
                "not a models-bucket key prefix: use letters, digits and !_.*'()/-, no leading '/', "
                "ending in '/', without s3:// or the bucket name; e.g. base-models/llama-3.1-8b/"
            )
        return value

    @field_validator("pretrain")
    @classmethod
    def _pretraining_trains_every_weight(cls, value: TrainingJobConfig | None) -> TrainingJobConfig | None:
        if value is not None and value.method != "full":
            raise ValueError(
                f"pretrain.method = {value.method}: pre-training trains every weight; set method: full "
                "(LoRA adapters are for fine-tuning)"
            )
        if value is not None and value.teacher_model:
            raise ValueError(
                "pretrain.teacher_model: the workflow passes a teacher only to the fine-tune; remove it, or set "
                "fine_tune.teacher_model with distillation_teacher_prefix"
            )
        return value

    @field_validator("distillation_teacher_prefix")
    @classmethod
    def _teacher_named_and_placed(cls, value: str | None, info: ValidationInfo) -> str | None:
        fine_tune = info.data.get("fine_tune")
        if fine_tune is None:
            return value
        if value and not fine_tune.teacher_model:
            raise ValueError(
                f"distillation_teacher_prefix {value!r} without fine_tune.teacher_model: the memory pre-flight "
                "sizes the teacher from its preset; set fine_tune.teacher_model (e.g. llama-3.1-70b)"
            )
        if fine_tune.teacher_model and not value:
            raise ValueError(
                f"fine_tune.teacher_model = {fine_tune.teacher_model} without distillation_teacher_prefix: the job "
                "gets no teacher weights; set distillation_teacher_prefix to the teacher's models-bucket prefix or "
                "remove teacher_model"
            )
        return value

    @field_validator("model_package_group")
    @classmethod
    def _package_group(cls, value: str) -> str:
        if not re.fullmatch(MODEL_PACKAGE_GROUP, value):
            raise ValueError(
                "start and end with a letter or digit, hyphens only in between, at most 41 letters and "
                "digits; e.g. foundation-models"
            )
        return value

    @field_validator("package_instance_type")
    @classmethod
    def _inferentia_package(cls, value: str, info: ValidationInfo) -> str:
        spec = instance(value)
        if spec.accelerator != "inferentia":
            raise ValueError(
                f"{value} is a {spec.accelerator} instance; a model package is served on Inferentia "
                "(ml.inf1/ml.inf2), e.g. ml.inf2.xlarge"
            )
        return value

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValueError(f"{email!r} is not an e-mail address")
        return value


# ---------------------------------------------------------------------------------------------------------------------
# HyperPod
# ---------------------------------------------------------------------------------------------------------------------
# Slurm controller and login nodes run no training: general-purpose CPU instances HyperPod offers (checked 2026-11).
HYPERPOD_CPU_TYPES = (
    "ml.m5.xlarge",
    "ml.m5.2xlarge",
    "ml.m5.4xlarge",
    "ml.c5.2xlarge",
    "ml.c5.4xlarge",
    "ml.t3.xlarge",
    "ml.t3.2xlarge",
)
DeepHealthCheck = Literal["InstanceStress", "InstanceConnectivity"]
DEEP_HEALTH_CHECKS: tuple[DeepHealthCheck, ...] = ("InstanceStress", "InstanceConnectivity")
SLURM_NODE_TYPES = {"controller": "Controller", "login": "Login", "compute": "Compute"}


class HyperPodGroup(StrictModel):
    name: str = Field(pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    node_type: Literal["controller", "login", "compute"] = "compute"
    instance_type: str
    instance_count: int = Field(ge=1, le=1024)
    threads_per_core: Literal[1, 2] = 1
    volume_size_gb: int = Field(500, ge=1, le=16384, description="Extra EBS volume mounted at /opt/sagemaker.")
    training_plan_arn: str | None = Field(None, pattern=TRAINING_PLAN_ARN)

    @field_validator("instance_type")
    @classmethod
    def _type_fits_role(cls, value: str, info: ValidationInfo) -> str:
        node_type = info.data.get("node_type")
        if node_type == "compute" and value not in TRAINIUM_TYPES:
            raise ValueError(
                f"node_type compute with instance_type {value}: compute groups train on Trainium: "
                f"{', '.join(TRAINIUM_TYPES)}"
            )
        if node_type in ("controller", "login") and value not in HYPERPOD_CPU_TYPES:
            raise ValueError(
                f"node_type {node_type} with instance_type {value}: Slurm {node_type} nodes run no "
                f"training; use a CPU type: {', '.join(HYPERPOD_CPU_TYPES)}"
            )
        return value

    @field_validator("training_plan_arn")
    @classmethod
    def _plan_on_compute(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("node_type") != "compute":
            raise ValueError(
                f"training_plan_arn on a {info.data.get('node_type')} group: training plans reserve "
                "accelerated capacity; set it on a compute group"
            )
        return value

    @property
    def slurm_node_type(self) -> str:
        return SLURM_NODE_TYPES[self.node_type]


def _default_groups() -> tuple[HyperPodGroup, ...]:
    return (
        HyperPodGroup(name="controller", node_type="controller", instance_type="ml.m5.2xlarge", instance_count=1),
        HyperPodGroup(name="trn1-compute", instance_type="ml.trn1.32xlarge", instance_count=2),
    )


class HyperPodConfig(StrictModel):
    enabled: bool = False
    groups: tuple[HyperPodGroup, ...] = Field(default_factory=_default_groups)
    node_recovery: Literal["Automatic", "None"] = "Automatic"
    deep_health_checks: tuple[DeepHealthCheck, ...] = DEEP_HEALTH_CHECKS
    # ClusterSlurmConfig.PartitionNames (botocore 1.44.8): one name per group, pattern [a-zA-Z0-9](-*[a-zA-Z0-9])*,
    # at most 1024 characters (no underscores or dots: `ml.trn1.32xlarge` as in older provisioning files is refused).
    partition: str = Field("trainium", pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=1024)

    @field_validator("groups")
    @classmethod
    def _one_controller_unique_names(cls, value: tuple[HyperPodGroup, ...]) -> tuple[HyperPodGroup, ...]:
        names = [g.name for g in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"instance group names must be unique; repeated: {', '.join(duplicates)}")
        controllers = [g for g in value if g.node_type == "controller"]
        if len(controllers) != 1 or controllers[0].instance_count != 1:
            found = ", ".join(f"{g.name} x {g.instance_count}" for g in controllers) or "none"
            raise ValueError(f"Slurm needs exactly one controller group with instance_count 1; found: {found}")
        if not any(g.node_type == "compute" for g in value):
            raise ValueError("add at least one compute group (node_type compute, a Trainium instance type)")
        for group in value:
            if group.node_type == "compute" and group.instance_count > 1 and not instance(group.instance_type).efa_gbps:
                raise ValueError(
                    f"group {group.name}: instance_count {group.instance_count} of {group.instance_type}, which has "
                    f"no EFA; multi-node Trainium training needs EFA: use "
                    f"{', '.join(t for t in TRAINIUM_TYPES if instance(t).efa_gbps)}, or instance_count 1"
                )
        return value
