"""The request shapes the workflows send to SageMaker, as TypedDicts.

Step Functions task parameters name a key `Key.$` when its value is a JSONPath or an intrinsic function evaluated at
run time, so a field may appear as `ModelName` or `ModelName.$`. Those names are not identifiers: the functional
TypedDict syntax declares them. A field that the builders always write is Required; the alternatives of one field
(`X` / `X.$`) are both NotRequired, and the builders write exactly one (the tests validate every built request against
botocore's service model with the `.$` values replaced by typed samples, which catches a missing member).

Member names and nesting: botocore's SageMaker service model (`botocore/data/sagemaker/2017-07-24/service-2.json`,
the boto3 release the project pins) — the shapes CreateTrainingJobRequest, CreateProcessingJobRequest,
CreateModelInput, CreateEndpointConfigInput, CreateEndpointInput, UpdateEndpointInput, CreateModelPackageInput,
DescribeEndpointInput, DeleteEndpointInput and DeleteEndpointConfigInput. Only the members the project sends are
declared; deeply nested structures the project passes through from configuration (a production variant, a data
capture config) stay `dict[str, Any]`.
"""

# No `from __future__ import annotations` here: with string annotations Python 3.11 does not see `Required` /
# `NotRequired` in a class body, so every key would count as optional and the conformance test would miss a missing
# member (tests/test_request_shapes.py checks __required_keys__).
from typing import Any, NotRequired, Required, TypedDict

# ---- shared pieces --------------------------------------------------------------------------------------------------
Tag = TypedDict("Tag", {"Key": Required[str], "Value": NotRequired[str], "Value.$": NotRequired[str]})


class VpcConfig(TypedDict):
    SecurityGroupIds: list[str]
    Subnets: list[str]


S3ModelDataSource = TypedDict(
    "S3ModelDataSource",
    {"S3Uri": NotRequired[str], "S3Uri.$": NotRequired[str], "S3DataType": str, "CompressionType": str},
)


class ModelDataSource(TypedDict):
    S3DataSource: S3ModelDataSource


# ---- CreateTrainingJob ----------------------------------------------------------------------------------------------
TrainingS3DataSource = TypedDict(
    "TrainingS3DataSource",
    {"S3Uri": NotRequired[str], "S3Uri.$": NotRequired[str], "S3DataType": str, "S3DataDistributionType": str},
)


class TrainingDataSource(TypedDict):
    S3DataSource: TrainingS3DataSource


class Channel(TypedDict):
    ChannelName: str
    InputMode: str
    CompressionType: NotRequired[str]
    DataSource: TrainingDataSource


class MetricDefinition(TypedDict):
    Name: str
    Regex: str


# Training jobs send the metric members (metrics read from the logs); compile jobs send the serving image's own export
# command instead.
class AlgorithmSpecification(TypedDict):
    TrainingImage: str
    TrainingInputMode: str
    EnableSageMakerMetricsTimeSeries: NotRequired[bool]
    MetricDefinitions: NotRequired[list[MetricDefinition]]
    ContainerEntrypoint: NotRequired[list[str]]
    ContainerArguments: NotRequired[list[str]]


class OutputDataConfig(TypedDict):
    S3OutputPath: str
    KmsKeyId: str
    CompressionType: str


class ResourceConfig(TypedDict):
    InstanceType: str
    InstanceCount: int
    VolumeSizeInGB: int
    VolumeKmsKeyId: NotRequired[str]
    KeepAlivePeriodInSeconds: NotRequired[int]
    TrainingPlanArn: NotRequired[str]


class StoppingCondition(TypedDict):
    MaxRuntimeInSeconds: int
    MaxWaitTimeInSeconds: NotRequired[int]


CheckpointConfig = TypedDict(
    "CheckpointConfig", {"S3Uri": NotRequired[str], "S3Uri.$": NotRequired[str], "LocalPath": str}
)


class RetryStrategy(TypedDict):
    MaximumRetryAttempts: int


CreateTrainingJobRequest = TypedDict(
    "CreateTrainingJobRequest",
    {
        "TrainingJobName": NotRequired[str],
        "TrainingJobName.$": NotRequired[str],
        "RoleArn": str,
        "AlgorithmSpecification": AlgorithmSpecification,
        "HyperParameters": NotRequired[dict[str, str]],
        "Environment": dict[str, str],
        "InputDataConfig": list[Channel],
        "OutputDataConfig": OutputDataConfig,
        "ResourceConfig": ResourceConfig,
        "StoppingCondition": StoppingCondition,
        "RetryStrategy": RetryStrategy,
        "VpcConfig": VpcConfig,
        "EnableNetworkIsolation": bool,
        "EnableInterContainerTrafficEncryption": bool,
        "EnableManagedSpotTraining": NotRequired[bool],
        "CheckpointConfig": NotRequired[CheckpointConfig],
        "Tags": list[Tag],
    },
)

# ---- CreateProcessingJob --------------------------------------------------------------------------------------------
ProcessingS3Input = TypedDict(
    "ProcessingS3Input",
    {
        "S3Uri": NotRequired[str],
        "S3Uri.$": NotRequired[str],
        "LocalPath": str,
        "S3DataType": str,
        "S3InputMode": str,
        "S3DataDistributionType": str,
        "S3CompressionType": str,
    },
)


class ProcessingInput(TypedDict):
    InputName: str
    AppManaged: bool
    S3Input: ProcessingS3Input


ProcessingS3Output = TypedDict(
    "ProcessingS3Output",
    {"S3Uri": NotRequired[str], "S3Uri.$": NotRequired[str], "LocalPath": str, "S3UploadMode": str},
)


class ProcessingOutput(TypedDict):
    OutputName: str
    AppManaged: bool
    S3Output: ProcessingS3Output


class ProcessingOutputConfig(TypedDict):
    KmsKeyId: str
    Outputs: list[ProcessingOutput]


class ProcessingClusterConfig(TypedDict):
    InstanceCount: int
    InstanceType: str
    VolumeSizeInGB: int
    VolumeKmsKeyId: str


class ProcessingResources(TypedDict):
    ClusterConfig: ProcessingClusterConfig


class AppSpecification(TypedDict):
    ImageUri: str
    ContainerEntrypoint: NotRequired[list[str]]
    ContainerArguments: NotRequired[list[str]]


class NetworkConfig(TypedDict):
    EnableInterContainerTrafficEncryption: bool
    EnableNetworkIsolation: bool
    VpcConfig: NotRequired[VpcConfig]  # absent only for a job that needs the internet (the Hub staging job)


class ProcessingStoppingCondition(TypedDict):
    MaxRuntimeInSeconds: int


CreateProcessingJobRequest = TypedDict(
    "CreateProcessingJobRequest",
    {
        "ProcessingJobName": NotRequired[str],
        "ProcessingJobName.$": NotRequired[str],
        "RoleArn": str,
        "AppSpecification": AppSpecification,
        "ProcessingInputs": NotRequired[list[ProcessingInput]],
        "ProcessingOutputConfig": ProcessingOutputConfig,
        "ProcessingResources": ProcessingResources,
        "StoppingCondition": ProcessingStoppingCondition,
        "NetworkConfig": NetworkConfig,
        # Values ending in `.$` are evaluated by Step Functions (`EVALUATION_TARGET.$`).
        "Environment": NotRequired[dict[str, str]],
        "Tags": list[Tag],
    },
)

# ---- release: CreateModel, CreateEndpointConfig, CreateEndpoint, UpdateEndpoint, Describe/Delete --------------------


class ContainerDefinition(TypedDict):
    Image: str
    Environment: dict[str, str]
    ModelDataSource: ModelDataSource


CreateModelRequest = TypedDict(
    "CreateModelRequest",
    {
        "ModelName": NotRequired[str],
        "ModelName.$": NotRequired[str],
        "ExecutionRoleArn": str,
        "PrimaryContainer": ContainerDefinition,
        "VpcConfig": VpcConfig,
        "EnableNetworkIsolation": bool,
        "Tags": list[Tag],
    },
)

CreateEndpointConfigRequest = TypedDict(
    "CreateEndpointConfigRequest",
    {
        "EndpointConfigName": NotRequired[str],
        "EndpointConfigName.$": NotRequired[str],
        # API-shaped production variants (a `ModelName.$` among their members), passed through from the inference
        # stack's settings.
        "ProductionVariants": list[dict[str, Any]],
        "KmsKeyId": NotRequired[str],
        "DataCaptureConfig": NotRequired[dict[str, Any]],
        "Tags": list[Tag],
    },
)

CreateEndpointRequest = TypedDict(
    "CreateEndpointRequest",
    {
        "EndpointName": NotRequired[str],
        "EndpointName.$": NotRequired[str],
        "EndpointConfigName": NotRequired[str],
        "EndpointConfigName.$": NotRequired[str],
        "Tags": list[Tag],
    },
)

UpdateEndpointRequest = TypedDict(
    "UpdateEndpointRequest",
    {
        "EndpointName": NotRequired[str],
        "EndpointName.$": NotRequired[str],
        "EndpointConfigName": NotRequired[str],
        "EndpointConfigName.$": NotRequired[str],
        "RetainDeploymentConfig": bool,
    },
)

# DescribeEndpoint and DeleteEndpoint take the same one member.
EndpointNameRequest = TypedDict(
    "EndpointNameRequest", {"EndpointName": NotRequired[str], "EndpointName.$": NotRequired[str]}
)
DeleteEndpointConfigRequest = TypedDict(
    "DeleteEndpointConfigRequest",
    {"EndpointConfigName": NotRequired[str], "EndpointConfigName.$": NotRequired[str]},
)
DeleteModelRequest = TypedDict("DeleteModelRequest", {"ModelName": NotRequired[str], "ModelName.$": NotRequired[str]})
# ListEndpoints, ListEndpointConfigs and ListModels filtered by a name substring (the one member the clean-up sends).
NameContainsRequest = TypedDict(
    "NameContainsRequest", {"NameContains": NotRequired[str], "NameContains.$": NotRequired[str]}
)

# ---- CreateModelPackage ---------------------------------------------------------------------------------------------


class ModelPackageContainer(TypedDict):
    Image: str
    Environment: dict[str, str]
    ModelDataSource: ModelDataSource


class InferenceSpecification(TypedDict):
    Containers: list[ModelPackageContainer]
    SupportedRealtimeInferenceInstanceTypes: list[str]
    SupportedContentTypes: list[str]
    SupportedResponseMIMETypes: list[str]


MetricsSource = TypedDict("MetricsSource", {"ContentType": str, "S3Uri": NotRequired[str], "S3Uri.$": NotRequired[str]})


class ModelQuality(TypedDict):
    Statistics: MetricsSource


class ModelMetrics(TypedDict):
    ModelQuality: ModelQuality


CreateModelPackageRequest = TypedDict(
    "CreateModelPackageRequest",
    {
        "ModelPackageGroupName": str,
        "ModelPackageDescription": NotRequired[str],
        "ModelPackageDescription.$": NotRequired[str],
        "ModelApprovalStatus": NotRequired[str],
        "ModelApprovalStatus.$": NotRequired[str],
        "InferenceSpecification": InferenceSpecification,
        # Keys ending in `.$` take values from the run (`lifecycle-run.$`).
        "CustomerMetadataProperties": dict[str, str],
        "ModelMetrics": NotRequired[ModelMetrics],
        "Tags": list[Tag],
    },
)
