"""One SageMaker model: a Neuron serving image, the environment of its compiled shape, and where its weights are."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.inference import HubSource, ModelConfig, S3PrefixSource, TarballSource
from neuron.planning import ModelPlan
from neuron.serving import MODEL_DIR, ServingShape, environment


def serving_shape(plan: ModelPlan[ModelConfig], *, model_location: str) -> ServingShape:
    model = plan.config
    return ServingShape(
        model_location=model_location,
        task=model.effective_task,
        degree=model.tensor_parallel_degree,
        batch_size=model.batch_size,
        sequence_length=model.effective_sequence_length,
        dtype=model.dtype,
        replicas=plan.replicas_per_container,
        max_input_tokens=model.max_input_tokens,
        max_total_tokens=model.max_total_tokens,
        quantization=model.quantization,
        continuous_batching=model.continuous,
        revision=model.source.revision
        if isinstance(model.source, HubSource) and model.compiled_artifacts is None
        else None,
        startup_timeout_seconds=plan.container_startup_timeout_seconds,
    )


def model_data(plan: ModelPlan[ModelConfig], bucket: s3.IBucket) -> dict[str, Any]:
    """The container's ModelDataSource / ModelDataUrl (CloudFormation shape), empty for a Hub download."""
    model = plan.config
    if model.compiled_artifacts is not None:
        prefix: str | None = model.compiled_artifacts
    elif isinstance(model.source, S3PrefixSource):
        prefix = model.source.prefix
    else:
        prefix = None
    if prefix is not None:
        return {
            "model_data_source": sagemaker.CfnModel.ModelDataSourceProperty(
                s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                    s3_uri=bucket.s3_url_for_object(prefix), s3_data_type="S3Prefix", compression_type="None"
                )
            )
        }
    if isinstance(model.source, TarballSource):
        return {"model_data_url": bucket.s3_url_for_object(model.source.key)}
    return {}


def model_prefixes(plan: ModelPlan[ModelConfig]) -> list[str]:
    """The models-bucket prefixes this model reads (for the execution role)."""
    model = plan.config
    found = [model.compiled_artifacts] if model.compiled_artifacts else []
    if isinstance(model.source, S3PrefixSource):
        found.append(model.source.prefix)
    if isinstance(model.source, TarballSource):
        found.append(model.source.key)
    return found


class ServedModel(Construct):
    """A CfnModel for one planned model; runs in the VPC with network isolation unless it downloads from the Hub.

    Args:
        plan: the pre-flight's plan of the model (server, compiled shape, source, timeouts).
        image_uri: the Neuron serving image.
        role: the execution role SageMaker assumes for the model.
        models_bucket: holds the model's S3 prefix, tarball or compiled artifacts.
        vpc_config: `SecurityGroupIds` and `Subnets` (API shape); applied only when the model is isolated (a Hub
            download needs SageMaker-managed egress). None: never in a VPC.

    Attributes:
        model: the CfnModel.
        environment: the container's environment (the serving shape; `HF_TOKEN` as a Secrets Manager dynamic
            reference when a gated Hub model needs it).
        isolated: network isolation on (the model loads from S3).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        plan: ModelPlan[ModelConfig],
        image_uri: str,
        role: iam.IRole,
        models_bucket: s3.IBucket,
        vpc_config: Mapping[str, Any] | None,
    ) -> None:
        super().__init__(scope, construct_id)
        model = plan.config
        data = model_data(plan, models_bucket)
        location = model.source.model_id if isinstance(model.source, HubSource) and not data else MODEL_DIR
        self.environment: dict[str, str] = environment(model.server, serving_shape(plan, model_location=location))
        if isinstance(model.source, HubSource) and model.needs_hub_egress and model.source.token_secret:
            # A {{resolve:secretsmanager:...}} reference: CloudFormation reads the token at deploy time; the
            # template and the cloud assembly never hold it, but the deployed model's environment does (DescribeModel
            # returns it) until the model is replaced: the inference stack states this at synth (docs/security.md).
            self.environment["HF_TOKEN"] = cdk.SecretValue.secrets_manager(
                model.source.token_secret, json_field=model.source.token_secret_field
            ).unsafe_unwrap()
        self.isolated = not model.needs_hub_egress
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri, environment=self.environment, **data
            ),
            enable_network_isolation=self.isolated,
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                security_group_ids=list(vpc_config["SecurityGroupIds"]), subnets=list(vpc_config["Subnets"])
            )
            if vpc_config is not None and self.isolated
            else None,
        )
