"""The CreateProcessingJob request of the Hub -> S3 staging job, written as Step Functions task parameters.

One job per staged model: Hugging Face's CPU image runs `staging/stage_hub_snapshot.py` (a ProcessingInput of the
script's CDK asset), which downloads the pinned snapshot into its output directory; SageMaker uploads that directory to
the exact models-bucket prefix the profile serves from, encrypted with the platform key (ProcessingOutputConfig
KmsKeyId), at the end of the job.

Network: the job needs the Hugging Face Hub, and the platform's subnets have no route to the internet (no NAT gateway,
cdk_constructs/private_network.py), so the request has no VpcConfig: SageMaker runs the job with its own managed
internet access. It is not network-isolated (`EnableNetworkIsolation: False`), and its role can only write the staging
prefix, read its own script and, if given, the token secret.

Shape: botocore's SageMaker service model (`CreateProcessingJobRequest`; `AppSpecification.ContainerEntrypoint` and
`ContainerArguments`, each at most 100 strings of 256 characters; `ProcessingS3Input.S3DataType` is `S3Prefix` or
`ManifestFile` only, so the script is an S3Prefix input of its one object's key; `NetworkConfig.VpcConfig` optional).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from config.inference import HubStaging
from neuron.errors import UserError
from sagemaker_requests.processing import PROCESSING_ROOT, unique_name
from sagemaker_requests.shapes import CreateProcessingJobRequest, Tag

JOB_PREFIX = "hub-stage"  # every staging job is named `hub-stage-<uuid>`
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
# The directory the script writes and SageMaker uploads: the script's own default (staging/stage_hub_snapshot.py
# OUTPUT_DIR; a test ties the two).
OUTPUT_DIR = f"{PROCESSING_ROOT}/model"
HEADROOM_GB = 10


@dataclass(frozen=True)
class StagingTargets:
    """Where and as whom one staging job runs, and what it writes."""

    image_uri: str
    role_arn: str
    key_arn: str
    code_s3_uri: str  # the script's object (s3://<assets bucket>/<hash>.py)
    code_file_name: str  # its object name, which is its name inside CODE_DIR
    output_s3_uri: str  # s3://<models bucket>/<the source's prefix>
    region: str  # of the token secret (the stack's)


def staging_volume_gb(parameters: int) -> int:
    """Twice the model's bf16 weights (2 bytes a parameter: a repository may hold the weights in two formats, e.g.
    safetensors and Meta's `original/` checkpoint) plus headroom for the tokenizer and the download's temporary
    files."""
    return 2 * math.ceil(parameters * 2 / 1e9) + HEADROOM_GB


@cache
def _processing_instance_types() -> tuple[str, ...]:
    """The instance types CreateProcessingJob accepts (`ProcessingInstanceType`, the installed botocore's model)."""
    import botocore.session

    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProcessingInstanceType")
    return tuple(shape.enum)


def staging_request(
    *,
    staging: HubStaging,
    targets: StagingTargets,
    parameters: int,
    where: str,
    tags: Mapping[str, str],
) -> CreateProcessingJobRequest:
    """The full request of one model's staging job; `where` names the setting in errors
    (`inference.models.<key>.source.from_hub`)."""
    if staging.instance_type not in _processing_instance_types():
        general = ", ".join(t for t in _processing_instance_types() if t.startswith("ml.m5."))
        raise UserError(
            f"{where}.instance_type = {staging.instance_type} is not a SageMaker processing instance type "
            f"(CreateProcessingJob ProcessingInstanceType); a download needs CPU and network only, e.g. {general}"
        )
    volume = staging.volume_size_gb or staging_volume_gb(parameters)
    arguments = [
        "--model-id",
        staging.model_id,
        "--revision",
        staging.pinned_revision,
        "--output",
        OUTPUT_DIR,
        "--region",
        targets.region,
    ]
    if staging.token_secret:
        # The secret's name or ARN only: the job reads the value at run time (the token is in no Describe output).
        arguments += ["--token-secret", staging.token_secret]
        if staging.token_secret_field:
            arguments += ["--token-secret-field", staging.token_secret_field]
    for pattern in staging.ignore_patterns:
        arguments += ["--ignore", pattern]
    job_tags: list[Tag] = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    # SageMaker writes each output file at S3Uri + "/" + its path below LocalPath: the prefix without its '/'.
    output_uri = targets.output_s3_uri.rstrip("/")
    return {
        "ProcessingJobName.$": unique_name(JOB_PREFIX),
        "RoleArn": targets.role_arn,
        "AppSpecification": {
            "ImageUri": targets.image_uri,
            # The image's own ENTRYPOINT starts its model server (Dockerfile.cpu L315): replaced by the script. `python`
            # is conda's Python 3.12, first on the image's PATH.
            "ContainerEntrypoint": ["python", f"{CODE_DIR}/{targets.code_file_name}"],
            "ContainerArguments": arguments,
        },
        # The script's own object as an S3Prefix input, landing as CODE_DIR/<object name>: what the SageMaker Python
        # SDK's ScriptProcessor sends for a script (aws/sagemaker-python-sdk v3.20.0 sagemaker-core/src/sagemaker/core/
        # processing.py: the uploaded file's URI, S3Prefix, local path /opt/ml/processing/input/code, L995-1008; the
        # entrypoint `<command> /opt/ml/processing/input/code/<script name>`, L1010-1023).
        "ProcessingInputs": [
            {
                "InputName": "code",
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": targets.code_s3_uri,
                    "LocalPath": CODE_DIR,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "KmsKeyId": targets.key_arn,
            "Outputs": [
                {
                    "OutputName": "model",
                    "AppManaged": False,
                    "S3Output": {"S3Uri": output_uri, "LocalPath": OUTPUT_DIR, "S3UploadMode": "EndOfJob"},
                }
            ],
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": staging.instance_type,
                "VolumeSizeInGB": volume,
                "VolumeKmsKeyId": targets.key_arn,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": staging.max_runtime_seconds},
        # No VpcConfig: the platform's subnets cannot reach the Hub (module docstring).
        "NetworkConfig": {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": False},
        "Tags": [{"Key": "neuron-genai:purpose", "Value": "hub-staging"}, *job_tags],
    }
