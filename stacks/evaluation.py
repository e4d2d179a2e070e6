"""Model evaluation: Clarify bias and explainability jobs, foundation-model evaluation with release thresholds, the
on-demand evaluation workflow, monitoring schedules on the live endpoint, and a Bedrock guardrail.

`self.stage` hands the lifecycle workflow the same job definitions the on-demand workflow runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_constructs.clarify_jobs import ClarifyJobs
from cdk_constructs.config_objects import ConfigObjects
from cdk_constructs.evaluation_workflow import EvaluationWorkflow
from cdk_constructs.fm_evaluation_job import REPORTS_PREFIX, FoundationModelEvaluationJob
from cdk_constructs.guardrail import ContentGuardrail
from cdk_constructs.handoffs import EvaluationStage, Platform
from cdk_constructs.model_monitoring import ModelMonitoring
from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from config import AppConfig
from config.evaluation import EvaluationConfig
from evaluation.catalog import METRICS, PAYLOAD_FORMATS, UNSUPPORTED_SERVERS
from neuron.errors import UserError
from neuron.images import UnknownRegionError, clarify_image_uri
from sagemaker_requests.processing import ProcessingPlacement
from sagemaker_requests.shapes import CreateProcessingJobRequest

# State names of the evaluation jobs (the lifecycle uses them as its state names too).
FM_EVALUATION_STATE = "FoundationModelEvaluation"
DATA_BIAS_STATE = "ClarifyDataBias"


def clarify_image_for(config: AppConfig) -> str | None:
    """The Clarify image when the profile uses Clarify; a config-phrased error where the region has none."""
    evaluation = config.evaluation
    assert evaluation is not None
    monitoring = evaluation.monitoring
    uses = [
        name
        for name, used in (
            ("evaluation.clarify", evaluation.clarify is not None),
            ("evaluation.monitoring.model_bias", bool(monitoring and monitoring.model_bias)),
            ("evaluation.monitoring.model_explainability", bool(monitoring and monitoring.model_explainability)),
        )
        if used
    ]
    if not uses:
        return None
    try:
        return clarify_image_uri(config.region)
    except UnknownRegionError as err:
        raise UserError(
            f"profile {config.profile!r}: {', '.join(uses)} {'needs' if len(uses) == 1 else 'need'} SageMaker Clarify, "
            f"but {err}. Fix: choose one of "
            "those regions, or set evaluation.clarify to null and evaluation.monitoring.model_bias and "
            "model_explainability to false"
        ) from None


def check_payload_format(config: AppConfig) -> None:
    """The fmeval job speaks one server's request/response shape: it must be the shape of the profile's
    text-generating models, or the job's first request fails at run time."""
    evaluation, inference = config.evaluation, config.inference
    if evaluation is None or inference is None:
        return
    fmt = PAYLOAD_FORMATS[evaluation.foundation_model.payload_format]
    for name, model in inference.models.items():
        if not model.profile.generates_text or model.server == fmt.server:
            continue
        if model.server in UNSUPPORTED_SERVERS:
            fix = f"the job has no payload format for {model.server} ({UNSUPPORTED_SERVERS[model.server]})"
        else:
            fix = "use payload_format " + " or ".join(
                repr(n) for n, f in PAYLOAD_FORMATS.items() if f.server == model.server
            )
        raise UserError(
            f"profile {config.profile!r}: evaluation.foundation_model.payload_format {fmt.name!r} is the shape of "
            f"{fmt.server}, but inference.models.{name}.server is {model.server}: {fix}"
        )


class EvaluationStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: AppConfig,
        platform: Platform,
        invoke_arns: Sequence[str] = (),
        candidate_endpoint_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope, construct_id, description="Neuron GenAI evaluation: Clarify, fmeval, monitoring, guardrail", **kwargs
        )
        settings = config.evaluation
        if settings is None:
            raise ValueError("EvaluationStack needs the evaluation section of the config")
        check_payload_format(config)
        clarify_image = clarify_image_for(config)
        buckets = platform.buckets

        self.processing = SageMakerExecutionRole(
            self,
            "ProcessingRole",
            description="Evaluation processing jobs and monitoring schedules",
            log_groups=["/aws/sagemaker/ProcessingJobs*"],
            metric_namespaces=["/aws/sagemaker/*", "aws/sagemaker/*"],
            in_vpc=True,
        )
        self.job_role = self.processing.role
        self.processing.grant_read(buckets.datasets, label="datasets")
        self.processing.grant_read_write(buckets.evaluation, label="evaluation")
        self.processing.grant_key(platform.key)
        self._grant_invoke(settings, invoke_arns, candidate_endpoint_prefix)

        subnets = platform.vpc.select_subnets(subnet_type=platform.subnets.subnet_type).subnet_ids
        placement = ProcessingPlacement(
            role_arn=self.job_role.role_arn,
            kms_key_arn=platform.key.key_arn,
            subnet_ids=subnets,
            security_group_ids=[platform.workload_security_group.security_group_id],
        )
        self.config_objects = ConfigObjects(
            self,
            "AnalysisConfigs",
            bucket=buckets.evaluation,
            prefix="clarify/configs",
            vpc=platform.vpc,
            subnets=platform.subnets,
            key=platform.key,
            log_retention=platform.log_retention,
        )

        self.fm_evaluation = FoundationModelEvaluationJob(
            self,
            "FoundationModelEvaluation",
            settings=settings.foundation_model,
            placement=placement,
            role=self.processing,
            datasets_bucket=buckets.datasets,
            reports_bucket=buckets.evaluation,
        )
        jobs: dict[str, CreateProcessingJobRequest] = {FM_EVALUATION_STATE: self.fm_evaluation.request}
        workflow_jobs = dict(jobs)
        self.clarify: ClarifyJobs | None = None
        if settings.clarify is not None and clarify_image is not None:
            self.clarify = ClarifyJobs(
                self,
                "Clarify",
                clarify=settings.clarify,
                image_uri=clarify_image,
                placement=placement,
                datasets_bucket=buckets.datasets,
                results_bucket=buckets.evaluation,
                config_objects=self.config_objects,
            )
            jobs[DATA_BIAS_STATE] = self.clarify.data_bias_request
            workflow_jobs = dict(jobs)
            # Model bias and SHAP query the tabular model of the config, not the run's LLM (ClarifyJobs docstring).
            for kind, request in self.clarify.model_requests.items():
                workflow_jobs[f"Clarify{''.join(p.capitalize() for p in kind.split('_'))}"] = request

        self.monitoring: ModelMonitoring | None = None
        if settings.monitoring is not None:
            # The config guarantees clarify.predictor.endpoint_name (EvaluationConfig validator): the tabular model.
            assert settings.clarify is not None and settings.clarify.predictor.endpoint_name is not None
            # Model Monitor reads the endpoint's captured data with this role: only the configured capture prefix.
            self.processing.grant_read(buckets.data_capture, settings.monitoring.capture_prefix, label="data-capture")
            self.monitoring = ModelMonitoring(
                self,
                "Monitoring",
                endpoint_name=settings.clarify.predictor.endpoint_name,
                settings=settings.monitoring,
                clarify=settings.clarify,
                clarify_image_uri=clarify_image,
                placement=placement,
                bucket=buckets.evaluation,
                config_objects=self.config_objects,
            )
        deployment = self.config_objects.seal()
        if deployment is not None and self.monitoring is not None:
            for schedule in self.monitoring.schedules.values():
                schedule.node.add_dependency(deployment)

        self.workflow = EvaluationWorkflow(
            self,
            "Workflow",
            jobs=workflow_jobs,
            bucket=buckets.evaluation,
            report_key_path=self.fm_evaluation.report_key_path,
            job_role=self.job_role,
            key=platform.key,
            log_retention=platform.log_retention,
        )

        thresholds = dict(settings.foundation_model.thresholds)
        self.stage = EvaluationStage(
            jobs=jobs,
            role=self.job_role,
            report_bucket=buckets.evaluation,
            report_key_path=self.fm_evaluation.report_key_path,
            thresholds=thresholds,
            directions={name: METRICS[name].direction.value for name in thresholds},
            report_prefix=f"{REPORTS_PREFIX}/",
        )

        cdk.CfnOutput(self, "EvaluationStateMachineArn", value=self.workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "EvaluationRoleArn", value=self.job_role.role_arn)
        self.guardrail: ContentGuardrail | None = None
        if settings.guardrail is not None:
            self.guardrail = ContentGuardrail(self, "Guardrail", settings=settings.guardrail, key=platform.key)
            cdk.CfnOutput(self, "GuardrailId", value=self.guardrail.guardrail_id)
            cdk.CfnOutput(self, "GuardrailVersion", value=self.guardrail.version_number)

    def _grant_invoke(
        self, settings: EvaluationConfig, invoke_arns: Sequence[str], candidate_endpoint_prefix: str | None
    ) -> None:
        """The jobs score this profile's endpoint (and its components), the lifecycle's candidate endpoints and the
        tabular endpoint the Clarify model jobs query: InvokeEndpoint on those, nothing else."""
        endpoints = list(invoke_arns)
        tabular = settings.clarify.predictor.endpoint_name if settings.clarify is not None else None
        if tabular is not None:
            # SageMaker writes resource ARNs in lower case; the configured name may not be.
            for name in sorted({tabular, tabular.lower()}):
                endpoints.append(self.format_arn(service="sagemaker", resource="endpoint", resource_name=name))
        if candidate_endpoint_prefix is not None:
            candidates = self.format_arn(
                service="sagemaker", resource="endpoint", resource_name=f"{candidate_endpoint_prefix}*"
            )
            endpoints.append(candidates)
            self.processing.wildcards.resource(
                candidates,
                "The lifecycle workflow's candidate endpoints are named <prefix><run id> per run; the evaluation "
                "jobs score them before they are deleted",
            )
        if endpoints:
            self.processing.add_to_policy(
                iam.PolicyStatement(
                    sid="InvokeEvaluatedEndpoints", actions=["sagemaker:InvokeEndpoint"], resources=endpoints
                )
            )
        else:
            cdk.Annotations.of(self).add_info(
                "No inference stack in this profile: the evaluation jobs may invoke no endpoint. To score an "
                "endpoint of another stack, grant sagemaker:InvokeEndpoint on it to the EvaluationRoleArn output"
            )
