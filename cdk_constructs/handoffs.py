"""What one stack hands another: typed values passed through constructor arguments, never looked up by name.

They live beside the constructs that take them (a building block never imports the stack that composes it): the
platform stack hands `Platform` to every stateless stack, the inference stack hands `ServingTarget` to the lifecycle,
the evaluation stack hands `EvaluationStage` to the lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from neuron.catalog import ContainerKind
from neuron.models import ModelArchitecture
from neuron.serving import ServingShape


@dataclass(frozen=True)
class DataBuckets:
    models: s3.IBucket
    datasets: s3.IBucket
    checkpoints: s3.IBucket
    evaluation: s3.IBucket
    data_capture: s3.IBucket


@dataclass(frozen=True)
class Platform:
    """What the stateless stacks receive from the platform stack."""

    key: kms.IKey
    buckets: DataBuckets
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    workload_security_group: ec2.ISecurityGroup
    efa_security_group: ec2.ISecurityGroup
    log_retention: logs.RetentionDays


@dataclass(frozen=True)
class ServingTarget:
    """What the lifecycle workflow needs to deploy a newly trained model to the inference endpoint.

    The workflow creates a SageMaker model from `image_uri` + `environment` + the new artifacts, a new endpoint config
    like the live one (`production_variant` with the new model's name filled in), and updates `endpoint_name`.
    """

    endpoint_name: str  # a token: the endpoint's name attribute
    endpoint_arn: str  # a token: the endpoint's ARN (as SageMaker writes it: the workflow's UpdateEndpoint scope)
    image_uri: str
    # The ECR repository of `image_uri`: the lifecycle's own model role pulls from it (the workflow's models never run
    # as the inference stack's role).
    image_repository_arn: str
    environment: Mapping[str, str]
    # One ProductionVariant in SageMaker API shape (InstanceType, InitialInstanceCount, VariantName, volume and
    # timeout settings), without ModelName; the workflow adds the new model's name.
    production_variant: Mapping[str, Any]
    # The rest of a CreateEndpointConfig request in API shape (KmsKeyId, DataCaptureConfig, ...), without the name
    # and the variants.
    endpoint_config: Mapping[str, Any]
    # The VpcConfig of CreateModel in API shape ({"SecurityGroupIds": [...], "Subnets": [...]}).
    vpc_config: Mapping[str, Any]
    enable_network_isolation: bool
    # The key prefix (ending in '/') the live endpoint's data capture writes in the platform's data-capture bucket,
    # or None without capture: a deployed model's role must write there.
    capture_prefix: str | None = None
    # What the lifecycle's compile stage needs to export a new model into exactly the served shape
    # (neuron/compilation.py): the server, the shape `environment` renders, the architecture that sizes the job,
    # and the profile setting the model comes from (named in errors). None: the target takes no compile stage.
    server: ContainerKind | None = None
    shape: ServingShape | None = None
    architecture: ModelArchitecture | None = None
    setting: str = ""


@dataclass(frozen=True)
class EvaluationStage:
    """Processing jobs that score a model, and how the lifecycle reads their verdict.

    Each request is a full CreateProcessingJob request in SageMaker API shape, written as Step Functions task
    parameters: a key ending in `.$` takes a JSONPath into the workflow state, e.g.
    `{"ProcessingJobName.$": "States.Format('eval-{}', $$.Execution.Name)"}` and the endpoint to score from
    `$.evaluation.endpoint_name`. The lifecycle runs them with `arn:aws:states:::sagemaker:createProcessingJob.sync`.
    """

    jobs: Mapping[str, Mapping[str, Any]]  # state name -> CreateProcessingJob parameters
    role: iam.IRole  # the processing jobs' role (the workflow passes it)
    report_bucket: s3.IBucket
    # JSONPath (into the workflow state after the jobs ran) of the S3 key of the report JSON; the report's format is
    # documented in evaluation/REPORT.md: {"schema_version", "metrics": {name: {"score", "threshold", "direction",
    # "passed", "risk"}}, "passed"}.
    report_key_path: str
    thresholds: Mapping[str, float]  # metric -> threshold, as in the evaluation config
    directions: Mapping[str, str]  # metric -> "min" (score must be >= threshold) or "max" (score must be <=)
    # The key prefix every report lands under (ending in '/'): the lifecycle reads only there.
    report_prefix: str = ""
