"""Application Auto Scaling of an endpoint variant's instances or an inference component's copies.

Target tracking on the high-resolution concurrency metric and on invocations; a component that may scale to zero
copies also gets the step policy that brings the first copy back when requests find no capacity (target tracking
cannot scale out from zero).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from constructs import Construct

from config.inference import ScalingConfig


class NeuronAutoscaling(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scaling: ScalingConfig,
        endpoint_name: str,
        variant_name: str | None = None,
        component_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if (variant_name is None) == (component_name is None):
            raise ValueError("scale either a variant (variant_name) or an inference component (component_name)")
        predefined = appscaling.PredefinedMetric
        if component_name is not None:
            resource_id = f"inference-component/{component_name}"
            dimension = "sagemaker:inference-component:DesiredCopyCount"
            concurrency = predefined.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION
            invocations = predefined.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY
        else:
            resource_id = f"endpoint/{endpoint_name}/variant/{variant_name}"
            dimension = "sagemaker:variant:DesiredInstanceCount"
            concurrency = predefined.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION
            invocations = predefined.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=resource_id,
            scalable_dimension=dimension,
            min_capacity=scaling.min_capacity,
            max_capacity=scaling.max_capacity,
        )
        scale_in = cdk.Duration.seconds(scaling.scale_in_cooldown_seconds)
        scale_out = cdk.Duration.seconds(scaling.scale_out_cooldown_seconds)
        for name, target, metric in (
            ("Concurrency", scaling.target_concurrent_requests, concurrency),
            ("Invocations", scaling.target_invocations_per_minute, invocations),
        ):
            if target is not None:
                self.target.scale_to_track_metric(
                    name,
                    target_value=target,
                    predefined_metric=metric,
                    scale_in_cooldown=scale_in,
                    scale_out_cooldown=scale_out,
                )
        self.scale_from_zero: cloudwatch.Alarm | None = None
        if component_name is not None and scaling.min_capacity == 0:
            action = appscaling.StepScalingAction(
                self,
                "FirstCopy",
                scaling_target=self.target,
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=cdk.Duration.seconds(scaling.scale_out_cooldown_seconds),
            )
            action.add_adjustment(adjustment=1, lower_bound=0)
            self.scale_from_zero = cloudwatch.Alarm(
                self,
                "NoCapacity",
                alarm_description="Requests found no copy of the component: start one",
                metric=cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name="NoCapacityInvocationFailures",
                    dimensions_map={"InferenceComponentName": component_name},
                    statistic="Maximum",
                    period=cdk.Duration.minutes(1),
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.scale_from_zero.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(action))
