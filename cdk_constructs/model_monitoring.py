"""Model Monitor on the tabular endpoint's captured data: model bias and SHAP drift (Clarify image), and data quality
and model quality (Model Monitor analyzer image) where a baseline exists. KMS on volumes and outputs, private subnets.

Each monitor type gets the EndpointInput attributes its CloudFormation type can carry (`ENDPOINT_ATTRIBUTES`, read from
aws-cdk-lib 2.275.0's generated L1 classes); the config refuses a setting that would otherwise be dropped.

Job definitions get names (a schedule refers to its definition by name) that include a digest of their settings, so
a changed definition is created under a new name before the old one is deleted.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from cdk_constructs.config_objects import ConfigObjects
from config.evaluation import ClarifyConfig, MonitoringConfig
from neuron.errors import UserError
from neuron.images import UnknownRegionError, model_monitor_image_uri
from sagemaker_requests import clarify_analysis_config as analysis
from sagemaker_requests.processing import ProcessingPlacement

SCHEDULES = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}
ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
GROUND_TRUTH_TYPES = ("ModelBias", "ModelQuality")
# EndpointInput attributes per job-definition type in CloudFormation (aws-cdk-lib 2.275.0 Cfn*JobDefinition.
# EndpointInputProperty). Data quality has none of them: MonitoringConfig refuses features_attribute with it.
ENDPOINT_ATTRIBUTES = {
    "DataQuality": frozenset(),
    "ModelQuality": frozenset({"inferenceAttribute", "probabilityAttribute", "probabilityThresholdAttribute"}),
    "ModelBias": frozenset(
        {"featuresAttribute", "inferenceAttribute", "probabilityAttribute", "probabilityThresholdAttribute"}
    ),
    "ModelExplainability": frozenset({"featuresAttribute", "inferenceAttribute", "probabilityAttribute"}),
}


def analyzer_image_uri(region: str) -> str:
    """The Model Monitor analyzer image, or an error saying which settings need it and how to do without."""
    try:
        return model_monitor_image_uri(region)
    except UnknownRegionError as err:
        raise UserError(
            f"evaluation.monitoring.data_quality_baseline and evaluation.monitoring.model_quality need the Model "
            f"Monitor analyzer image, but {err}. Fix: choose one of those regions, or set both to null"
        ) from None


class ModelMonitoring(Construct):
    """Monitoring job definitions and their schedules on one endpoint's captured data.

    Args:
        endpoint_name: the monitored endpoint (data capture must be on).
        settings: which monitors run (model bias, explainability, data quality with a baseline, model quality),
            their schedule (`hourly` or `daily`), resources and the capture's attributes.
        clarify, clarify_image_uri: the Clarify settings and image the bias and explainability monitors use; either
            None leaves those two out.
        placement: role, KMS key, subnets and security groups of every job.
        bucket: ground truth, baselines and reports (`monitoring/reports/<type>`).
        config_objects: collects the analysis configs of the Clarify monitors.

    Attributes:
        job_definitions, schedules: monitoring type (`ModelBias`, `ModelExplainability`, `DataQuality`,
            `ModelQuality`) -> its job definition / monitoring schedule; only the configured ones.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        settings: MonitoringConfig,
        clarify: ClarifyConfig | None,
        clarify_image_uri: str | None,
        placement: ProcessingPlacement,
        bucket: s3.IBucket,
        config_objects: ConfigObjects,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings, self._placement, self._bucket = settings, placement, bucket
        self._endpoint_name = endpoint_name
        self.job_definitions: dict[str, cdk.CfnResource] = {}
        self.schedules: dict[str, sagemaker.CfnMonitoringSchedule] = {}
        region = cdk.Stack.of(self).region

        if settings.model_bias and clarify is not None and clarify_image_uri is not None:
            uri = config_objects.add("monitoring/model_bias/analysis_config.json", analysis.monitoring_bias(clarify))
            endpoint = self._endpoint_input("ModelBias", probability_threshold=clarify.predictor.probability_threshold)
            self._add(
                "ModelBias",
                sagemaker.CfnModelBiasJobDefinition,
                isolated=True,
                props={
                    "model_bias_app_specification": {"configUri": uri, "imageUri": clarify_image_uri},
                    "model_bias_job_input": {"endpointInput": endpoint, "groundTruthS3Input": self._ground_truth()},
                    "model_bias_job_output_config": self._output("ModelBias"),
                },
            )
        if settings.model_explainability and clarify is not None and clarify_image_uri is not None:
            uri = config_objects.add(
                "monitoring/explainability/analysis_config.json",
                analysis.monitoring_explainability(clarify),
            )
            # SHAP sends synthetic rows to the endpoint: this job needs the network (through VPC endpoints).
            self._add(
                "ModelExplainability",
                sagemaker.CfnModelExplainabilityJobDefinition,
                isolated=False,
                props={
                    "model_explainability_app_specification": {"configUri": uri, "imageUri": clarify_image_uri},
                    "model_explainability_job_input": {"endpointInput": self._endpoint_input("ModelExplainability")},
                    "model_explainability_job_output_config": self._output("ModelExplainability"),
                },
            )
        if settings.data_quality_baseline is not None:
            baseline = settings.data_quality_baseline
            self._add(
                "DataQuality",
                sagemaker.CfnDataQualityJobDefinition,
                isolated=True,
                props={
                    "data_quality_app_specification": {"imageUri": analyzer_image_uri(region)},
                    "data_quality_job_input": {"endpointInput": self._endpoint_input("DataQuality")},
                    "data_quality_job_output_config": self._output("DataQuality"),
                    "data_quality_baseline_config": {
                        "constraintsResource": {"s3Uri": self._baseline_uri(baseline.constraints_key)},
                        **(
                            {"statisticsResource": {"s3Uri": self._baseline_uri(baseline.statistics_key)}}
                            if baseline.statistics_key
                            else {}
                        ),
                    },
                },
            )
        if settings.model_quality is not None:
            quality = settings.model_quality
            app: dict[str, Any] = {"imageUri": analyzer_image_uri(region), "problemType": quality.problem_type}
            self._add(
                "ModelQuality",
                sagemaker.CfnModelQualityJobDefinition,
                isolated=True,
                props={
                    "model_quality_app_specification": app,
                    "model_quality_job_input": {
                        "endpointInput": self._endpoint_input(
                            "ModelQuality", probability_threshold=quality.probability_threshold
                        ),
                        "groundTruthS3Input": self._ground_truth(),
                    },
                    "model_quality_job_output_config": self._output("ModelQuality"),
                    "model_quality_baseline_config": {
                        "constraintsResource": {"s3Uri": self._baseline_uri(quality.baseline.constraints_key)}
                    },
                },
            )

    def _endpoint_input(self, monitoring_type: str, *, probability_threshold: float | None = None) -> dict[str, Any]:
        s = self._settings
        endpoint: dict[str, Any] = {
            "endpointName": self._endpoint_name,
            "localPath": ENDPOINT_INPUT_PATH,
            "s3InputMode": "File",
            "s3DataDistributionType": "FullyReplicated",
        }
        for key, value in (
            ("featuresAttribute", s.features_attribute),
            ("inferenceAttribute", s.inference_attribute),
            ("probabilityAttribute", s.probability_attribute),
            ("probabilityThresholdAttribute", probability_threshold),
        ):
            if value is not None and key in ENDPOINT_ATTRIBUTES[monitoring_type]:
                endpoint[key] = value
        if monitoring_type in GROUND_TRUTH_TYPES:  # ground truth arrives later than the prediction: look back
            endpoint |= {"startTimeOffset": s.start_time_offset, "endTimeOffset": s.end_time_offset}
        return endpoint

    def _ground_truth(self) -> dict[str, str]:
        return {"s3Uri": self._bucket.s3_url_for_object(self._settings.ground_truth_prefix)}

    def _baseline_uri(self, key: str) -> str:
        return self._bucket.s3_url_for_object(self._settings.baselines_prefix + key)

    def _output(self, monitoring_type: str) -> dict[str, Any]:
        return {
            "kmsKeyId": self._placement.kms_key_arn,
            "monitoringOutputs": [
                {
                    "s3Output": {
                        "localPath": "/opt/ml/processing/output",
                        "s3UploadMode": "EndOfJob",
                        "s3Uri": self._bucket.s3_url_for_object(f"monitoring/reports/{monitoring_type}"),
                    }
                }
            ],
        }

    def _add(self, monitoring_type: str, kind: Any, *, isolated: bool, props: dict[str, Any]) -> None:
        s, p = self._settings, self._placement
        props |= {
            "job_resources": {
                "clusterConfig": {
                    "instanceCount": s.resources.instance_count,
                    "instanceType": s.resources.instance_type,
                    "volumeSizeInGb": s.resources.volume_size_gb,
                    "volumeKmsKeyId": p.kms_key_arn,
                }
            },
            "network_config": {
                "enableInterContainerTrafficEncryption": True,
                "enableNetworkIsolation": isolated,
                "vpcConfig": {"securityGroupIds": list(p.security_group_ids), "subnets": list(p.subnet_ids)},
            },
            "role_arn": p.role_arn,
            "stopping_condition": {"maxRuntimeInSeconds": s.resources.max_runtime_seconds},
        }
        stack = cdk.Stack.of(self)
        digest = hashlib.sha256(json.dumps(stack.resolve(props), sort_keys=True).encode()).hexdigest()[:8]
        name = f"{cdk.Names.unique_resource_name(self, max_length=40, separator='-')}-{monitoring_type[:13]}-{digest}"
        definition = kind(self, f"{monitoring_type}Definition", job_definition_name=name, **props)
        schedule = sagemaker.CfnMonitoringSchedule(
            self,
            f"{monitoring_type}Schedule",
            monitoring_schedule_name=f"{cdk.Names.unique_resource_name(self, max_length=44, separator='-')}-"
            f"{monitoring_type}"[:63],
            monitoring_schedule_config={
                "monitoringJobDefinitionName": name,
                "monitoringType": monitoring_type,
                "scheduleConfig": {"scheduleExpression": SCHEDULES[s.schedule]},
            },
        )
        schedule.node.add_dependency(definition)
        self.job_definitions[monitoring_type] = definition
        self.schedules[monitoring_type] = schedule
