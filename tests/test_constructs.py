"""Each construct built alone in a bare `cdk.Stack` (the generative-ai-cdk-constructs style): its key resources and
properties with exact values, and the metric methods' namespace, dimensions and statistic.

The profile tests synthesize whole stacks; these pin what one construct makes of its arguments, so a change in a
construct shows up here even when no profile exercises that path. Configuration objects come from the shipped profiles
(`load_config`), so the inputs are the real ones.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.candidate_cleanup import ENDPOINT_BUSY, CandidateCleanup
from cdk_constructs.clarify_jobs import ClarifyJobs
from cdk_constructs.compile_workflow import CompileJobRole, CompileWorkflow
from cdk_constructs.config_objects import ConfigObjects
from cdk_constructs.evaluation_workflow import EvaluationWorkflow
from cdk_constructs.fm_evaluation_job import FoundationModelEvaluationJob
from cdk_constructs.guardrail import ContentGuardrail
from cdk_constructs.hub_staging import HubStagingJobRole, HubStagingWorkflow
from cdk_constructs.hyperpod_cluster import HyperPodCluster
from cdk_constructs.inference_alarms import DeploymentAlarms, alarm_names
from cdk_constructs.inference_autoscaling import NeuronAutoscaling
from cdk_constructs.inference_components import NeuronInferenceComponent
from cdk_constructs.inference_endpoint import NeuronEndpoint
from cdk_constructs.lifecycle_workflow import LifecycleWorkflow
from cdk_constructs.model_monitoring import ModelMonitoring
from cdk_constructs.private_network import INTERFACE_ENDPOINTS, PrivateNetwork
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from cdk_constructs.secure_bucket import SecureBucket
from cdk_constructs.served_model import ServedModel
from cdk_constructs.source_archive import SourceArchive, reproducible_tarball
from config import AppConfig, load_config
from config.inference import InferenceConfig, ModelConfig
from neuron.planning import ModelPlan, plan
from sagemaker_requests.processing import ProcessingPlacement
from tests.support.bare_stack import (
    REGION,
    bare,
    definition,
    get_att,
    logical_id,
    only,
    policy_statements,
    ref,
    resources,
    template,
)
from tests.support.harness import ROOT, synth

RETENTION = logs.RetentionDays.ONE_MONTH
ISOLATED = ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
HYPERPOD_SCRIPTS = ROOT / "hyperpod"


@cache
def profile(name: str) -> AppConfig:
    return load_config(name, environ={})


@cache
def plans(name: str) -> dict[str, ModelPlan[ModelConfig]]:
    inference = profile(name).inference
    assert inference is not None
    return plan(inference)


def metric_of(stack: cdk.Stack, metric: cloudwatch.IMetric) -> dict[str, Any]:
    """The metric as CloudWatch gets it: namespace, name, resolved dimensions, statistic and period."""
    config = metric.to_metric_config().metric_stat
    assert config is not None
    return {
        "namespace": config.namespace,
        "name": config.metric_name,
        "dimensions": {d.name: stack.resolve(d.value) for d in config.dimensions or []},
        "statistic": config.statistic,
        "period": config.period.to_seconds(),
    }


# --- SecureBucket ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("retain", [True, False])
def test_secure_bucket_is_encrypted_private_tls_only_versioned_and_logged(retain: bool) -> None:
    stack = bare()
    key = kms.Key(stack, "Key")
    logs_bucket = s3.Bucket(stack, "AccessLogs")
    built = SecureBucket(
        stack, "Data", key=key, access_logs=logs_bucket, retain=retain, noncurrent_version_expiration_days=30
    )
    (bucket_id,) = [k for k in resources(stack, "AWS::S3::Bucket") if k.startswith("Data")]
    bucket = template(stack)["Resources"][bucket_id]
    props = bucket["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": get_att(stack, key.node.default_child, "Arn"),
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"] == {
        "DestinationBucketName": ref(stack, logs_bucket.node.default_child),
        "LogFilePrefix": "Data/",
    }
    assert props["LifecycleConfiguration"] == {
        "Rules": [
            {
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                "Status": "Enabled",
            }
        ]
    }
    assert bucket["DeletionPolicy"] == ("Retain" if retain else "Delete")
    # Deleting a bucket that is not retained empties it first (CDK's auto-delete custom resource).
    assert bool(resources(stack, "Custom::S3AutoDeleteObjects")) is not retain
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(stack, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(stack, built.bucket.node.default_child)
    ]
    denials = [s["Condition"] for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in denials
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in denials


# --- AlarmTopic ------------------------------------------------------------------------------------------------------
def test_alarm_topic_has_its_own_rotating_key_that_cloudwatch_may_use() -> None:
    stack = bare()
    built = AlarmTopic(stack, "Alarms", description="inference deployment")
    key = only(stack, "AWS::KMS::Key")
    assert (key["EnableKeyRotation"], key["PendingWindowInDays"]) == (True, 7)
    assert key["Description"] == "Encrypts the inference deployment alarm topic"
    (cloudwatch_statement,) = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch_statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey*"]
    topic = only(stack, "AWS::SNS::Topic")
    assert topic == {
        "DisplayName": "inference deployment",
        "KmsMasterKeyId": get_att(stack, built.key.node.default_child, "Arn"),
    }
    (statement,) = only(stack, "AWS::SNS::TopicPolicy")["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


# --- NeuronEndpoint --------------------------------------------------------------------------------------------------
VARIANT = {
    "VariantName": "AllTraffic",
    "InstanceType": "ml.inf2.8xlarge",
    "InitialInstanceCount": 2,
    "ModelName": "model-a",
    "InitialVariantWeight": 1.0,
    "RoutingConfig": {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"},
}
KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000"
CAPTURE = {
    "EnableCapture": True,
    "InitialSamplingPercentage": 10,
    "DestinationS3Uri": "s3://capture/data-capture/dev",
    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
}


def endpoint_in(stack: cdk.Stack, *, blue_green: bool = True) -> NeuronEndpoint:
    deployment = profile("prod").inference.deployment if blue_green else None  # type: ignore[union-attr]
    return NeuronEndpoint(
        stack,
        "Endpoint",
        production_variant=VARIANT,
        endpoint_config={"KmsKeyId": KEY_ARN, "DataCaptureConfig": CAPTURE},
        deployment=deployment,
        rollback_alarm_names=["a-5xx", "a-latency-p99"],
    )


def test_endpoint_writes_the_api_shaped_variant_and_config_verbatim_and_rolls_blue_green() -> None:
    stack = bare()
    built = endpoint_in(stack)
    config = only(stack, "AWS::SageMaker::EndpointConfig")
    assert config == {
        "ProductionVariants": [VARIANT],
        "KmsKeyId": KEY_ARN,
        "DataCaptureConfig": CAPTURE,
    }
    endpoint = only(stack, "AWS::SageMaker::Endpoint")
    assert endpoint["EndpointConfigName"] == get_att(stack, built.config, "EndpointConfigName")
    assert "EndpointName" not in endpoint  # CloudFormation names it: replacement and rollback keep working
    deployment = profile("prod").inference.deployment  # type: ignore[union-attr]
    assert endpoint["DeploymentConfig"] == {
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a-5xx"}, {"AlarmName": "a-latency-p99"}]},
        "BlueGreenUpdatePolicy": {
            "MaximumExecutionTimeoutInSeconds": deployment.maximum_execution_timeout_seconds,
            "TerminationWaitInSeconds": deployment.termination_wait_seconds,
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": deployment.canary_percent},
                "WaitIntervalInSeconds": deployment.wait_interval_seconds,
            },
        },
    }
    assert stack.resolve(built.endpoint_arn) == ref(stack, built.endpoint)


def test_endpoint_without_deployment_has_no_blue_green_policy() -> None:
    stack = bare()
    endpoint_in(stack, blue_green=False)
    assert "DeploymentConfig" not in only(stack, "AWS::SageMaker::Endpoint")


def test_endpoint_metrics_carry_the_variant_dimensions_and_default_statistics() -> None:
    stack = bare()
    built = endpoint_in(stack)
    dimensions = {"EndpointName": get_att(stack, built.endpoint, "EndpointName"), "VariantName": "AllTraffic"}
    expected = {
        "metric_invocations": ("AWS/SageMaker", "Invocations", "Sum"),
        "metric_invocation_4xx_errors": ("AWS/SageMaker", "Invocation4XXErrors", "Sum"),
        "metric_invocation_5xx_errors": ("AWS/SageMaker", "Invocation5XXErrors", "Sum"),
        "metric_invocation_model_errors": ("AWS/SageMaker", "InvocationModelErrors", "Sum"),
        "metric_model_latency": ("AWS/SageMaker", "ModelLatency", "Average"),
        "metric_overhead_latency": ("AWS/SageMaker", "OverheadLatency", "Average"),
        "metric_invocations_per_instance": ("AWS/SageMaker", "InvocationsPerInstance", "Sum"),
        "metric_concurrent_requests_per_model": ("AWS/SageMaker", "ConcurrentRequestsPerModel", "Maximum"),
        "metric_cpu_utilization": ("/aws/sagemaker/Endpoints", "CPUUtilization", "Average"),
        "metric_memory_utilization": ("/aws/sagemaker/Endpoints", "MemoryUtilization", "Average"),
        "metric_disk_utilization": ("/aws/sagemaker/Endpoints", "DiskUtilization", "Average"),
    }
    for method, (namespace, name, statistic) in expected.items():
        assert metric_of(stack, getattr(built, method)()) == {
            "namespace": namespace,
            "name": name,
            "dimensions": dimensions,
            "statistic": statistic,
            "period": 300,
        }, method
    # Any metric by name; the statistic and period can be overridden.
    custom = built.metric("AWS/SageMaker", "ModelLatency", statistic="p99", period=cdk.Duration.minutes(1))
    assert metric_of(stack, custom) == {
        "namespace": "AWS/SageMaker",
        "name": "ModelLatency",
        "dimensions": dimensions,
        "statistic": "p99",
        "period": 60,
    }


def test_endpoint_grant_invoke_allows_invoking_and_streaming_this_endpoint_only() -> None:
    stack = bare()
    built = endpoint_in(stack)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    grant = built.grant_invoke(caller)
    assert grant.success
    (statement,) = only(stack, "AWS::IAM::Policy")["PolicyDocument"]["Statement"]
    assert statement == {
        "Action": ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"],
        "Effect": "Allow",
        "Resource": ref(stack, built.endpoint),
    }


# --- NeuronInferenceComponent ----------------------------------------------------------------------------------------
def component_in(
    stack: cdk.Stack, key: str = "llama", *, alarms: tuple[str, ...] = ("c-5xx",)
) -> NeuronInferenceComponent:
    return NeuronInferenceComponent(
        stack,
        f"Component-{key}",
        plan=plans("multimodel")[key],
        endpoint=endpoint_in(stack, blue_green=False),
        model_name="model-a",
        deployment=profile("multimodel").inference.deployment,  # type: ignore[union-attr]
        rollback_alarm_names=list(alarms),
    )


def test_component_reserves_its_neuroncores_and_memory_and_rolls_one_copy_at_a_time() -> None:
    stack = bare()
    built = component_in(stack)
    model_plan = plans("multimodel")["llama"]
    deployment = profile("multimodel").inference.deployment  # type: ignore[union-attr]
    props = only(stack, "AWS::SageMaker::InferenceComponent")
    assert props["EndpointName"] == get_att(stack, built.endpoint.endpoint, "EndpointName")
    assert props["VariantName"] == "AllTraffic"
    assert props["Specification"] == {
        "ModelName": "model-a",
        "ComputeResourceRequirements": {"NumberOfAcceleratorDevicesRequired": 2, "MinMemoryRequiredInMb": 4885},
        "StartupParameters": {
            "ContainerStartupHealthCheckTimeoutInSeconds": model_plan.container_startup_timeout_seconds,
            "ModelDataDownloadTimeoutInSeconds": model_plan.model_data_download_timeout_seconds,
        }
        if model_plan.model_data_download_timeout_seconds is not None
        else {"ContainerStartupHealthCheckTimeoutInSeconds": model_plan.container_startup_timeout_seconds},
    }
    assert props["RuntimeConfig"] == {"CopyCount": 2}
    assert props["DeploymentConfig"] == {
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "c-5xx"}]},
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "COPY_COUNT", "Value": 1},
            "RollbackMaximumBatchSize": {"Type": "COPY_COUNT", "Value": 2},
            "WaitIntervalInSeconds": deployment.wait_interval_seconds,
            "MaximumExecutionTimeoutInSeconds": deployment.maximum_execution_timeout_seconds,
        },
    }
    # The name is the last part of the ARN CloudFormation returns.
    arn = get_att(stack, built.component, "InferenceComponentArn")
    assert stack.resolve(built.name) == {"Fn::Select": [1, {"Fn::Split": ["/", arn]}]}


def test_component_metrics_carry_the_component_dimension_and_default_statistics() -> None:
    stack = bare()
    built = component_in(stack)
    dimensions = {"InferenceComponentName": stack.resolve(built.name)}
    expected = {
        "metric_invocations": ("AWS/SageMaker", "Invocations", "Sum"),
        "metric_invocation_4xx_errors": ("AWS/SageMaker", "Invocation4XXErrors", "Sum"),
        "metric_invocation_5xx_errors": ("AWS/SageMaker", "Invocation5XXErrors", "Sum"),
        "metric_invocation_model_errors": ("AWS/SageMaker", "InvocationModelErrors", "Sum"),
        "metric_model_latency": ("AWS/SageMaker", "ModelLatency", "Average"),
        "metric_overhead_latency": ("AWS/SageMaker", "OverheadLatency", "Average"),
        "metric_invocations_per_copy": ("AWS/SageMaker", "InvocationsPerCopy", "Sum"),
        "metric_concurrent_requests_per_copy": ("AWS/SageMaker", "ConcurrentRequestsPerCopy", "Maximum"),
        "metric_no_capacity_invocation_failures": ("AWS/SageMaker", "NoCapacityInvocationFailures", "Sum"),
        "metric_cpu_utilization": ("/aws/sagemaker/InferenceComponents", "CPUUtilizationNormalized", "Average"),
        "metric_memory_utilization": ("/aws/sagemaker/InferenceComponents", "MemoryUtilizationNormalized", "Average"),
    }
    for method, (namespace, name, statistic) in expected.items():
        assert metric_of(stack, getattr(built, method)()) == {
            "namespace": namespace,
            "name": name,
            "dimensions": dimensions,
            "statistic": statistic,
            "period": 300,
        }, method


def test_component_grant_invoke_is_the_hosting_endpoints() -> None:
    stack = bare()
    built = component_in(stack)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountRootPrincipal())
    built.grant_invoke(caller)
    (statement,) = only(stack, "AWS::IAM::Policy")["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]
    assert statement["Resource"] == ref(stack, built.endpoint.endpoint)


# --- DeploymentAlarms ------------------------------------------------------------------------------------------------
def test_deployment_alarms_watch_the_targets_5xx_sum_and_p99_latency_in_microseconds() -> None:
    stack = bare()
    target = component_in(stack)
    topic = sns.Topic(stack, "Topic")
    built = DeploymentAlarms(
        stack,
        "Alarms",
        name_prefix="stack-llama",
        target=target,
        errors_5xx_per_minute=5,
        latency_p99_ms=2_000,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        action=cloudwatch_actions.SnsAction(topic),
    )
    assert built.alarm_names == alarm_names("stack-llama") == ["stack-llama-5xx", "stack-llama-latency-p99"]
    alarms = {
        p["Properties"]["MetricName"]: p["Properties"] for p in resources(stack, "AWS::CloudWatch::Alarm").values()
    }
    common = {
        "Namespace": "AWS/SageMaker",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": stack.resolve(target.name)}],
        "Period": 60,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [ref(stack, topic.node.default_child)],
        "OKActions": [ref(stack, topic.node.default_child)],
    }
    assert alarms["Invocation5XXErrors"] == common | {
        "AlarmName": "stack-llama-5xx",
        "AlarmDescription": "stack-llama: at least 5 server errors a minute",
        "MetricName": "Invocation5XXErrors",
        "Statistic": "Sum",
        "Threshold": 5,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    assert alarms["ModelLatency"] == common | {
        "AlarmName": "stack-llama-latency-p99",
        "AlarmDescription": "stack-llama: p99 model latency above 2000 ms",
        "MetricName": "ModelLatency",
        "ExtendedStatistic": "p99",
        "Threshold": 2_000_000,
        "ComparisonOperator": "GreaterThanThreshold",
    }


# --- NeuronAutoscaling -----------------------------------------------------------------------------------------------
def test_autoscaling_a_variant_tracks_concurrency_and_invocations_per_instance() -> None:
    stack = bare()
    endpoint = endpoint_in(stack)
    scaling = profile("embedding").inference.scaling  # type: ignore[union-attr]
    assert scaling is not None
    built = NeuronAutoscaling(stack, "Scaling", scaling=scaling, target=endpoint)
    target = only(stack, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ServiceNamespace"] == "sagemaker"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["ResourceId"] == {
        "Fn::Join": ["", ["endpoint/", get_att(stack, endpoint.endpoint, "EndpointName"), "/variant/AllTraffic"]]
    }
    assert (target["MinCapacity"], target["MaxCapacity"]) == (scaling.min_capacity, scaling.max_capacity)
    policies = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    expected = {}
    if scaling.target_concurrent_requests is not None:
        expected["SageMakerVariantConcurrentRequestsPerModelHighResolution"] = scaling.target_concurrent_requests
    if scaling.target_invocations_per_minute is not None:
        expected["SageMakerVariantInvocationsPerInstance"] = scaling.target_invocations_per_minute
    assert {k: v["TargetValue"] for k, v in policies.items()} == expected
    for configuration in policies.values():
        assert (configuration["ScaleInCooldown"], configuration["ScaleOutCooldown"]) == (
            scaling.scale_in_cooldown_seconds,
            scaling.scale_out_cooldown_seconds,
        )
    assert built.scale_from_zero is None


def test_autoscaling_a_component_that_may_reach_zero_adds_the_first_copy_on_no_capacity() -> None:
    stack = bare()
    component = component_in(stack, "embed")
    scaling = plans("multimodel")["embed"].config.scaling
    assert scaling is not None and scaling.min_capacity == 0
    built = NeuronAutoscaling(stack, "Scaling", scaling=scaling, target=component)
    target = only(stack, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["ScalableDimension"] == "sagemaker:inference-component:DesiredCopyCount"
    assert target["ResourceId"] == {"Fn::Join": ["", ["inference-component/", stack.resolve(component.name)]]}
    assert (target["MinCapacity"], target["MaxCapacity"]) == (0, 4)
    ((step_id, step),) = [
        (k, p["Properties"])
        for k, p in resources(stack, "AWS::ApplicationAutoScaling::ScalingPolicy").items()
        if p["Properties"]["PolicyType"] == "StepScaling"
    ]
    assert step["StepScalingPolicyConfiguration"]["AdjustmentType"] == "ChangeInCapacity"
    assert step["StepScalingPolicyConfiguration"]["StepAdjustments"] == [
        {"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}
    ]
    assert built.scale_from_zero is not None
    alarm = only(stack, "AWS::CloudWatch::Alarm")
    assert {k: alarm[k] for k in ("Namespace", "MetricName", "Dimensions", "Statistic", "Period", "Threshold")} == {
        "Namespace": "AWS/SageMaker",
        "MetricName": "NoCapacityInvocationFailures",
        "Dimensions": [{"Name": "InferenceComponentName", "Value": stack.resolve(component.name)}],
        "Statistic": "Sum",
        "Period": 60,
        "Threshold": 1,
    }
    assert alarm["AlarmActions"] == [{"Ref": step_id}]


# --- ServedModel -----------------------------------------------------------------------------------------------------
VPC_CONFIG = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1", "subnet-2"]}


def test_served_model_from_s3_runs_isolated_in_the_vpc_with_its_compiled_shape() -> None:
    stack = bare()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    bucket = s3.Bucket(stack, "Models")
    model_plan = plans("prod")["chat"]
    built = ServedModel(
        stack,
        "Model",
        plan=model_plan,
        image_uri="image:1",
        role=role,
        models_bucket=bucket,
        vpc_config=VPC_CONFIG,
    )
    props = only(stack, "AWS::SageMaker::Model")
    assert built.isolated is True and props["EnableNetworkIsolation"] is True
    assert props["VpcConfig"] == VPC_CONFIG
    assert props["ExecutionRoleArn"] == get_att(stack, role.node.default_child, "Arn")
    container = props["PrimaryContainer"]
    assert container["Image"] == "image:1"
    # huggingface/optimum-neuron v0.0.28 text-generation-inference/sagemaker-entrypoint.sh L3-7 (HF_MODEL_ID, a local
    # directory loaded as it is), L17-20 (MAX_BATCH_SIZE = the static batch); server/text_generation_server/model.py
    # L15-32 (HF_NUM_CORES, HF_AUTO_CAST_TYPE); MAX_INPUT_TOKENS / MAX_TOTAL_TOKENS / MESSAGES_API_ENABLED are TGI
    # 3.0.0 launcher arguments (Dockerfile L3). prod's chat model: 2 cores, batch 4, 4096 positions, 3072 input.
    assert (
        container["Environment"]
        == built.environment
        == {
            "HF_MODEL_ID": "/opt/ml/model",
            "HF_NUM_CORES": "2",
            "HF_AUTO_CAST_TYPE": "bf16",
            "MAX_BATCH_SIZE": "4",
            "MAX_INPUT_TOKENS": "3072",
            "MAX_TOTAL_TOKENS": "4096",
            "MESSAGES_API_ENABLED": "true",
        }
    )
    assert container["ModelDataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    assert container["ModelDataSource"]["S3DataSource"]["CompressionType"] == "None"


def test_served_model_from_the_hub_runs_outside_the_vpc() -> None:
    stack = bare()
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    # No shipped profile downloads from the Hub (TGI needs an export): dev's model from the Hub on LMI, which
    # compiles at load.
    inference = profile("dev").inference
    assert inference is not None
    data = inference.model_dump()
    data["models"]["chat"] |= {
        "source": {
            "type": "hub",
            "model_id": "meta-llama/Llama-3.1-8B-Instruct",
            "revision": "0123456789abcdef0123456789abcdef01234567",
        },
        "compiled_artifacts": None,
        "server": "lmi-neuronx",
    }
    model_plan = plan(InferenceConfig.model_validate(data))["chat"]
    built = ServedModel(
        stack,
        "Model",
        plan=model_plan,
        image_uri="image:1",
        role=role,
        models_bucket=s3.Bucket(stack, "Models"),
        vpc_config=VPC_CONFIG,
    )
    props = only(stack, "AWS::SageMaker::Model")
    assert built.isolated is False and props["EnableNetworkIsolation"] is False
    assert "VpcConfig" not in props and "ModelDataSource" not in props["PrimaryContainer"]
    assert built.environment["OPTION_MODEL_ID"] == "meta-llama/Llama-3.1-8B-Instruct"


# --- PrivateNetwork --------------------------------------------------------------------------------------------------
def test_private_network_has_isolated_subnets_endpoints_and_tight_security_groups() -> None:
    stack = bare()
    key = kms.Key(stack, "Key")
    built = PrivateNetwork(stack, "Network", cidr="10.20.0.0/16", max_azs=2, key=key, log_retention=RETENTION)
    assert only(stack, "AWS::EC2::VPC")["CidrBlock"] == "10.20.0.0/16"
    subnets = resources(stack, "AWS::EC2::Subnet")
    assert len(subnets) == 2
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert sorted(s["Properties"]["CidrBlock"] for s in subnets.values()) == ["10.20.0.0/20", "10.20.16.0/20"]
    for absent in ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::EIP"):
        assert not resources(stack, absent), absent
    endpoints = [e["Properties"] for e in resources(stack, "AWS::EC2::VPCEndpoint").values()]
    interface = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    assert len(interface) == len(INTERFACE_ENDPOINTS) == 9
    for endpoint in interface:
        assert endpoint["PrivateDnsEnabled"] is True
        assert endpoint["SecurityGroupIds"] == [
            get_att(stack, built.endpoint_security_group.node.default_child, "GroupId")
        ]
    (gateway,) = [e for e in endpoints if e.get("VpcEndpointType") == "Gateway"]
    assert stack.resolve(gateway["ServiceName"])["Fn::Join"][1][-1] == ".s3"
    groups = {k: v["Properties"] for k, v in resources(stack, "AWS::EC2::SecurityGroup").items()}
    endpoint_group = groups[logical_id(stack, built.endpoint_security_group.node.default_child)]
    assert endpoint_group["SecurityGroupIngress"] == [
        {
            "CidrIp": "10.20.0.0/16",
            "Description": "HTTPS from the VPC",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    workload = groups[logical_id(stack, built.workload_security_group.node.default_child)]
    assert workload["SecurityGroupEgress"] == [
        {
            "CidrIp": "0.0.0.0/0",
            "Description": "HTTPS to VPC endpoints (no internet route exists)",
            "FromPort": 443,
            "IpProtocol": "tcp",
            "ToPort": 443,
        }
    ]
    efa = logical_id(stack, built.efa_security_group.node.default_child)
    (ingress,) = [r["Properties"] for r in resources(stack, "AWS::EC2::SecurityGroupIngress").values()]
    (egress,) = [r["Properties"] for r in resources(stack, "AWS::EC2::SecurityGroupEgress").values()]
    assert ingress["IpProtocol"] == egress["IpProtocol"] == "-1"
    assert ingress["SourceSecurityGroupId"] == egress["DestinationSecurityGroupId"] == {"Fn::GetAtt": [efa, "GroupId"]}
    flow_log = only(stack, "AWS::EC2::FlowLog")
    assert (flow_log["TrafficType"], flow_log["LogDestinationType"]) == ("ALL", "cloud-watch-logs")
    log_group = only(stack, "AWS::Logs::LogGroup")
    assert log_group["KmsKeyId"] == get_att(stack, key.node.default_child, "Arn")
    assert log_group["RetentionInDays"] == 30


# --- ConfigObjects ---------------------------------------------------------------------------------------------------
def config_objects_in(stack: cdk.Stack, bucket: s3.IBucket) -> ConfigObjects:
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ISOLATED])
    return ConfigObjects(
        stack,
        "Configs",
        bucket=bucket,
        prefix="clarify",
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        key=kms.Key(stack, "Key"),
        log_retention=RETENTION,
    )


def test_config_objects_deploy_every_added_document_under_the_prefix_once_sealed() -> None:
    stack = bare()
    bucket = s3.Bucket(stack, "Bucket")
    built = config_objects_in(stack, bucket)
    assert built.prefix == "clarify/"
    uri = built.add("data_bias/analysis_config.json", {"version": "1.0"})
    assert stack.resolve(uri) == {
        "Fn::Join": ["", ["s3://", ref(stack, bucket.node.default_child), "/clarify/data_bias/analysis_config.json"]]
    }
    deployment = built.seal()
    assert deployment is built.deployment is not None
    props = only(stack, "Custom::CDKBucketDeployment")
    assert props["DestinationBucketName"] == ref(stack, bucket.node.default_child)
    assert props["DestinationBucketKeyPrefix"] == "clarify/"
    (handler,) = [
        f["Properties"]
        for f in resources(stack, "AWS::Lambda::Function").values()
        if f["Properties"].get("VpcConfig") is not None
    ]
    assert handler["MemorySize"] == 256
    with pytest.raises(RuntimeError, match="already sealed"):
        built.add("late.json", {})


def test_config_objects_with_nothing_added_deploy_nothing() -> None:
    stack = bare()
    built = config_objects_in(stack, s3.Bucket(stack, "Bucket"))
    assert built.seal() is None and built.deployment is None
    assert not resources(stack, "Custom::CDKBucketDeployment")


# --- SourceArchive ---------------------------------------------------------------------------------------------------
def test_source_archive_is_reproducible_and_skips_caches(tmp_path: Path) -> None:
    """Two checkouts of the same sources, written in a different order, with different file times and permission
    bits (a fresh clone and a CI cache): byte-identical archives and the same asset, so an unchanged training script
    never changes the template. A file time, owner or write bit that leaks into the archive fails."""
    files = {"train.py": "print('train')\n", "lib/data.py": "DATA = 1\n", "run.sh": "#!/bin/sh\n"}
    copies = []
    for n, (order, when, mode) in enumerate(
        ((sorted(files), 1_000_000_000, 0o600), (sorted(files, reverse=True), 1_700_000_000, 0o664))
    ):
        root = tmp_path / f"checkout{n}"
        for name in order:
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[name])
            path.chmod(0o755 if name == "run.sh" else mode)
            os.utime(path, (when, when))
        (root / "__pycache__").mkdir()
        (root / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"cache")
        (root / "lib" / "data.pyc").write_bytes(b"cache")
        os.utime(root / "lib", (when, when))
        copies.append(root)
    first, second = (reproducible_tarball(root) for root in copies)
    assert first == second
    assert first[4:8] == b"\x00\x00\x00\x00"  # the gzip header's MTIME field (RFC 1952 section 2.3): none
    stack = bare()
    built = [SourceArchive(stack, f"Checkout{n}", source=root) for n, root in enumerate(copies)]
    assert built[0].file_name == built[1].file_name and built[0].file_name.endswith(".gz")
    assert built[0].archive_path.read_bytes() == first  # the uploaded file is this archive
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        assert [
            (m.name, m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, tar.extractfile(m).read().decode())  # type: ignore[union-attr]
            for m in tar.getmembers()
        ] == [
            ("lib/data.py", 0, 0, 0, "root", "root", 0o644, "DATA = 1\n"),
            ("run.sh", 0, 0, 0, "root", "root", 0o755, "#!/bin/sh\n"),
            ("train.py", 0, 0, 0, "root", "root", 0o644, "print('train')\n"),
        ]
    (copies[0] / "train.py").write_text("print('changed')\n")
    assert SourceArchive(stack, "Changed", source=copies[0]).file_name != built[0].file_name


def test_source_archive_of_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"source directory {tmp_path / 'absent'} does not exist"):
        SourceArchive(bare(), "Archive", source=tmp_path / "absent")


# --- ContentGuardrail ------------------------------------------------------------------------------------------------
def test_guardrail_filters_topics_and_grounding_from_the_settings() -> None:
    settings = profile("prod").evaluation.guardrail  # type: ignore[union-attr]
    assert settings is not None
    stack = bare()
    key = kms.Key(stack, "Key")
    built = ContentGuardrail(stack, "Guardrail", settings=settings, key=key)
    props = only(stack, "AWS::Bedrock::Guardrail")
    assert props["KmsKeyArn"] == get_att(stack, key.node.default_child, "Arn")
    filters = props["ContentPolicyConfig"]["FiltersConfig"]
    assert filters[-1] == {"Type": "PROMPT_ATTACK", "InputStrength": settings.prompt_attack, "OutputStrength": "NONE"}
    assert filters[:-1] == [
        {"Type": category, "InputStrength": strength, "OutputStrength": strength}
        for category, strength in settings.filters.items()
    ]
    assert [t["Name"] for t in props["TopicPolicyConfig"]["TopicsConfig"]] == [
        "Investment advice",
        "Medical diagnosis",
        "Legal advice",
    ]
    assert all(t["Type"] == "DENY" for t in props["TopicPolicyConfig"]["TopicsConfig"])
    assert props["ContextualGroundingPolicyConfig"] == {
        "FiltersConfig": [{"Type": "GROUNDING", "Threshold": 0.85}, {"Type": "RELEVANCE", "Threshold": 0.8}]
    }
    version = only(stack, "AWS::Bedrock::GuardrailVersion")
    assert version["GuardrailIdentifier"] == get_att(stack, built.guardrail, "GuardrailId")
    assert version["Description"].startswith("Published by the evaluation stack; policy ")


# --- LifecycleWorkflow -----------------------------------------------------------------------------------------------
def test_compile_role_and_workflow_alone() -> None:
    """Built alone: the role's object grants are the prefixes it is given; the workflow compiles each model in order
    (the full checks: tests/test_compile_constructs.py)."""
    stack = bare()
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Models")
    role = CompileJobRole(
        stack,
        "Jobs",
        models_bucket=bucket,
        read_prefixes=["llama/"],
        write_prefixes=["compile-jobs/"],
        key=key,
        image_repository_arns=["arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-tgi-inference"],
        synced_prefixes=["compiled/llama/"],
    )
    built = CompileWorkflow(
        stack,
        "Workflow",
        requests={"llama": {"TrainingJobName.$": "States.Format('compile-{}', States.UUID())"}},
        artifacts_s3_uris={"llama": "s3://models/compiled/llama/"},
        job_role=role.role,
        topic=sns.Topic(stack, "Topic"),
        key=key,
        log_retention=RETENTION,
        timeout=cdk.Duration.hours(4),
    )
    states = definition(stack)["States"]
    assert states["Compile-llama"]["Next"] == "Record-llama"
    assert set(built.requests) == {"Compile-llama"}
    assert only(stack, "AWS::IAM::ManagedPolicy")["Roles"] == [ref(stack, role.role.node.default_child)]


def staging_role(stack: cdk.Stack, token_secrets: list[str]) -> HubStagingJobRole:
    return HubStagingJobRole(
        stack,
        "Staging",
        models_bucket=s3.Bucket(stack, "Models"),
        staged_prefixes=["llama/", "bge/"],
        key=kms.Key(stack, "Key"),
        image_repository_arns=["arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-inference"],
        code_bucket=s3.Bucket.from_bucket_name(stack, "Assets", "cdk-assets"),
        code_key="abc123.py",
        token_secrets=token_secrets,
    )


def test_hub_staging_role_alone_writes_its_prefixes_and_reads_its_script_and_token_secrets() -> None:
    stack = bare()
    role = staging_role(
        stack, ["huggingface/hub-token", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-token-AbCdEf"]
    )
    statements = only(stack, "AWS::IAM::ManagedPolicy")["PolicyDocument"]["Statement"]
    by_action = {json.dumps(st["Action"]): st for st in statements}
    assert by_action['"secretsmanager:GetSecretValue"']["Resource"] == [
        # A complete ARN as given (and the same with a suffix, in case it was a partial one) ...
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-token-AbCdEf",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-token-AbCdEf-??????",
        # ... and a name with the random suffix every secret ARN carries.
        {
            "Fn::Join": [
                "",
                [
                    "arn:aws:secretsmanager:us-east-1:",
                    {"Ref": "AWS::AccountId"},
                    ":secret:huggingface/hub-token-??????",
                ],
            ]
        },
    ]  # fmt: skip
    assert by_action['"s3:ListBucket"'] == {
        "Action": "s3:ListBucket",
        "Condition": {"StringEquals": {"s3:prefix": "abc123.py"}},  # the script's own key: nothing else is listed
        "Effect": "Allow",
        "Resource": "arn:aws:s3:::cdk-assets",
    }
    assert by_action['"s3:GetObject"']["Resource"] == "arn:aws:s3:::cdk-assets/abc123.py"
    writes = by_action['["s3:AbortMultipartUpload", "s3:PutObject"]']["Resource"]
    assert [w["Fn::Join"][1][-1] for w in writes] == ["/bge/*", "/llama/*"]
    actions = {a for st in statements for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert not any(a.startswith("ec2:") for a in actions)  # outside the VPC
    assert "s3:GetObject" in actions and role.role is role.execution.role
    with pytest.raises(ValueError, match="at least one prefix"):
        HubStagingJobRole(
            stack,
            "Empty",
            models_bucket=s3.Bucket(stack, "Other"),
            staged_prefixes=[],
            key=kms.Key(stack, "OtherKey"),
            image_repository_arns=[],
            code_bucket=s3.Bucket(stack, "Code"),
            code_key="x.py",
        )


def test_hub_staging_workflow_alone_stages_each_model_or_the_named_one() -> None:
    stack = bare()
    role = staging_role(stack, [])
    built = HubStagingWorkflow(
        stack,
        "Workflow",
        requests={
            "chat": {"ProcessingJobName.$": "States.Format('hub-stage-{}', States.UUID())"},
            "embed": {"ProcessingJobName.$": "States.Format('hub-stage-{}', States.UUID())"},
        },
        staged_s3_uris={"chat": "s3://models/llama/", "embed": "s3://models/bge/"},
        job_role=role.role,
        key=kms.Key(stack, "WorkflowKey"),
        log_retention=RETENTION,
        timeout=cdk.Duration.hours(9),
    )
    states = definition(stack)["States"]
    assert states["Stage-chat"]["Resource"].endswith(":states:::sagemaker:createProcessingJob.sync")
    assert (states["Stage-chat"]["Next"], states["Record-chat"]["Next"]) == ("Record-chat", "Stage-embed-Requested")
    assert states["Record-embed"]["Parameters"] == {
        "job.$": "$.run.staged.embed.ProcessingJobName",
        "prefix": "s3://models/bge/",
    }
    assert states["Stage-chat"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "StagingFailed"}
    ]
    assert "model" in states["UnknownModel"]["Cause"] and "chat, embed" in states["UnknownModel"]["Cause"]
    assert set(built.requests) == {"Stage-chat", "Stage-embed"}
    statements = policy_statements(stack, built.role)
    scoped = [st for st in statements if "sagemaker:CreateProcessingJob" in st["Action"]]
    assert len(scoped) == 1 and scoped[0]["Resource"]["Fn::Join"][1][-1] == ":processing-job/hub-stage-*"
    passes = [st for st in statements if st["Action"] == "iam:PassRole"]
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    with pytest.raises(ValueError, match="at least one model"):
        HubStagingWorkflow(
            stack,
            "Empty",
            requests={},
            staged_s3_uris={},
            job_role=role.role,
            key=kms.Key(stack, "EmptyKey"),
            log_retention=RETENTION,
            timeout=cdk.Duration.hours(1),
        )


def test_lifecycle_workflow_alone_trains_registers_and_notifies_with_only_the_actions_it_calls() -> None:
    stack = bare()
    key = kms.Key(stack, "Key")
    training_role = iam.Role(stack, "TrainingRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    built = LifecycleWorkflow(
        stack,
        "Workflow",
        fine_tune_request={"TrainingJobName.$": "States.Format('fine-tune-{}', $.run.id)"},
        pretrain_request=None,
        training_role=training_role,
        model_role=None,
        training_output_s3_uri="s3://models/training-output/",
        run_defaults={"base_model_s3_uri": "s3://models/base/", "deploy": False},
        model_package_group_name="group",
        model_package_group_arn=f"arn:aws:sagemaker:{REGION}:123456789012:model-package-group/group",
        package_image_uri="image:1",
        package_environment={"HF_MODEL_ID": "/opt/ml/model"},
        package_instance_type="ml.inf2.8xlarge",
        auto_approve=False,
        evaluation=None,
        serving=None,
        deploy=False,
        topic=sns.Topic(stack, "Topic"),
        key=key,
        log_retention=RETENTION,
        timeout=cdk.Duration.hours(30),
        poll_interval=cdk.Duration.seconds(60),
    )
    states = definition(stack)["States"]
    assert set(states) == {
        "LoadDefaults",
        "PrepareRun",
        "StartFromBaseModel",
        "FineTune",
        "RecordCandidate",
        "NoEvaluationGate",
        "RegisterModelPackage",
        "ApprovedForDeployment",
        "NotifyRegistered",
        "LifecycleSucceeded",
        "NotifyRejected",
        "ModelRejected",
        "CheckCleanupError",
        "NoCleanupError",
        "NotifyFailure",
        "LifecycleFailed",
    }
    assert definition(stack)["StartAt"] == "LoadDefaults"
    assert states["NoEvaluationGate"]["Result"] == {"approval_status": "PendingManualApproval", "gated": False}
    assert set(built.requests) == {"FineTune", "RegisterModelPackage"}
    assert built.requests["FineTune"] == (
        "CreateTrainingJob",
        {"TrainingJobName.$": "States.Format('fine-tune-{}', $.run.id)"},
    )
    machine = only(stack, "AWS::StepFunctions::StateMachine")
    assert machine["StateMachineType"] == "STANDARD" and machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert only(stack, "AWS::Logs::LogGroup")["KmsKeyId"] == get_att(stack, key.node.default_child, "Arn")
    statements = policy_statements(stack, built.role)
    # Each action on the names it uses (tests/test_iam.py checks the scope in the profiles).
    sagemaker: dict[str, list[str]] = {}
    for s in statements:
        actions = [s["Action"]] if isinstance(s["Action"], str) else s["Action"]
        listed = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        for action in actions:
            if action.startswith("sagemaker:"):
                sagemaker.setdefault(action, []).extend(json.dumps(stack.resolve(r)) for r in listed)
    assert sorted(sagemaker) == [
        "sagemaker:AddTags",
        "sagemaker:CreateModelPackage",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
    ]
    assert all(
        len(arns) == 1 and "training-job/fine-tune-*" in arns[0] for a, arns in sagemaker.items() if "Training" in a
    )
    assert len(sagemaker["sagemaker:AddTags"]) == 3  # the training jobs, the group and its packages
    (events,) = [s for s in statements if s["Action"] == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]]
    assert stack.resolve(events["Resource"])["Fn::Join"][1][-1] == (
        ":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"
    )
    (passes,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert passes["Resource"] == get_att(stack, training_role.node.default_child, "Arn")
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


# --- CandidateCleanup ------------------------------------------------------------------------------------------------
LIFECYCLE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:lifecycle"


def test_candidate_cleanup_alone_starts_on_the_lifecycles_unsuccessful_ends_and_deletes_only_candidates() -> None:
    stack = bare()
    key = kms.Key(stack, "Key")
    built = CandidateCleanup(
        stack,
        "Cleanup",
        lifecycle=sfn.StateMachine.from_state_machine_arn(stack, "Lifecycle", LIFECYCLE_ARN),
        topic=sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:us-east-1:123456789012:t"),
        key=key,
        log_retention=RETENTION,
        max_busy_seconds=7200,
        poll_interval=cdk.Duration.seconds(120),
    )
    rule = only(stack, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"stateMachineArn": [LIFECYCLE_ARN], "status": ["TIMED_OUT", "ABORTED", "FAILED"]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == ref(stack, built.state_machine.node.default_child) and "Input" not in target
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 8}
    assert target["DeadLetterConfig"] == {"Arn": get_att(stack, built.dead_letter_queue.node.default_child, "Arn")}
    assert target["RoleArn"] == get_att(stack, built.events_role.node.default_child, "Arn")
    assert policy_statements(stack, built.events_role) == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": target["Arn"]}
    ]
    queue = only(stack, "AWS::SQS::Queue")
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 24 * 3600

    states = definition(stack)["States"]
    assert definition(stack)["StartAt"] == "IdentifyRun"
    assert states["IdentifyRun"]["Parameters"] == {"id.$": "States.Hash($.detail.executionArn, 'MD5')"}
    assert states["NameCandidate"]["Parameters"] == {
        "model_name.$": "States.Format('lifecycle-{}', $.run.id)",
        "eval_endpoint_name.$": "States.Format('eval-{}', $.run.id)",
        "live_config_name.$": "States.Format('live-{}', $.run.id)",
    }
    decide = states["CandidateEndpointState"]
    status = "$.found.Endpoints[0].EndpointStatus"
    absent, deleting, busy_waiting, busy_over = decide["Choices"]
    assert absent == {"Variable": "$.found.Endpoints[0]", "IsPresent": False, "Next": "FindCandidateConfig"}
    assert deleting == {"Variable": status, "StringEquals": "Deleting", "Next": "FindCandidateConfig"}
    busy, bound = busy_waiting["And"]
    assert (
        [c["StringEquals"] for c in busy["Or"]]
        == list(ENDPOINT_BUSY)
        == [
            "Creating",
            "Updating",
            "SystemUpdating",
            "RollingBack",
        ]
    )
    assert bound == {"Variable": "$.polls.count", "NumericLessThan": 60}  # 7200 s / 120 s
    assert busy_waiting["Next"] == "WaitWhileBusy" and states["WaitWhileBusy"]["Next"] == "FindCandidateEndpoint"
    assert busy_over["Next"] == "CandidateStillBusy" and states["CandidateStillBusy"]["Next"] == "NotifyCleanupFailed"
    assert decide["Default"] == "DeleteCandidateEndpoint"
    # The model stays when the run created its live config (it may serve the live endpoint).
    assert states["LiveConfigFound"]["Choices"][0]["Next"] == "ModelKept"
    assert states["LiveConfigFound"]["Default"] == "FindCandidateModel"
    tasks = {
        name: state for name, state in states.items() if state["Type"] == "Task" and "sagemaker" in state["Resource"]
    }
    assert (
        sorted(tasks)
        == sorted(built.requests)
        == [
            "DeleteCandidateEndpoint",
            "DeleteCandidateEndpointConfig",
            "DeleteCandidateModel",
            "FindCandidateConfig",
            "FindCandidateEndpoint",
            "FindCandidateModel",
            "FindLiveConfig",
        ]
    )
    for name, task in tasks.items():
        assert task["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyCleanupFailed"}
        ]
        assert task["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"], name

    machine = only(stack, "AWS::StepFunctions::StateMachine")
    assert machine["TracingConfiguration"] == {"Enabled": True} and machine["LoggingConfiguration"]["Level"] == "ALL"
    assert only(stack, "AWS::Logs::LogGroup")["KmsKeyId"] == get_att(stack, key.node.default_child, "Arn")
    assert definition(stack)["TimeoutSeconds"] == 60 + 7200 + 3600  # settling, the busy budget, an hour's margin
    sagemaker: dict[str, list[str]] = {}
    for st in policy_statements(stack, built.role):
        actions = [st["Action"]] if isinstance(st["Action"], str) else st["Action"]
        listed = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        for action in actions:
            if action.startswith("sagemaker:"):
                # Every ARN is arn:aws:sagemaker:us-east-1:<account>:<type>/<name>: keep <type>/<name>.
                sagemaker.setdefault(action, []).extend(
                    r if r == "*" else stack.resolve(r)["Fn::Join"][1][-1].lstrip(":") for r in listed
                )
    assert sagemaker == {
        "sagemaker:DeleteEndpoint": ["endpoint/eval-*"],
        "sagemaker:DeleteEndpointConfig": ["endpoint-config/eval-*"],
        "sagemaker:DeleteModel": ["model/lifecycle-*"],
        "sagemaker:ListEndpointConfigs": ["*"],
        "sagemaker:ListEndpoints": ["*"],
        "sagemaker:ListModels": ["*"],
    }


# --- every workflow: one helper builds its state machine -------------------------------------------------------------
def test_every_state_machine_is_built_by_the_logged_state_machine_helper() -> None:
    """So every workflow logs every state to a KMS-encrypted log group and traces with X-Ray: no module builds one
    itself."""
    builders = sorted(
        path.name for path in (ROOT / "cdk_constructs").glob("*.py") if "sfn.StateMachine(" in path.read_text()
    )
    assert builders == ["logged_state_machine.py"]


@pytest.mark.parametrize("profile", ["dev", "prod"])
def test_every_profiles_state_machines_log_encrypted_and_trace(profile: str) -> None:
    s = synth(profile)
    machines = {
        (unit, k): (r["Properties"], template["Resources"])
        for unit, template in s.templates.items()
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
    }
    assert len(machines) == 4  # compile, evaluation, lifecycle and its candidate clean-up
    for (unit, logical), (machine, stack_resources) in machines.items():
        assert machine["TracingConfiguration"] == {"Enabled": True}, logical
        logging = machine["LoggingConfiguration"]
        assert (logging["Level"], logging["IncludeExecutionData"]) == ("ALL", True), logical
        (destination,) = logging["Destinations"]
        group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert "KmsKeyId" in stack_resources[group]["Properties"], (unit, logical)
        assert '\\"TimeoutSeconds\\":' in json.dumps(machine["DefinitionString"]), logical  # a run never runs forever


# --- EvaluationWorkflow ----------------------------------------------------------------------------------------------
def test_evaluation_workflow_alone_runs_its_jobs_in_parallel_and_may_pass_only_the_job_role() -> None:
    stack = bare()
    bucket = s3.Bucket(stack, "Bucket")
    job_role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    request = {"ProcessingJobName.$": "States.Format('fm-{}', $$.Execution.Name)"}
    built = EvaluationWorkflow(
        stack,
        "Workflow",
        jobs={"FoundationModelEvaluation": request},
        bucket=bucket,
        report_key_path="States.Format('evaluation-reports/{}/report.json', $$.Execution.Name)",
        job_role=job_role,
        key=kms.Key(stack, "Key"),
        log_retention=RETENTION,
    )
    states = definition(stack)["States"]
    assert set(states) == {
        "EvaluationJobs",
        "ReadReport",
        "ThresholdsMet",
        "ModelPassed",
        "ModelBelowThresholds",
        "EvaluationFailed",
    }
    (branch,) = states["EvaluationJobs"]["Branches"]
    job = branch["States"]["FoundationModelEvaluation"]
    assert job["Parameters"] == request
    assert job["Catch"][0]["Next"] == "FoundationModelEvaluationFailed"
    assert built.requests == {"FoundationModelEvaluation": ("CreateProcessingJob", request)}
    assert only(stack, "AWS::StepFunctions::StateMachine")["TracingConfiguration"] == {"Enabled": True}
    (passes,) = [s for s in policy_statements(stack, built.state_machine.role) if s["Action"] == "iam:PassRole"]
    assert passes["Resource"] == get_att(stack, job_role.node.default_child, "Arn")
    assert passes["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


# --- the evaluation jobs ---------------------------------------------------------------------------------------------
PLACEMENT = ProcessingPlacement(
    role_arn="arn:aws:iam::111122223333:role/jobs",
    kms_key_arn=KEY_ARN,
    subnet_ids=["subnet-1"],
    security_group_ids=["sg-1"],
)


def test_clarify_jobs_isolate_the_data_bias_job_and_query_only_the_configured_tabular_model() -> None:
    evaluation = profile("monitoring").evaluation
    assert evaluation is not None and evaluation.clarify is not None
    stack = bare()
    bucket = s3.Bucket(stack, "Bucket")
    configs = config_objects_in(stack, bucket)
    built = ClarifyJobs(
        stack,
        "Clarify",
        clarify=evaluation.clarify,
        image_uri="clarify:1",
        placement=PLACEMENT,
        datasets_bucket=bucket,
        results_bucket=bucket,
        config_objects=configs,
    )
    data_bias = built.data_bias_request
    assert data_bias["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert data_bias["AppSpecification"] == {"ImageUri": "clarify:1"}
    assert data_bias["Tags"] == [{"Key": "neuron-genai:purpose", "Value": "clarify-data-bias"}]
    assert set(built.model_configs) == set(built.model_requests) == {"model_bias", "explainability"}
    for kind, request in built.model_requests.items():
        assert request["NetworkConfig"]["EnableNetworkIsolation"] is False, kind
        (config_input,) = [i for i in request["ProcessingInputs"] if i["InputName"] == "analysis_config"]
        assert "S3Uri" in config_input["S3Input"], kind  # deployed with the stack, not written per run
        assert built.model_configs[kind]["predictor"]["endpoint_name"] == "credit-risk-classifier", kind
    # dev has no tabular model: model bias and SHAP are left out instead of being sent to the chat endpoint.
    dev = profile("dev").evaluation
    assert dev is not None and dev.clarify is not None
    other = bare()
    other_bucket = s3.Bucket(other, "Bucket")
    without = ClarifyJobs(
        other,
        "Clarify",
        clarify=dev.clarify,
        image_uri="clarify:1",
        placement=PLACEMENT,
        datasets_bucket=other_bucket,
        results_bucket=other_bucket,
        config_objects=config_objects_in(other, other_bucket),
    )
    assert without.model_requests == {} and without.model_configs == {}


def test_foundation_model_evaluation_job_reads_the_target_from_the_run_and_writes_one_report_per_run() -> None:
    evaluation = profile("dev").evaluation
    assert evaluation is not None
    stack = bare()
    role = SageMakerExecutionRole(stack, "JobRole", description="evaluation jobs")
    bucket = s3.Bucket(stack, "Bucket")
    built = FoundationModelEvaluationJob(
        stack,
        "Evaluation",
        settings=evaluation.foundation_model,
        placement=PLACEMENT,
        role=role,
        datasets_bucket=bucket,
        reports_bucket=bucket,
    )
    request = built.request
    assert request["Environment"] == {
        "EVALUATION_TARGET.$": "States.JsonToString($.evaluation)",
        "EXECUTION_ID.$": "$$.Execution.Id",
        "AWS_DEFAULT_REGION": REGION,
    }
    assert request["NetworkConfig"]["EnableNetworkIsolation"] is False
    arguments = request["AppSpecification"]["ContainerArguments"]
    assert f"--max-new-tokens={evaluation.foundation_model.max_new_tokens}" in arguments
    assert "--output=/opt/ml/processing/output/report" in arguments
    assert built.report_key_format == "evaluation-reports/{}/{}/report.json"
    # The state machine's name is part of the key: two workflows' runs of the same name keep their own reports.
    assert built.report_key_path == (
        "States.Format('evaluation-reports/{}/{}/report.json', $$.StateMachine.Name, $$.Execution.Name)"
    )
    managed = [
        s
        for p in resources(stack, "AWS::IAM::ManagedPolicy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    (pull,) = [s for s in managed if "ecr:BatchGetImage" in s["Action"]]
    assert "ecr:GetDownloadUrlForLayer" in pull["Action"]
    assert stack.resolve(pull["Resource"]) == stack.resolve(built.image.repository.repository_arn)


def test_model_monitoring_schedules_each_configured_monitor_on_the_endpoint() -> None:
    config = load_config(
        "dev",
        {
            "evaluation": {
                "clarify": {"predictor": {"endpoint_name": "credit-risk-classifier"}},
                "monitoring": {"data_quality_baseline": {"constraints_key": "dq/constraints.json"}},
            }
        },
        environ={},
    )
    evaluation = config.evaluation
    assert evaluation is not None and evaluation.monitoring is not None
    stack = bare()
    bucket = s3.Bucket(stack, "Bucket")
    built = ModelMonitoring(
        stack,
        "Monitoring",
        endpoint_name="credit-risk-classifier",
        settings=evaluation.monitoring,
        clarify=evaluation.clarify,
        clarify_image_uri="clarify:1",
        placement=PLACEMENT,
        bucket=bucket,
        config_objects=config_objects_in(stack, bucket),
    )
    assert set(built.job_definitions) == set(built.schedules) == {"ModelBias", "ModelExplainability", "DataQuality"}
    schedules = [
        s["Properties"]["MonitoringScheduleConfig"]
        for s in resources(stack, "AWS::SageMaker::MonitoringSchedule").values()
    ]
    assert {s["ScheduleConfig"]["ScheduleExpression"] for s in schedules} == {"cron(0 * ? * * *)"}
    quality = only(stack, "AWS::SageMaker::DataQualityJobDefinition")
    assert quality["NetworkConfig"] == {
        "EnableInterContainerTrafficEncryption": True,
        "EnableNetworkIsolation": True,
        "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    }
    assert quality["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "credit-risk-classifier"
    assert quality["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY_ARN
    # Explainability sends synthetic rows to the endpoint: the one monitor with the network on.
    explainability = only(stack, "AWS::SageMaker::ModelExplainabilityJobDefinition")
    assert explainability["NetworkConfig"]["EnableNetworkIsolation"] is False
    by_type = {s["MonitoringType"]: s["MonitoringJobDefinitionName"] for s in schedules}
    assert by_type["DataQuality"] == quality["JobDefinitionName"]


# --- HyperPodCluster -------------------------------------------------------------------------------------------------
def test_hyperpod_cluster_runs_the_lifecycle_scripts_and_health_checks_on_compute_nodes_only() -> None:
    settings = profile("hyperpod").hyperpod
    assert settings is not None
    stack = bare()
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Bucket")
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ISOLATED])
    group = ec2.SecurityGroup(stack, "Efa", vpc=vpc)
    built = HyperPodCluster(
        stack,
        "Cluster",
        groups=settings.groups,
        node_recovery=settings.node_recovery,
        deep_health_checks=settings.deep_health_checks,
        partition=settings.partition,
        scripts=HYPERPOD_SCRIPTS,
        bucket=bucket,
        compile_cache_bucket=bucket,
        key=key,
        vpc=vpc,
        subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        security_groups=[group],
        upload_security_group=group,
        log_retention=RETENTION,
    )
    cluster = only(stack, "AWS::SageMaker::Cluster")
    assert cluster["NodeRecovery"] == "Automatic"
    assert cluster["Orchestrator"] == {"Slurm": {"SlurmConfigStrategy": "Managed"}}
    groups = {g["InstanceGroupName"]: g for g in cluster["InstanceGroups"]}
    assert set(groups) == {"controller", "login", "trn1-compute"}
    compute = groups["trn1-compute"]
    assert (compute["InstanceType"], compute["InstanceCount"]) == ("ml.trn1.32xlarge", 4)
    assert compute["OnStartDeepHealthChecks"] == ["InstanceStress", "InstanceConnectivity"]
    assert compute["SlurmConfig"]["PartitionNames"] == ["trainium"]
    assert "OnStartDeepHealthChecks" not in groups["controller"]
    for g in groups.values():
        assert g["LifeCycleConfig"]["OnCreate"] == "on_create.sh"
        assert g["ExecutionRole"] == get_att(stack, built.role.node.default_child, "Arn")
        (storage,) = g["InstanceStorageConfigs"]
        assert storage["EbsVolumeConfig"]["VolumeKmsKeyId"] == get_att(stack, key.node.default_child, "Arn")
    assert stack.resolve(built.compile_cache_url) == {
        "Fn::Join": ["", ["s3://", ref(stack, bucket.node.default_child), "/neuron-compile-cache/trn1/"]]
    }
    assert only(stack, "Custom::CDKBucketDeployment")["DestinationBucketKeyPrefix"] == "hyperpod/lifecycle/"


def test_hyperpod_cluster_without_on_create_is_refused(tmp_path: Path) -> None:
    settings = profile("hyperpod").hyperpod
    assert settings is not None
    stack = bare()
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, subnet_configuration=[ISOLATED])
    group = ec2.SecurityGroup(stack, "Efa", vpc=vpc)
    with pytest.raises(ValueError, match=r"on_create\.sh is missing; HyperPod runs it on every new node"):
        HyperPodCluster(
            stack,
            "Cluster",
            groups=settings.groups,
            node_recovery="Automatic",
            deep_health_checks=(),
            partition="trainium",
            scripts=tmp_path,
            bucket=s3.Bucket(stack, "Bucket"),
            compile_cache_bucket=s3.Bucket(stack, "Cache"),
            key=kms.Key(stack, "Key"),
            vpc=vpc,
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[group],
            upload_security_group=group,
            log_retention=RETENTION,
        )


# --- every construct: documented, and built alone here ---------------------------------------------------------------
def construct_classes() -> dict[str, type]:
    import cdk_constructs

    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(cdk_constructs.__path__):
        module = importlib.import_module(f"cdk_constructs.{info.name}")
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, Construct) and value.__module__ == module.__name__:
                found[name] = value
    return found


def documented_arguments(docstring: str) -> dict[str, str]:
    """Argument name -> its entry in the `Args:` section (an entry may name several: `a, b: ...`)."""
    section = docstring.split("Args:", 1)[1].split("Attributes:", 1)[0]
    entries: dict[str, str] = {}
    head: list[str] = []
    for line in section.splitlines():
        match = re.match(r"^ {8}(\w[\w, ]*):(.*)$", line)
        if match:
            head = [n.strip() for n in match.group(1).split(",")]
            for name in head:
                entries[name] = match.group(2)
        elif line.strip():
            for name in head:
                entries[name] += " " + line.strip()
    return entries


def test_every_construct_documents_its_arguments_defaults_and_attributes() -> None:
    classes = construct_classes()
    assert len(classes) >= 15
    problems = []
    checked = 0
    for name, cls in sorted(classes.items()):
        doc = inspect.getdoc(cls) or ""
        doc = "\n".join("    " + line for line in doc.splitlines())  # getdoc dedents; entries are matched at 8
        if "Args:" not in doc or "Attributes:" not in doc:
            problems.append(f"{name}: no Args: or Attributes: section")
            continue
        entries = documented_arguments(doc)
        initializer: Any = cls.__dict__["__init__"]  # the class's own: jsii's metaclass hides it from signature(cls)
        for parameter in inspect.signature(initializer).parameters.values():
            if parameter.kind != parameter.KEYWORD_ONLY:
                continue
            checked += 1
            if parameter.name not in entries:
                problems.append(f"{name}: argument {parameter.name} undocumented")
            elif parameter.default is not parameter.empty and "Default" not in entries[parameter.name]:
                problems.append(f"{name}: argument {parameter.name} does not state its default")
        if not doc.split("Attributes:", 1)[1].strip():
            problems.append(f"{name}: empty Attributes: section")
    assert problems == []
    assert checked >= 100  # the arguments were read (not an empty signature)


def test_every_construct_is_built_alone_in_this_module() -> None:
    source = Path(__file__).read_text()
    assert [name for name in sorted(construct_classes()) if f"{name}(" not in source] == []
