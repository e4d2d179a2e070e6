"""The CreateTrainingJob request of a Neuron compile (export) job, built from a `neuron.compilation.CompilePlan`.

A training job, not a processing job: processing offers no Trainium or Inferentia instance types, and a training job
runs any image's own command through `AlgorithmSpecification.ContainerEntrypoint` / `ContainerArguments` (botocore
service model). The image is the serving image, so the export runs the endpoint's own optimum-neuron /
transformers-neuronx / neuronx-cc. The model comes in uncompressed as the `model` channel. The artifacts go out
uncompressed, either to `<output_s3_uri>/<job name>/output/model/` (the export writes /opt/ml/model; a new prefix per
job, the lifecycle's candidates) or to an exact prefix, `artifacts_s3_uri` (the export writes /opt/ml/checkpoints,
which SageMaker keeps in sync with CheckpointConfig.S3Uri: the profile's `compiled_artifacts`).

Keys ending in `.$` are evaluated by Step Functions against the workflow state; the tests validate every request
against botocore's CreateTrainingJob shape with those values replaced by typed samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from neuron.compilation import CHECKPOINT_DIR, MODEL_CHANNEL, OUTPUT_DIR, CompilePlan
from sagemaker_requests.shapes import CreateTrainingJobRequest, ResourceConfig, Tag, TrainingS3DataSource

# CreateTrainingJob limits botocore's validator does not enforce (it checks types and required members, not lengths):
# every ContainerEntrypoint / ContainerArguments string up to 256 characters, environment values up to 512.
MAX_CONTAINER_STRING = 256
MAX_ENVIRONMENT_VALUE = 512
RETRY_ATTEMPTS = 2  # RetryStrategy retries internal and capacity errors, never a failing export
OUTPUT_LAYOUT = "{output}/{job}/output/model/"  # where SageMaker uploads OUTPUT_DIR (CompressionType NONE)


@dataclass(frozen=True)
class CompileJobTargets:
    """Where a compile job reads, writes and runs; values may be CDK tokens (resolved at deploy)."""

    image_uri: str  # the serving image of the endpoint that loads the artifacts
    role_arn: str
    key_arn: str
    output_s3_uri: str  # s3://bucket/compiled/<owner> (no trailing slash): SageMaker adds <job>/output/model/
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


def compiled_artifacts_uri(output_s3_uri: str, job_name: str) -> str:
    """The S3 prefix a finished compile job's artifacts are at (what CreateModel's ModelDataSource names)."""
    return OUTPUT_LAYOUT.format(output=output_s3_uri.rstrip("/"), job=job_name)


def compile_job_request(
    *,
    plan: CompilePlan,
    targets: CompileJobTargets,
    job_name_path: str,
    model_s3_uri: str | None = None,
    model_s3_uri_path: str | None = None,
    tags: Mapping[str, str] | None = None,
    tag_paths: Mapping[str, str] | None = None,
    artifacts_s3_uri: str | None = None,
) -> CreateTrainingJobRequest:
    """The CreateTrainingJob parameters that export one model.

    `job_name_path` is a JSONPath or intrinsic for the job name (never a fixed name: names are unique per account
    and a retried workflow must not collide); the model is `model_s3_uri` or, known at run time, `model_s3_uri_path`.
    With `artifacts_s3_uri` the artifacts land exactly there (the plan's export must write CHECKPOINT_DIR), else under
    `<output_s3_uri>/<job name>/output/model/` (the export writes OUTPUT_DIR).
    """
    if (model_s3_uri is None) == (model_s3_uri_path is None):
        raise ValueError("give exactly one of model_s3_uri and model_s3_uri_path")
    command = plan.command
    expected_dir = CHECKPOINT_DIR if artifacts_s3_uri is not None else OUTPUT_DIR
    if command.output_dir != expected_dir:
        raise ValueError(
            f"the export writes {command.output_dir} but this request uploads {expected_dir}: plan the export with "
            f"output_dir={expected_dir!r}"
        )
    _check_lengths(command.entrypoint, command.arguments, command.environment)
    spec = plan.spec
    source: TrainingS3DataSource = {"S3DataType": "S3Prefix", "S3DataDistributionType": "FullyReplicated"}
    if model_s3_uri is not None:
        source["S3Uri"] = model_s3_uri
    else:
        assert model_s3_uri_path is not None
        source["S3Uri.$"] = model_s3_uri_path
    resources: ResourceConfig = {
        "InstanceType": plan.instance_type,
        "InstanceCount": 1,
        "VolumeSizeInGB": plan.volume_size_gb,
    }
    # SageMaker rejects a volume key on instance types with local NVMe storage (every trn1 type has it): the
    # instance store is encrypted by the hardware, and the output is encrypted with the platform key below.
    if spec.local_nvme_gb == 0:
        resources["VolumeKmsKeyId"] = targets.key_arn
    request_tags: list[Tag] = [{"Key": "purpose", "Value": "neuron-compile"}]
    request_tags += [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
    request_tags += [{"Key": k, "Value.$": v} for k, v in (tag_paths or {}).items()]
    request: CreateTrainingJobRequest = {
        "TrainingJobName.$": job_name_path,
        "RoleArn": targets.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": targets.image_uri,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": list(command.entrypoint),
            "ContainerArguments": list(command.arguments),
        },
        "Environment": dict(command.environment),
        # File mode: the exporters read safetensors with random access; the volume is sized for the copy.
        "InputDataConfig": [
            {
                "ChannelName": MODEL_CHANNEL,
                "InputMode": "File",
                "CompressionType": "None",
                "DataSource": {"S3DataSource": source},
            }
        ],
        "OutputDataConfig": {
            "S3OutputPath": targets.output_s3_uri.rstrip("/"),
            "KmsKeyId": targets.key_arn,
            "CompressionType": "NONE",  # OUTPUT_DIR file by file: the endpoint loads the prefix as /opt/ml/model
        },
        "ResourceConfig": resources,
        "StoppingCondition": {"MaxRuntimeInSeconds": plan.max_runtime_seconds},
        "RetryStrategy": {"MaximumRetryAttempts": RETRY_ATTEMPTS},
        "VpcConfig": {"SecurityGroupIds": list(targets.security_group_ids), "Subnets": list(targets.subnet_ids)},
        "EnableNetworkIsolation": True,
        "EnableInterContainerTrafficEncryption": True,
        "Tags": request_tags,
    }
    if artifacts_s3_uri is not None:
        if not artifacts_s3_uri.endswith("/"):
            raise ValueError(f"artifacts_s3_uri is a prefix and must end with '/': {artifacts_s3_uri}")
        request["CheckpointConfig"] = {"S3Uri": artifacts_s3_uri, "LocalPath": CHECKPOINT_DIR}
    return request


def _check_lengths(entrypoint: Sequence[str], arguments: Sequence[str], environment: Mapping[str, str]) -> None:
    long = [s for s in (*entrypoint, *arguments) if len(s) > MAX_CONTAINER_STRING]
    if long:
        raise ValueError(
            f"ContainerEntrypoint/ContainerArguments strings are limited to {MAX_CONTAINER_STRING} characters; "
            f"{len(long)} are longer (first: {long[0][:60]!r}...): move the text into an environment variable"
        )
    big = [k for k, v in environment.items() if len(v) > MAX_ENVIRONMENT_VALUE]
    if big:
        raise ValueError(f"environment values are limited to {MAX_ENVIRONMENT_VALUE} characters: {', '.join(big)}")


__all__ = ["OUTPUT_DIR", "CompileJobTargets", "compile_job_request", "compiled_artifacts_uri"]
