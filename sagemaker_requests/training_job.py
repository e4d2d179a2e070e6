"""The one CreateTrainingJob request the lifecycle workflow sends, built from a `TrainingJobConfig`.

`stepfunctions_tasks.SageMakerCreateTrainingJob` cannot express CheckpointConfig, managed spot with MaxWait,
KeepAlive (warm pools), RetryStrategy, inter-container encryption or a training plan, so the workflow sends this full
request through `arn:aws:states:::sagemaker:createTrainingJob.sync`. Keys ending in `.$` are evaluated by Step
Functions against the workflow state; the tests validate the request against botocore's CreateTrainingJob shape with
those values replaced by typed samples.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.training import TrainingJobConfig
from neuron.catalog import TRAINING_IMAGE_REGIONS, instance
from neuron.errors import UserError
from sagemaker_requests.shapes import (
    Channel,
    CheckpointConfig,
    CreateTrainingJobRequest,
    MetricDefinition,
    ResourceConfig,
    StoppingCondition,
    TrainingS3DataSource,
)
from sagemaker_requests.storage_layout import compile_cache_prefix

CODE_CHANNEL = "code"
CODE_DIR = f"/opt/ml/input/data/{CODE_CHANNEL}"
# CheckpointConfig.LocalPath's platform default (botocore service-2.json, CheckpointConfig); train.py writes its
# checkpoint-<step>/ directories there and resumes from the newest one SageMaker restored.
CHECKPOINT_LOCAL_PATH = "/opt/ml/checkpoints"
# The channels train.py reads (SM_CHANNEL_<NAME>); `code` carries the source archive. The model it writes to
# /opt/ml/model (SM_MODEL_DIR) lands uncompressed at <S3OutputPath>/<job name>/output/model/.
DATA_CHANNELS = ("train", "validation")
MODEL_CHANNEL = "model"
TEACHER_CHANNEL = "teacher"
# Hyperparameters every job gets unless the profile sets them (the DLC's own CI passes report_to none).
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"report_to": "none", "logging_steps": 10}
# The runtime settings optimum-neuron's own training launch scripts export (huggingface/optimum-neuron v0.4.1
# examples/training/llama/finetune_llama.sh L4-7): fused softmax, 3 in-flight async executions, host OOM mitigation.
TRAINING_ENVIRONMENT = {
    "NEURON_FUSE_SOFTMAX": "1",
    "NEURON_RT_ASYNC_EXEC_MAX_INFLIGHT_REQUESTS": "3",
    "MALLOC_ARENA_MAX": "64",
}
# libfabric's EFA provider with device RDMA; fork-safe because data-loader workers fork after EFA is opened.
EFA_ENVIRONMENT = {"FI_PROVIDER": "efa", "FI_EFA_USE_DEVICE_RDMA": "1", "FI_EFA_FORK_SAFE": "1"}
# What the training script prints, turned into SageMaker metrics (train.py logs `step=N loss=X`).
METRIC_DEFINITIONS: tuple[MetricDefinition, ...] = ({"Name": "train:loss", "Regex": r"loss=([0-9]+\.[0-9]+)"},)


@dataclass(frozen=True)
class TrainingJobTargets:
    """Where a training job reads and writes; values may be CDK tokens (resolved at deploy)."""

    image_uri: str
    role_arn: str
    key_arn: str
    region: str
    datasets_bucket: str
    output_s3_uri: str  # s3://bucket/prefix/ ; SageMaker writes <job name>/output/model/ below it
    checkpoints_bucket: str
    code_s3_uri: str  # the SourceArchive object
    code_file_name: str
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


def training_job_request(
    *,
    stage: str,
    job: TrainingJobConfig,
    targets: TrainingJobTargets,
    run_id_path: str,
    model_s3_uri_path: str | None,
    teacher_s3_uri_path: str | None = None,
) -> CreateTrainingJobRequest:
    """The CreateTrainingJob parameters of one lifecycle stage (`pretrain`, `fine-tune`).

    The job name, checkpoint location and run tag derive from the run id at `run_id_path`; the model to start from
    (channel `model`) and a distillation teacher (channel `teacher`) are S3 prefixes read from the workflow state.
    """
    spec = instance(job.instance_type)
    regions = TRAINING_IMAGE_REGIONS.get(job.container)
    if regions is not None and targets.region not in regions:
        raise UserError(
            f"lifecycle.{stage.replace('-', '_')}.container = {job.container.value}: the image is not published in "
            f"region {targets.region} (aws/sagemaker-python-sdk image_uri_config/huggingface-neuronx.json, training "
            f"4.55.4); deploy the profile to one of {', '.join(regions)}"
        )
    checkpoint: CheckpointConfig = {
        "S3Uri.$": f"States.Format('s3://{targets.checkpoints_bucket}/checkpoints/{stage}/{{}}/', {run_id_path})",
        "LocalPath": CHECKPOINT_LOCAL_PATH,
    }
    resources: ResourceConfig = {
        "InstanceType": job.instance_type,
        "InstanceCount": job.instance_count,
        "VolumeSizeInGB": job.volume_size_gb,
    }
    if job.encrypt_volume_with_platform_key:
        resources["VolumeKmsKeyId"] = targets.key_arn
    if job.keep_alive_seconds:
        resources["KeepAlivePeriodInSeconds"] = job.keep_alive_seconds
    if job.training_plan_arn:
        resources["TrainingPlanArn"] = job.training_plan_arn
    stopping: StoppingCondition = {"MaxRuntimeInSeconds": job.max_runtime_seconds}
    if job.spot and job.max_wait_seconds:
        stopping["MaxWaitTimeInSeconds"] = job.max_wait_seconds

    environment = {"NEURON_CC_FLAGS": " ".join(job.compiler_flags), **TRAINING_ENVIRONMENT}
    if job.persistent_compile_cache:
        environment["NEURON_COMPILE_CACHE_URL"] = (
            f"s3://{targets.checkpoints_bucket}/{compile_cache_prefix(spec.family)}"
        )
    if job.multi_node:
        environment.update(EFA_ENVIRONMENT)

    channels: list[Channel] = [
        _channel(CODE_CHANNEL, "File", s3_uri=targets.code_s3_uri),
        *(
            _channel(
                name,
                c.input_mode,
                s3_uri=f"s3://{targets.datasets_bucket}/{c.prefix}",
                distribution=c.distribution,
            )
            for name, c in job.channels.items()
        ),
    ]
    if model_s3_uri_path:
        channels.append(_channel(MODEL_CHANNEL, "FastFile", s3_uri_path=model_s3_uri_path))
    if teacher_s3_uri_path:
        channels.append(_channel(TEACHER_CHANNEL, "FastFile", s3_uri_path=teacher_s3_uri_path))

    request: CreateTrainingJobRequest = {
        "TrainingJobName.$": f"States.Format('{stage}-{{}}', {run_id_path})",
        "RoleArn": targets.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": targets.image_uri,
            "TrainingInputMode": "File",
            "EnableSageMakerMetricsTimeSeries": True,
            "MetricDefinitions": [{"Name": m["Name"], "Regex": m["Regex"]} for m in METRIC_DEFINITIONS],
        },
        "HyperParameters": _hyperparameters(stage, job, targets),
        "Environment": environment,
        "InputDataConfig": channels,
        # Uncompressed output: the next stage and the endpoint read the model directory without unpacking a tarball.
        "OutputDataConfig": {
            "S3OutputPath": targets.output_s3_uri,
            "KmsKeyId": targets.key_arn,
            "CompressionType": "NONE",
        },
        "ResourceConfig": resources,
        "StoppingCondition": stopping,
        "RetryStrategy": {"MaximumRetryAttempts": job.retry_attempts},
        "VpcConfig": {"SecurityGroupIds": list(targets.security_group_ids), "Subnets": list(targets.subnet_ids)},
        "EnableNetworkIsolation": job.network_isolation,
        "EnableInterContainerTrafficEncryption": job.inter_container_encryption,
        "EnableManagedSpotTraining": job.spot,
        "Tags": [{"Key": "lifecycle-run", "Value.$": run_id_path}, {"Key": "lifecycle-stage", "Value": stage}],
    }
    if job.checkpoints:
        request["CheckpointConfig"] = checkpoint
    return request


def _channel(
    name: str,
    mode: str,
    *,
    s3_uri: str | None = None,
    s3_uri_path: str | None = None,
    distribution: str = "FullyReplicated",
) -> Channel:
    """An S3-prefix channel at a fixed URI or at one read from the workflow state (`s3_uri_path`)."""
    source: TrainingS3DataSource = {"S3DataType": "S3Prefix", "S3DataDistributionType": distribution}
    if s3_uri is not None:
        source["S3Uri"] = s3_uri
    else:
        assert s3_uri_path is not None
        source["S3Uri.$"] = s3_uri_path
    return {"ChannelName": name, "InputMode": mode, "DataSource": {"S3DataSource": source}}


def _hyperparameters(stage: str, job: TrainingJobConfig, targets: TrainingJobTargets) -> dict[str, str]:
    """The training toolkit's settings plus the job's own, JSON-encoded as the SageMaker Python SDK sends them.

    The toolkit json-decodes each value and passes it to train.py as `--key str(value)` (booleans as True/False), which
    the script's HfArgumentParser reads: names are optimum-neuron's NeuronTrainingArguments fields or train.py's own
    ScriptArguments (tests/test_training_contract.py proves every profile's set parses).
    """
    values: dict[str, Any] = {
        **DEFAULT_HYPERPARAMETERS,
        **job.hyperparameters,
        "mode": "pretrain" if stage == "pretrain" else "fine-tune",
        "method": job.method,
        "lora_r": job.lora_rank,
        "max_seq_length": job.sequence_length,
        "tensor_parallel_size": job.tensor_parallel_degree,
        "pipeline_parallel_size": job.pipeline_parallel_degree,
        "per_device_train_batch_size": job.micro_batch_size,
        "gradient_accumulation_steps": job.gradient_accumulation_steps,
        "gradient_checkpointing": job.gradient_checkpointing,
        "zero_1": job.zero_1,
        "bf16": True,
        "output_dir": CHECKPOINT_LOCAL_PATH,
        "sagemaker_program": job.entry_point,
        # Read from the code channel: works with network isolation, where the container cannot call S3 itself.
        "sagemaker_submit_directory": f"{CODE_DIR}/{targets.code_file_name}",
        "sagemaker_region": targets.region,
        "sagemaker_container_log_level": 20,
        # torchrun on every node, one process per NeuronCore; the toolkit reads the instance type to count them.
        "sagemaker_torch_distributed_enabled": True,
        "sagemaker_instance_type": job.instance_type,
    }
    return {key: json.dumps(value) for key, value in values.items()}
