"""The inference endpoint: Neuron-served models, one per endpoint or many as inference components.

Runs the synth pre-flight (`config.inference.plan`) first, so a model that cannot fit, start or load never reaches
CloudFormation. Publishes the endpoint, its component names and the LLM generation defaults for the operator tooling,
and hands the lifecycle workflow a `ServingTarget` to deploy new artifacts of the (first) LLM.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.handoffs import Platform, ServingTarget
from cdk_constructs.inference_alarms import DeploymentAlarms, alarm_names
from cdk_constructs.inference_autoscaling import NeuronAutoscaling
from cdk_constructs.inference_components import NeuronInferenceComponent
from cdk_constructs.inference_endpoint import VARIANT_NAME, NeuronEndpoint
from cdk_constructs.inference_role import inference_execution_role
from cdk_constructs.served_model import ServedModel, model_prefixes, serving_shape
from config import AppConfig
from config.inference import InferenceConfig, ModelConfig
from neuron.images import container, dlc_account, image_uri
from neuron.planning import ModelPlan, plan
from neuron.serving import MODEL_DIR, environment
from sagemaker_requests import storage_layout

HUB_EGRESS_OUTPUT = (
    "models {keys} download from the Hugging Face Hub: outside the VPC, with internet egress, without network isolation"
)
DEFAULT_LATENCY_P99_MS = {True: 30_000, False: 2_000}  # generating text / not
HUB_EGRESS_STATEMENT = (
    "model {key} downloads {model_id} from the Hugging Face Hub at start-up, which the platform's private subnets "
    "cannot reach: it runs outside the VPC with SageMaker-managed internet egress and without network isolation. "
    "To run it isolated in the VPC, stage it into the models bucket (source type s3-prefix with from_hub: the Hub "
    "staging workflow, docs/inference.md) or set compiled_artifacts."
)
HUB_TOKEN_STATEMENT = (
    "model {key}'s Hub token (secret {secret}) is resolved by CloudFormation into the model's environment (HF_TOKEN): "
    "sagemaker:DescribeModel returns it to anyone allowed that call, and it is never refreshed (a rotated or revoked "
    "token reaches the model only when the model is replaced). Staging the model (from_hub) keeps the token in "
    "Secrets Manager: the staging job reads it at run time."
)


class InferenceStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: AppConfig, platform: Platform, **kwargs: Any
    ) -> None:
        if config.inference is None:
            raise ValueError("InferenceStack needs an inference section in the profile")
        inference = config.inference
        plans = plan(inference)  # the pre-flight: raises before any resource exists
        super().__init__(
            scope, construct_id, description="Neuron GenAI inference: SageMaker endpoint on Inferentia", **kwargs
        )
        region, instance_type = config.region, inference.instance_type
        images = {key: image_uri(p.config.server, region, instance_type) for key, p in plans.items()}
        capture_prefix = storage_layout.capture_prefix(config.profile)
        subnets = platform.vpc.select_subnets(
            subnet_type=platform.subnets.subnet_type, subnet_group_name=platform.subnets.subnet_group_name
        )
        vpc_config = {
            "SecurityGroupIds": [platform.workload_security_group.security_group_id],
            "Subnets": subnets.subnet_ids,
        }
        isolated = {key: not p.config.needs_hub_egress for key, p in plans.items()}

        self.repositories = {
            key: self.format_arn(
                service="ecr",
                account=dlc_account(region),
                resource="repository",
                resource_name=container(p.config.server).repository,
            )
            for key, p in plans.items()
        }
        # One endpoint's models are all isolated or all Hub downloads (a config rule for inference components; a
        # single-model endpoint has one model): its role is of that kind (cdk_constructs/inference_role.py).
        self.execution = inference_execution_role(
            self,
            "Execution",
            key=platform.key,
            models_bucket=platform.buckets.models,
            model_prefixes=sorted({prefix for p in plans.values() for prefix in model_prefixes(p)}),
            capture_bucket=platform.buckets.data_capture if inference.data_capture.enabled else None,
            capture_prefix=capture_prefix,
            image_repository_arns=list(self.repositories.values()),
            hub_egress=not all(isolated.values()),
        )
        self.models: dict[str, ServedModel] = {}
        self.hub_egress: list[str] = []
        for key, model_plan in plans.items():
            served = ServedModel(
                self,
                f"Model-{key}",
                plan=model_plan,
                image_uri=images[key],
                role=self.execution.role,
                models_bucket=platform.buckets.models,
                vpc_config=vpc_config,
            )
            served.model.node.add_dependency(self.execution)
            if not served.isolated:
                model_id = getattr(model_plan.config.source, "model_id", "?")
                # Stated at every synth (an info, so it does not fail validation) and in the HubEgress output.
                cdk.Annotations.of(served).add_info(HUB_EGRESS_STATEMENT.format(key=key, model_id=model_id))
                if "HF_TOKEN" in served.environment:
                    secret = getattr(model_plan.config.source, "token_secret", "?")
                    cdk.Annotations.of(served).add_info(HUB_TOKEN_STATEMENT.format(key=key, secret=secret))
                self.hub_egress.append(key)
            self.models[key] = served

        components = inference.inference_components
        endpoint_config = self._endpoint_config(inference, platform, capture_prefix, vpc_config, all(isolated.values()))
        first = next(iter(plans))
        self.endpoint = NeuronEndpoint(
            self,
            "Endpoint",
            production_variant=self._production_variant(inference, plans, first),
            endpoint_config=endpoint_config,
            deployment=None if components else inference.deployment,
            rollback_alarm_names=[] if components else alarm_names(f"{self.stack_name}-{first}"),
        )
        self.endpoint.config.node.add_dependency(self.execution)
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", description="inference deployment")
        alarm_action = cloudwatch_actions.SnsAction(self.alarm_topic.topic)
        self.alarms: dict[str, DeploymentAlarms] = {}
        self.components: dict[str, NeuronInferenceComponent] = {}
        for key, model_plan in plans.items():
            prefix = f"{self.stack_name}-{key}"
            if components:
                component = NeuronInferenceComponent(
                    self,
                    f"Component-{key}",
                    plan=model_plan,
                    endpoint=self.endpoint,
                    model_name=self.models[key].model.attr_model_name,
                    deployment=inference.deployment,
                    rollback_alarm_names=alarm_names(prefix),
                )
                self.components[key] = component
                target: NeuronEndpoint | NeuronInferenceComponent = component
            elif key != first:
                continue
            else:
                target = self.endpoint
            self.alarms[key] = DeploymentAlarms(
                self,
                f"Alarms-{key}",
                name_prefix=prefix,
                target=target,
                errors_5xx_per_minute=inference.alarms.errors_5xx_per_minute,
                latency_p99_ms=model_plan.config.latency_alarm_p99_ms
                or DEFAULT_LATENCY_P99_MS[model_plan.config.profile.generates_text],
                evaluation_periods=inference.alarms.evaluation_periods,
                datapoints_to_alarm=inference.alarms.datapoints_to_alarm,
                action=alarm_action,
            )

        self.autoscaling: dict[str, NeuronAutoscaling] = {}
        if components:
            for key, component in self.components.items():
                scaling = plans[key].config.scaling
                if scaling is not None:
                    self.autoscaling[key] = NeuronAutoscaling(
                        self,
                        f"Scaling-{key}",
                        scaling=scaling,
                        target=component,
                    )
        elif inference.scaling is not None:
            self.autoscaling[first] = NeuronAutoscaling(
                self,
                "Scaling",
                scaling=inference.scaling,
                target=self.endpoint,
            )
            self.autoscaling[first].node.add_dependency(self.endpoint.endpoint)

        document = self._generation_document(plans)
        # to_json_string resolves the component names (tokens) but drops nulls, which the document keeps.
        self.generation_defaults = ssm.StringParameter(
            self,
            "GenerationDefaults",
            string_value=self.to_json_string(document) if self.components else json.dumps(document),
            description="LLM generation defaults and context windows of the inference endpoint (JSON)",
        )
        self.serving_target = self._serving_target(
            plans, images, vpc_config, f"{capture_prefix}/" if inference.data_capture.enabled else None
        )

        # What an evaluation job may invoke: this endpoint and its components.
        self.invoke_arns = [self.endpoint.endpoint_arn, *(c.arn for c in self.components.values())]
        cdk.CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        cdk.CfnOutput(
            self,
            "InferenceComponentNames",
            value=cdk.Fn.join(",", [c.name for c in self.components.values()]) if self.components else "",
        )
        cdk.CfnOutput(self, "GenerationDefaultsParameter", value=self.generation_defaults.parameter_name)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic.topic_arn)
        if self.hub_egress:
            cdk.CfnOutput(self, "HubEgress", value=HUB_EGRESS_OUTPUT.format(keys=", ".join(self.hub_egress)))

    # ----------------------------------------------------------------------------------------------------------------
    def _production_variant(
        self, inference: InferenceConfig, plans: dict[str, ModelPlan[ModelConfig]], first: str
    ) -> dict[str, Any]:
        variant: dict[str, Any] = {
            "VariantName": VARIANT_NAME,
            "InstanceType": inference.instance_type,
            "InitialInstanceCount": inference.instance_count,
            "RoutingConfig": {"RoutingStrategy": inference.routing},
        }
        if inference.inference_components:
            variant["VolumeSizeInGB"] = sum(p.volume_size_gb for p in plans.values())
            if inference.instance_scaling is not None:
                variant["ManagedInstanceScaling"] = {
                    "Status": "ENABLED",
                    "MinInstanceCount": inference.instance_scaling.min_instances,
                    "MaxInstanceCount": inference.instance_scaling.max_instances,
                }
        else:
            variant |= {
                "ModelName": self.models[first].model.attr_model_name,
                "InitialVariantWeight": 1.0,
                **_startup_settings(plans[first]),
            }
        if inference.capacity_reservation is not None:
            variant["CapacityReservationConfig"] = {
                "CapacityReservationPreference": "capacity-reservations-only",
                "MlReservationArn": inference.capacity_reservation.ml_reservation_arn,
            }
        return variant

    def _endpoint_config(
        self,
        inference: InferenceConfig,
        platform: Platform,
        capture_prefix: str,
        vpc_config: dict[str, Any],
        isolated: bool,
    ) -> dict[str, Any]:
        settings: dict[str, Any] = {"KmsKeyId": platform.key.key_arn}
        capture = inference.data_capture
        if capture.enabled:
            settings["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": capture.sampling_percent,
                "DestinationS3Uri": platform.buckets.data_capture.s3_url_for_object(capture_prefix),
                "KmsKeyId": platform.key.key_arn,
                "CaptureOptions": [
                    {"CaptureMode": mode}
                    for mode, on in (("Input", capture.capture_requests), ("Output", capture.capture_responses))
                    if on
                ],
                "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
            }
        if inference.inference_components:
            # Components run under the endpoint's role and network settings.
            settings["ExecutionRoleArn"] = self.execution.role.role_arn
            settings["EnableNetworkIsolation"] = isolated
            if isolated:
                settings["VpcConfig"] = vpc_config
        return settings

    def _generation_document(self, plans: dict[str, ModelPlan[ModelConfig]]) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for key, model_plan in plans.items():
            model = model_plan.config
            if not model.profile.generates_text:
                continue
            component = self.components.get(key)
            models[key] = {
                **model.generation_settings.parameters(),
                "context_window": model.max_total_tokens,
                "component": component.name if component is not None else None,
                "server": model.server.value,
            }
        return {"models": models}

    def _serving_target(
        self,
        plans: dict[str, ModelPlan[ModelConfig]],
        images: dict[str, str],
        vpc_config: dict[str, Any],
        capture_prefix: str | None,
    ) -> ServingTarget:
        """The first LLM (else the first model) as a single-model variant loading new artifacts from S3."""
        key = next((k for k, p in plans.items() if p.config.profile.generates_text), next(iter(plans)))
        model_plan = plans[key]
        shape = serving_shape(model_plan, model_location=MODEL_DIR)
        return ServingTarget(
            endpoint_name=self.endpoint.endpoint_name,
            endpoint_arn=self.endpoint.endpoint_arn,
            image_uri=images[key],
            image_repository_arn=self.repositories[key],
            environment=environment(model_plan.config.server, shape),
            production_variant={
                k: v
                for k, v in self.endpoint.production_variant.items()
                if k
                in ("VariantName", "InstanceType", "InitialInstanceCount", "RoutingConfig", "CapacityReservationConfig")
            }
            | {"InitialVariantWeight": 1.0, **_startup_settings(model_plan, from_s3=True)},
            endpoint_config={
                k: v
                for k, v in self.endpoint.endpoint_config_settings.items()
                if k in ("KmsKeyId", "DataCaptureConfig")
            },
            vpc_config=vpc_config,
            enable_network_isolation=True,
            capture_prefix=capture_prefix,
            server=model_plan.config.server,
            shape=shape,
            architecture=model_plan.arch,
            setting=f"inference.models.{key}",
        )


def _startup_settings(model_plan: ModelPlan[ModelConfig], *, from_s3: bool = False) -> dict[str, int]:
    settings = {
        "VolumeSizeInGB": model_plan.volume_size_gb,
        "ContainerStartupHealthCheckTimeoutInSeconds": model_plan.container_startup_timeout_seconds,
    }
    download = model_plan.model_data_download_timeout_seconds
    if download is None and from_s3:
        download = model_plan.container_startup_timeout_seconds  # new artifacts come from S3: same budget
    if download is not None:
        settings["ModelDataDownloadTimeoutInSeconds"] = download
    return settings
