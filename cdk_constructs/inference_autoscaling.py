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

from cdk_constructs.inference_components import NeuronInferenceComponent
from cdk_constructs.inference_endpoint import NeuronEndpoint
from config.inference import ScalingConfig


class NeuronAutoscaling(Construct):
    """Scale an endpoint variant's instance count or an inference component's copy count.

    Args:
        scaling: capacity bounds, cooldowns and the targets: `target_concurrent_requests` (high-resolution
            concurrency per model / per copy) and `target_invocations_per_minute` (per instance / per copy); a
            target left unset gets no policy.
        target: a `NeuronEndpoint` (its `AllTraffic` variant, `sagemaker:variant:DesiredInstanceCount`) or a
            `NeuronInferenceComponent` (`sagemaker:inference-component:DesiredCopyCount`).

    Attributes:
        target: the Application Auto Scaling scalable target.
        scale_from_zero: for a component with `min_capacity` 0, the alarm on its
            `metric_no_capacity_invocation_failures()` (Sum over 1 minute >= 1) that adds the first copy; else None.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        scaling: ScalingConfig,
        target: NeuronEndpoint | NeuronInferenceComponent,
    ) -> None:
        super().__init__(scope, construct_id)
        predefined = appscaling.PredefinedMetric
        component = target if isinstance(target, NeuronInferenceComponent) else None
        if component is not None:
            resource_id = f"inference-component/{component.name}"
            dimension = "sagemaker:inference-component:DesiredCopyCount"
            concurrency = predefined.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION
            invocations = predefined.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY
        else:
            assert isinstance(target, NeuronEndpoint)
            resource_id = f"endpoint/{target.endpoint_name}/variant/{target.variant_name}"
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
        for name, value, metric in (
            ("Concurrency", scaling.target_concurrent_requests, concurrency),
            ("Invocations", scaling.target_invocations_per_minute, invocations),
        ):
            if value is not None:
                self.target.scale_to_track_metric(
                    name,
                    target_value=value,
                    predefined_metric=metric,
                    scale_in_cooldown=scale_in,
                    scale_out_cooldown=scale_out,
                )
        self.scale_from_zero: cloudwatch.Alarm | None = None
        if component is not None and scaling.min_capacity == 0:
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
                metric=component.metric_no_capacity_invocation_failures(period=cdk.Duration.minutes(1)),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.scale_from_zero.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(action))
