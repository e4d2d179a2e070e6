"""The SageMaker requests that release a trained model: register it, host it as a candidate for evaluation, deploy it
to the live endpoint.

Each request is built by one function, in SageMaker API shape, as Step Functions task parameters (keys ending in `.$`
take a JSONPath or an intrinsic function), typed with the TypedDicts of `sagemaker_requests.shapes`. The tests validate
every one against botocore's service model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sagemaker_requests.shapes import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelPackageRequest,
    CreateModelRequest,
    DeleteEndpointConfigRequest,
    DeleteModelRequest,
    EndpointNameRequest,
    ModelDataSource,
    NameContainsRequest,
    Tag,
    UpdateEndpointRequest,
)

# Endpoint-config settings of the live endpoint a new config carries over (the rest is the production variant).
CARRIED_CONFIG_SETTINGS = ("KmsKeyId", "DataCaptureConfig")


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


def run_tag() -> Tag:
    """Every resource a lifecycle run creates is tagged with its run id."""
    return {"Key": "lifecycle-run", "Value.$": "$.run.id"}


def model_data_source(model_s3_uri_path: str) -> ModelDataSource:
    """An uncompressed model directory (the training jobs write CompressionType NONE)."""
    return {"S3DataSource": {"S3Uri.$": model_s3_uri_path, "S3DataType": "S3Prefix", "CompressionType": "None"}}


def create_model_request(
    *, serving: ServingTarget, execution_role_arn: str, model_name_path: str, model_s3_uri_path: str
) -> CreateModelRequest:
    """The candidate model: the live model's image and environment, the new artifacts, the workflow's model role."""
    return {
        "ModelName.$": model_name_path,
        "ExecutionRoleArn": execution_role_arn,
        "PrimaryContainer": {
            "Image": serving.image_uri,
            "Environment": dict(serving.environment),
            "ModelDataSource": model_data_source(model_s3_uri_path),
        },
        "VpcConfig": {
            "SecurityGroupIds": list(serving.vpc_config["SecurityGroupIds"]),
            "Subnets": list(serving.vpc_config["Subnets"]),
        },
        "EnableNetworkIsolation": serving.enable_network_isolation,
        "Tags": [run_tag()],
    }


def endpoint_config_request(
    *, serving: ServingTarget, config_name_path: str, model_name_path: str, candidate: bool
) -> CreateEndpointConfigRequest:
    """Like the live endpoint's config with the new model; a candidate runs on one instance and captures nothing."""
    unknown = sorted(set(serving.endpoint_config) - set(CARRIED_CONFIG_SETTINGS))
    if unknown:
        raise ValueError(
            f"the serving target's endpoint_config has {', '.join(unknown)}; the lifecycle carries over only "
            f"{', '.join(CARRIED_CONFIG_SETTINGS)}: add the setting to sagemaker_requests.shapes and here, or leave it "
            "out of ServingTarget.endpoint_config"
        )
    variant: dict[str, Any] = {**serving.production_variant, "ModelName.$": model_name_path}
    if candidate:
        variant["InitialInstanceCount"] = 1
        variant.pop("ManagedInstanceScaling", None)
    request: CreateEndpointConfigRequest = {
        "EndpointConfigName.$": config_name_path,
        "ProductionVariants": [variant],
        "Tags": [run_tag()],
    }
    if "KmsKeyId" in serving.endpoint_config:
        request["KmsKeyId"] = serving.endpoint_config["KmsKeyId"]
    # Evaluation prompts are not production traffic: a candidate captures nothing.
    if "DataCaptureConfig" in serving.endpoint_config and not candidate:
        request["DataCaptureConfig"] = dict(serving.endpoint_config["DataCaptureConfig"])
    return request


def create_endpoint_request(*, endpoint_name_path: str, config_name_path: str) -> CreateEndpointRequest:
    return {
        "EndpointName.$": endpoint_name_path,
        "EndpointConfigName.$": config_name_path,
        "Tags": [run_tag()],
    }


def update_endpoint_request(*, serving: ServingTarget, config_name_path: str) -> UpdateEndpointRequest:
    # RetainDeploymentConfig keeps the inference stack's blue/green traffic shifting and alarm rollback.
    return {
        "EndpointName": serving.endpoint_name,
        "EndpointConfigName.$": config_name_path,
        "RetainDeploymentConfig": True,
    }


def describe_endpoint_request(
    *, endpoint_name: str | None = None, endpoint_name_path: str | None = None
) -> EndpointNameRequest:
    """By name (the live endpoint) or by a JSONPath (the run's candidate): exactly one."""
    if (endpoint_name is None) == (endpoint_name_path is None):
        raise ValueError("describe_endpoint_request takes endpoint_name or endpoint_name_path, exactly one")
    if endpoint_name is not None:
        return {"EndpointName": endpoint_name}
    assert endpoint_name_path is not None
    return {"EndpointName.$": endpoint_name_path}


def delete_endpoint_request(*, endpoint_name_path: str) -> EndpointNameRequest:
    return {"EndpointName.$": endpoint_name_path}


def delete_endpoint_config_request(*, config_name_path: str) -> DeleteEndpointConfigRequest:
    return {"EndpointConfigName.$": config_name_path}


def delete_model_request(*, model_name_path: str) -> DeleteModelRequest:
    return {"ModelName.$": model_name_path}


def name_contains_request(*, name_path: str) -> NameContainsRequest:
    """ListEndpoints / ListEndpointConfigs / ListModels for one generated name: an empty list means "not there",
    which a Delete* cannot say (its not-found is an unmodeled ValidationException, indistinguishable from any other
    refusal in a Catch)."""
    return {"NameContains.$": name_path}


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
) -> CreateModelPackageRequest:
    """A version in the model package group, its approval status set by the evaluation gate."""
    request: CreateModelPackageRequest = {
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
        "Tags": [run_tag()],
    }
    if report_s3_uri_path:
        request["ModelMetrics"] = {
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": report_s3_uri_path}}
        }
    return request
