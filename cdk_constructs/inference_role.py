"""The execution role of the inference endpoint's models: a `SageMakerExecutionRole` with exactly what they load.

Two kinds, never one role for both:

- models loaded from S3 (network-isolated, in the VPC): their images, their model prefixes of the models bucket, the
  platform key, their logs and metrics, captured data, and the VPC's network interfaces;
- models a container downloads from the Hugging Face Hub (outside the VPC, with internet egress): their images, logs
  and metrics only, plus write-only access to the capture prefix when data capture is on. Such a model can reach the
  internet, so it can read nothing of the platform's data and cannot decrypt with the platform key.

The configuration refuses a Hub model beside S3 models on one endpoint of inference components (the components share
the endpoint's network settings), so an endpoint's models are always of one kind.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.sagemaker_role import SageMakerExecutionRole

# CloudWatch namespaces a SageMaker inference container publishes to.
METRIC_NAMESPACES = ("/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents", "AWS/SageMaker")
# Log groups SageMaker names after the endpoint or inference component (names generated at deployment).
LOG_GROUPS = ("/aws/sagemaker/Endpoints/*", "/aws/sagemaker/InferenceComponents/*")


def inference_execution_role(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    models_bucket: s3.IBucket,
    model_prefixes: Sequence[str],
    capture_bucket: s3.IBucket | None,
    capture_prefix: str,
    image_repository_arns: Sequence[str],
    hub_egress: bool,
) -> SageMakerExecutionRole:
    """The role of an endpoint's models (see the module docstring for the two kinds).

    `model_prefixes`: object prefixes (or `.tar.gz` keys) of `models_bucket` the models load; must be empty for Hub
    models. `capture_bucket`: where data capture writes under `capture_prefix/`, or None without capture.
    """
    if hub_egress and model_prefixes:
        raise ValueError(f"Hub models with egress read no model data; got prefixes {list(model_prefixes)}")
    kind = "Hub models with internet egress: images, logs, metrics" if hub_egress else "models loaded from S3"
    execution = SageMakerExecutionRole(
        scope,
        construct_id,
        description=f"SageMaker inference execution role ({kind})",
        log_groups=LOG_GROUPS,
        metric_namespaces=METRIC_NAMESPACES,
        image_repository_arns=image_repository_arns,
        in_vpc=not hub_egress,
    )
    if model_prefixes:
        execution.grant_read(models_bucket, *model_prefixes, label="models")
    if capture_bucket is not None:
        execution.grant_write(capture_bucket, f"{capture_prefix}/", label="data-capture")
    if model_prefixes or capture_bucket is not None:
        execution.grant_key(key, decrypt=bool(model_prefixes), encrypt=capture_bucket is not None)
    return execution
