"""The alarms that judge a deployment: server errors and model latency, for a variant or an inference component.

SageMaker rolls a blue/green or rolling update back when one of them fires. The endpoint names them in its
deployment config while they watch the endpoint, so their names are derived from the stack (not Refs, which would
form a cycle); each name is unique per stack and model.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from cdk_constructs.sagemaker_metrics import InvocationMetrics


def alarm_names(name_prefix: str) -> list[str]:
    """The names `DeploymentAlarms(name_prefix=...)` gives its alarms, for a deployment config built before them."""
    return [f"{name_prefix}-5xx", f"{name_prefix}-latency-p99"]


class DeploymentAlarms(Construct):
    """Two alarms on a variant or an inference component, each notifying `action` when it fires and when it clears.

    Args:
        name_prefix: the alarms are named `<prefix>-5xx` and `<prefix>-latency-p99` (see `alarm_names`).
        target: what they watch: a `NeuronEndpoint` (its variant) or a `NeuronInferenceComponent`; its
            `metric_invocation_5xx_errors()` and `metric_model_latency()` give namespace and dimensions.
        errors_5xx_per_minute: fire at this many server errors in a minute (Sum over 1 minute, >= threshold).
        latency_p99_ms: fire when the p99 model latency of a minute exceeds this (ModelLatency is in
            microseconds; the threshold is converted).
        evaluation_periods, datapoints_to_alarm: M of N one-minute periods; missing data is not breaching (an idle
            endpoint is healthy).
        action: notified on ALARM and OK.

    Attributes:
        errors, latency: the two alarms; alarm_names: their names, in that order.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        target: InvocationMetrics,
        errors_5xx_per_minute: int,
        latency_p99_ms: int,
        evaluation_periods: int,
        datapoints_to_alarm: int,
        action: cloudwatch.IAlarmAction,
    ) -> None:
        super().__init__(scope, construct_id)
        period = cdk.Duration.minutes(1)
        errors_name, latency_name = self.alarm_names = alarm_names(name_prefix)
        self.errors = cloudwatch.Alarm(
            self,
            "Errors5xx",
            alarm_name=errors_name,
            alarm_description=f"{name_prefix}: at least {errors_5xx_per_minute} server errors a minute",
            metric=target.metric_invocation_5xx_errors(statistic="Sum", period=period),
            threshold=errors_5xx_per_minute,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency = cloudwatch.Alarm(
            self,
            "ModelLatency",
            alarm_name=latency_name,
            alarm_description=f"{name_prefix}: p99 model latency above {latency_p99_ms} ms",
            # ModelLatency is reported in microseconds.
            metric=target.metric_model_latency(statistic="p99", period=period),
            threshold=latency_p99_ms * 1000,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.errors, self.latency):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
