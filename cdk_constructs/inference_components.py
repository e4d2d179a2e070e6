"""One model hosted as an inference component: its NeuronCores and memory per copy, copies, start-up, rollouts."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.inference import DeploymentConfig, ModelConfig
from neuron.planning import ModelPlan


class NeuronInferenceComponent(Construct):
    """Copies of one model on an endpoint's instances, each on `tensor_parallel_degree` NeuronCores.

    Updates roll one copy at a time and roll back when one of `rollback_alarm_names` fires.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        plan: ModelPlan[ModelConfig],
        endpoint_name: str,
        variant_name: str,
        model_name: str,
        deployment: DeploymentConfig,
        rollback_alarm_names: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        model = plan.config
        startup = sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
            container_startup_health_check_timeout_in_seconds=plan.container_startup_timeout_seconds,
            model_data_download_timeout_in_seconds=plan.model_data_download_timeout_seconds,
        )
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "Component",
            endpoint_name=endpoint_name,
            variant_name=variant_name,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=model_name,
                # On Inferentia an accelerator device is a NeuronCore: a copy takes `degree` of them.
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=model.tensor_parallel_degree,
                    min_memory_required_in_mb=plan.memory_mib_per_copy,
                ),
                startup_parameters=startup,
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=model.copies
            ),
            deployment_config=sagemaker.CfnInferenceComponent.InferenceComponentDeploymentConfigProperty(
                rolling_update_policy=sagemaker.CfnInferenceComponent.InferenceComponentRollingUpdatePolicyProperty(
                    maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                        type="COPY_COUNT", value=1
                    ),
                    rollback_maximum_batch_size=sagemaker.CfnInferenceComponent.InferenceComponentCapacitySizeProperty(
                        type="COPY_COUNT", value=max(1, model.copies)
                    ),
                    wait_interval_in_seconds=deployment.wait_interval_seconds,
                    maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnInferenceComponent.AutoRollbackConfigurationProperty(
                    alarms=[sagemaker.CfnInferenceComponent.AlarmProperty(alarm_name=n) for n in rollback_alarm_names]
                ),
            ),
        )
        self.arn = self.component.attr_inference_component_arn
        # CloudFormation generates the name and exposes only the ARN (…:inference-component/<name>).
        self.name = cdk.Fn.select(1, cdk.Fn.split("/", self.arn))
