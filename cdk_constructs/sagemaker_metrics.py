"""CloudWatch metrics of SageMaker hosting, as `metric*()` methods with default statistics (the aws-sagemaker-alpha
surface: `metric(namespace, metric_name, ...)` plus a named helper per metric).

Namespaces, names and dimensions: SageMaker developer guide, "Amazon SageMaker AI metrics in Amazon CloudWatch"
(monitoring-cloudwatch):
- `AWS/SageMaker`, dimensions `EndpointName, VariantName` or `InferenceComponentName`: Invocations (valid statistic
  Sum), Invocation4XXErrors and Invocation5XXErrors and InvocationModelErrors (Average, Sum), ModelLatency and
  OverheadLatency (microseconds; Average, Sum, Min, Max, Sample Count, percentiles), InvocationsPerInstance (a variant)
  and InvocationsPerCopy (a component) (Sum), ConcurrentRequestsPerModel / ConcurrentRequestsPerCopy (Min, Max).
  ModelSetupTime is published for serverless endpoints only, which this project does not deploy: no helper.
- `/aws/sagemaker/Endpoints`, `EndpointName, VariantName`: CPUUtilization, MemoryUtilization, DiskUtilization
  (percent; CPUUtilization is summed over cores).
- `/aws/sagemaker/InferenceComponents`, `InferenceComponentName`: CPUUtilizationNormalized,
  MemoryUtilizationNormalized (percent of the copy's reservation).
- NoCapacityInvocationFailures (`AWS/SageMaker`, `InferenceComponentName`): requests that found no copy; the guide's
  "Scale an endpoint to zero instances" alarms on its Sum.
The guide lists GPU utilization metrics but none for NeuronCores (Inferentia/Trainium accelerators): there is no
Neuron utilization helper, because SageMaker publishes none for these endpoints.

Default statistics follow the metric's meaning (the alpha module's choice too): counts Sum, latencies and utilization
Average, concurrency Maximum. Every default can be overridden per call; the period defaults to CloudWatch's 5 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch

INVOCATION_NAMESPACE = "AWS/SageMaker"
ENDPOINT_INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"
INFERENCE_COMPONENT_NAMESPACE = "/aws/sagemaker/InferenceComponents"


class InvocationMetrics:
    """The metrics every invocation target has: an endpoint variant or an inference component.

    Subclasses set `metric_dimensions` (the dimensions SageMaker publishes their metrics under).
    """

    metric_dimensions: Mapping[str, str]

    def metric(
        self,
        namespace: str,
        metric_name: str,
        *,
        statistic: str = "Sum",
        period: cdk.Duration | None = None,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        """Any metric SageMaker publishes for this target. Default: Sum over 5 minutes."""
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=dict(self.metric_dimensions),
            statistic=statistic,
            period=period,
            label=label,
        )

    def metric_invocations(self, *, statistic: str = "Sum", period: cdk.Duration | None = None) -> cloudwatch.Metric:
        """InvokeEndpoint requests sent. Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "Invocations", statistic=statistic, period=period)

    def metric_invocation_4xx_errors(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Requests the model answered with a 4xx (1 per error, 0 otherwise). Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "Invocation4XXErrors", statistic=statistic, period=period)

    def metric_invocation_5xx_errors(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Requests the model answered with a 5xx (1 per error, 0 otherwise). Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "Invocation5XXErrors", statistic=statistic, period=period)

    def metric_invocation_model_errors(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Requests without a 2xx from the model, including socket errors and timeouts. Default: Sum over 5 min."""
        return self.metric(INVOCATION_NAMESPACE, "InvocationModelErrors", statistic=statistic, period=period)

    def metric_model_latency(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Time the model container took to answer, in microseconds. Default: Average over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "ModelLatency", statistic=statistic, period=period)

    def metric_overhead_latency(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """SageMaker's own time on a request, in microseconds. Default: Average over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "OverheadLatency", statistic=statistic, period=period)


class VariantMetrics(InvocationMetrics):
    """Metrics of an endpoint's production variant (`EndpointName`, `VariantName`)."""

    def metric_invocations_per_instance(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Invocations normalized by the variant's instance count. Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "InvocationsPerInstance", statistic=statistic, period=period)

    def metric_concurrent_requests_per_model(
        self, *, statistic: str = "Maximum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Concurrent requests the model receives. Default: Maximum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "ConcurrentRequestsPerModel", statistic=statistic, period=period)

    def metric_cpu_utilization(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Host CPU use of the variant's containers, summed over cores (0-100 % per core). Default: Average."""
        return self.metric(ENDPOINT_INSTANCE_NAMESPACE, "CPUUtilization", statistic=statistic, period=period)

    def metric_memory_utilization(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Host memory used by the containers, percent. Default: Average over 5 minutes."""
        return self.metric(ENDPOINT_INSTANCE_NAMESPACE, "MemoryUtilization", statistic=statistic, period=period)

    def metric_disk_utilization(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Disk used by the containers, percent. Default: Average over 5 minutes."""
        return self.metric(ENDPOINT_INSTANCE_NAMESPACE, "DiskUtilization", statistic=statistic, period=period)


class ComponentMetrics(InvocationMetrics):
    """Metrics of an inference component (`InferenceComponentName`)."""

    def metric_invocations_per_copy(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Invocations normalized by the component's copy count. Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "InvocationsPerCopy", statistic=statistic, period=period)

    def metric_concurrent_requests_per_copy(
        self, *, statistic: str = "Maximum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Concurrent requests per copy. Default: Maximum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "ConcurrentRequestsPerCopy", statistic=statistic, period=period)

    def metric_no_capacity_invocation_failures(
        self, *, statistic: str = "Sum", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Requests that found no copy to serve them (a component scaled to zero). Default: Sum over 5 minutes."""
        return self.metric(INVOCATION_NAMESPACE, "NoCapacityInvocationFailures", statistic=statistic, period=period)

    def metric_cpu_utilization(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """CPU use of each copy over its reservation (or limit), 0-100 %. Default: Average over 5 minutes."""
        return self.metric(
            INFERENCE_COMPONENT_NAMESPACE, "CPUUtilizationNormalized", statistic=statistic, period=period
        )

    def metric_memory_utilization(
        self, *, statistic: str = "Average", period: cdk.Duration | None = None
    ) -> cloudwatch.Metric:
        """Memory use of each copy over its reservation (MinMemoryRequiredInMb), 0-100 %. Default: Average."""
        return self.metric(
            INFERENCE_COMPONENT_NAMESPACE, "MemoryUtilizationNormalized", statistic=statistic, period=period
        )
