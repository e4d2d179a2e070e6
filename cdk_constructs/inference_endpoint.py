"""A SageMaker real-time endpoint on Neuron instances: encrypted, captured, routed, and updated blue/green.

The production variant and endpoint-config settings are built once in SageMaker API shape; the template gets exactly
these (CloudFormation uses the same names) and the lifecycle workflow receives them to create the next config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from config.inference import DeploymentConfig

VARIANT_NAME = "AllTraffic"


def traffic_routing(deployment: DeploymentConfig) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
    capacity = sagemaker.CfnEndpoint.CapacitySizeProperty
    if deployment.strategy == "canary":
        return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type="CANARY",
            wait_interval_in_seconds=deployment.wait_interval_seconds,
            canary_size=capacity(type="CAPACITY_PERCENT", value=deployment.canary_percent),
        )
    if deployment.strategy == "linear":
        return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type="LINEAR",
            wait_interval_in_seconds=deployment.wait_interval_seconds,
            linear_step_size=capacity(type="CAPACITY_PERCENT", value=deployment.linear_step_percent),
        )
    return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type="ALL_AT_ONCE", wait_interval_in_seconds=deployment.wait_interval_seconds
    )


class NeuronEndpoint(Construct):
    """Endpoint config + endpoint. `blue_green` is None for inference-component endpoints, whose components roll."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        production_variant: Mapping[str, Any],
        endpoint_config: Mapping[str, Any],
        deployment: DeploymentConfig | None,
        rollback_alarm_names: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.production_variant = dict(production_variant)
        self.endpoint_config_settings = dict(endpoint_config)
        self.config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME, instance_type=production_variant["InstanceType"]
                )
            ],
            kms_key_id=endpoint_config["KmsKeyId"],
        )
        # The API-shaped settings, verbatim (CloudFormation's property names are the API's).
        self.config.add_property_override("ProductionVariants", [self.production_variant])
        for name, value in self.endpoint_config_settings.items():
            self.config.add_property_override(name, value)

        deployment_config = None
        if deployment is not None:
            deployment_config = sagemaker.CfnEndpoint.DeploymentConfigProperty(
                blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
                    traffic_routing_configuration=traffic_routing(deployment),
                    termination_wait_in_seconds=deployment.termination_wait_seconds,
                    maximum_execution_timeout_in_seconds=deployment.maximum_execution_timeout_seconds,
                ),
                auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
                    alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=n) for n in rollback_alarm_names]
                ),
            )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_config_name=self.config.attr_endpoint_config_name,
            deployment_config=deployment_config,
        )
        self.endpoint_name = self.endpoint.attr_endpoint_name
        self.endpoint_arn = self.endpoint.ref  # Ref of AWS::SageMaker::Endpoint is its ARN
        self.variant_name = VARIANT_NAME

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` call the endpoint (and its inference components), streaming or not."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=[self.endpoint_arn],
        )
