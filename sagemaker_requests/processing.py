"""CreateProcessingJob requests in SageMaker API shape, written as Step Functions task parameters.

Every evaluation job shares the same guard rails: a generated unique name, the platform key on volume and outputs,
private subnets, inter-container encryption, a runtime limit. Keys ending in `.$` take JSONPath or intrinsic functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from config.evaluation import JobResources
from sagemaker_requests.shapes import (
    AppSpecification,
    CreateProcessingJobRequest,
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
)

PROCESSING_ROOT = "/opt/ml/processing"
MAX_NAME_PREFIX = 26  # 63-character job names: prefix + "-" + a 36-character UUID


@dataclass(frozen=True)
class ProcessingPlacement:
    """Where and as whom the jobs run: the same for every evaluation job."""

    role_arn: str
    kms_key_arn: str
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


def unique_name(prefix: str) -> str:
    """The intrinsic of a fresh job name per run (names are unique per account and region, and retries must not
    collide)."""
    if not 1 <= len(prefix) <= MAX_NAME_PREFIX:
        raise ValueError(f"job name prefix {prefix!r} must be 1 to {MAX_NAME_PREFIX} characters")
    return f"States.Format('{prefix}-{{}}', States.UUID())"


def generated_name_prefix(value: str) -> str:
    """The fixed part of a name `unique_name` (or any `States.Format('<prefix>{}', ...)`) generates: what a policy
    scopes the job's permissions to."""
    match = re.fullmatch(r"States\.Format\('([a-z0-9][a-z0-9-]*)\{\}'.*", value, flags=re.DOTALL)
    if match is None:
        raise ValueError(f"{value!r} is not a generated name with a fixed prefix: a policy cannot be scoped to it")
    return match.group(1)


def s3_input(
    name: str,
    local_path: str,
    *,
    s3_uri: str | None = None,
    s3_uri_path: str | None = None,
    data_type: str = "S3Prefix",
) -> ProcessingInput:
    """One input channel; `s3_uri_path` is a JSONPath or intrinsic for a URI known only at run time."""
    source: ProcessingS3Input = {
        "LocalPath": local_path,
        "S3DataType": data_type,
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
        "S3CompressionType": "None",
    }
    if s3_uri is not None:
        source["S3Uri"] = s3_uri
    else:
        assert s3_uri_path is not None
        source["S3Uri.$"] = s3_uri_path
    return {"InputName": name, "AppManaged": False, "S3Input": source}


def s3_output(name: str, local_path: str, *, s3_uri_path: str) -> ProcessingOutput:
    return {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {"S3Uri.$": s3_uri_path, "LocalPath": local_path, "S3UploadMode": "EndOfJob"},
    }


def processing_request(
    *,
    name_prefix: str,
    image_uri: str,
    placement: ProcessingPlacement,
    resources: JobResources,
    inputs: Sequence[ProcessingInput],
    outputs: Sequence[ProcessingOutput],
    network_isolation: bool,
    environment: Mapping[str, str] | None = None,
    arguments: Sequence[str] | None = None,
    purpose: str,
) -> CreateProcessingJobRequest:
    app: AppSpecification = {"ImageUri": image_uri}
    if arguments:
        app["ContainerArguments"] = list(arguments)
    request: CreateProcessingJobRequest = {
        "ProcessingJobName.$": unique_name(name_prefix),
        "RoleArn": placement.role_arn,
        "AppSpecification": app,
        "ProcessingOutputConfig": {"KmsKeyId": placement.kms_key_arn, "Outputs": list(outputs)},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": resources.instance_count,
                "InstanceType": resources.instance_type,
                "VolumeSizeInGB": resources.volume_size_gb,
                "VolumeKmsKeyId": placement.kms_key_arn,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": resources.max_runtime_seconds},
        "NetworkConfig": {
            "EnableInterContainerTrafficEncryption": True,
            "EnableNetworkIsolation": network_isolation,
            "VpcConfig": {
                "SecurityGroupIds": list(placement.security_group_ids),
                "Subnets": list(placement.subnet_ids),
            },
        },
        "Tags": [{"Key": "neuron-genai:purpose", "Value": purpose}],
    }
    if inputs:
        request["ProcessingInputs"] = list(inputs)
    if environment:
        request["Environment"] = dict(environment)
    return request
