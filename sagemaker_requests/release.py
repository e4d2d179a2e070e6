"""The SageMaker requests that release a trained model: register it, host it as a candidate for evaluation, deploy it
to the live endpoint.

Each request is built by one function, in SageMaker API shape, as Step Functions task parameters (keys ending in `.$`
take a JSONPath or an intrinsic function). The tests validate every one against botocore's service model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ServingTarget(Protocol):
    """What these requests read of the live endpoint (`cdk_constructs.handoffs.ServingTarget` provides it)."""

    @property
    def endpoint_name(self) -> str: ...
    @property
    def image_uri(self) -> str: ...
    @property
    def environment(self) -> Mapping[str, str]: ...
    @property
    def production_variant(self) -> Mapping[str, Any]: ...
    @property
    def endpoint_config(self) -> Mapping[str, Any]: ...
    @property
    def vpc_config(self) -> Mapping[str, Any]: ...
    @property
    def enable_network_isolation(self) -> bool: ...


def model_data_source(model_s3_uri_path: str) -> dict[str, Any]:
    """An uncompressed model directory (the training jobs write CompressionType NONE)."""
    return {"S3DataSource": {"S3Uri.$": model_s3_uri_path, "S3DataType": "S3Prefix", "CompressionType": "None"}}


def create_model_request(
    *, serving: ServingTarget, execution_role_arn: str, model_name_path: str, model_s3_uri_path: str
) -> dict[str, Any]:
    """The candidate model: the live model's image and environment, the new artifacts, the workflow's model role."""
    return {
        "ModelName.$": model_name_path,
        "ExecutionRoleArn": execution_role_arn,
        "PrimaryContainer": {
            "Image": serving.image_uri,
            "Environment": dict(serving.environment),
            "ModelDataSource": model_data_source(model_s3_uri_path),
        },
        "VpcConfig": dict(serving.vpc_config),
        "EnableNetworkIsolation": serving.enable_network_isolation,
        "Tags": [{"Key": "lifecycle-run", "Value.$": "$.run.id"}],
    }


def endpoint_config_request(
    *, serving: ServingTarget, config_name_path: str, model_name_path: str, candidate: bool
) -> dict[str, Any]:
    """Like the live endpoint's config with the new model; a candidate runs on one instance and captures nothing."""
    variant: dict[str, Any] = {**serving.production_variant, "ModelName.$": model_name_path}
    settings = dict(serving.endpoint_config)
    if candidate:
        variant["InitialInstanceCount"] = 1
        variant.pop("ManagedInstanceScaling", None)
        settings.pop("DataCaptureConfig", None)  # evaluation prompts are not production traffic
    return {
        **settings,
        "EndpointConfigName.$": config_name_path,
        "ProductionVariants": [variant],
        "Tags": [{"Key": "lifecycle-run", "Value.$": "$.run.id"}],
    }


def create_endpoint_request(*, endpoint_name_path: str, config_name_path: str) -> dict[str, Any]:
    return {
        "EndpointName.$": endpoint_name_path,
        "EndpointConfigName.$": config_name_path,
        "Tags": [{"Key": "lifecycle-run", "Value.$": "$.run.id"}],
    }


def update_endpoint_request(*, serving: ServingTarget, config_name_path: str) -> dict[str, Any]:
    # RetainDeploymentConfig keeps the inference stack's blue/green traffic shifting and alarm rollback.
    return {
        "EndpointName": serving.endpoint_name,
        "EndpointConfigName.$": config_name_path,
        "RetainDeploymentConfig": True,
    }


def describe_endpoint_request(*, endpoint_name: str | None = None, endpoint_name_path: str | None = None) -> dict:
    return {"EndpointName": endpoint_name} if endpoint_name else {"EndpointName.$": endpoint_name_path}


def delete_endpoint_request(*, endpoint_name_path: str) -> dict[str, Any]:
    return {"EndpointName.$": endpoint_name_path}


def delete_endpoint_config_request(*, config_name_path: str) -> dict[str, Any]:
    return {"EndpointConfigName.$": config_name_path}


def model_package_request(
    *,
    group_name: str,
    image_uri: str,
    environment: Mapping[str, str],
    instance_type: str,
    model_s3_uri_path: str,
    approval_status_path: str,
    report_s3_uri_path: str | None,
    description_path: str,
) -> dict[str, Any]:
    """A version in the model package group, its approval status set by the evaluation gate."""
    request: dict[str, Any] = {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription.$": description_path,
        "ModelApprovalStatus.$": approval_status_path,
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": image_uri,
                    "Environment": dict(environment),
                    "ModelDataSource": model_data_source(model_s3_uri_path),
                }
            ],
            "SupportedRealtimeInferenceInstanceTypes": [instance_type],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "CustomerMetadataProperties": {"lifecycle-run.$": "$.run.id", "training-job.$": "$.fine_tune.TrainingJobName"},
        "Tags": [{"Key": "lifecycle-run", "Value.$": "$.run.id"}],
    }
    if report_s3_uri_path:
        request["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": report_s3_uri_path}}
        }
    return request
