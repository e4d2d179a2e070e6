"""The foundation-model evaluation job: the repo's evaluation/ package as a container image, run as a processing job.

CDK stages the image at synth (no Docker needed) and builds and pushes it at deploy. The job reads the model to score
from `$.evaluation` (endpoint name, optional inference component), writes report.json to a per-execution prefix.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.sagemaker_role import SageMakerExecutionRole
from config.evaluation import FoundationModelEvaluationConfig
from sagemaker_requests.processing import (
    PROCESSING_ROOT,
    ProcessingPlacement,
    processing_request,
    s3_input,
    s3_output,
)
from sagemaker_requests.shapes import ProcessingInput

EVALUATION_SOURCE = Path(__file__).resolve().parent.parent / "evaluation"
REPORTS_PREFIX = "evaluation-reports"
DATASETS_PATH = f"{PROCESSING_ROOT}/input/datasets"
REPORT_PATH = f"{PROCESSING_ROOT}/output/report"


class FoundationModelEvaluationJob(Construct):
    """The evaluation image (built from `evaluation/` at deploy) and the CreateProcessingJob request that runs it.

    Args:
        settings: thresholds, prompts, payload format, generation length, dataset prefix and job resources.
        placement: role, KMS key, subnets and security groups the job runs with.
        role: the job's role; granted pull on the image repository.
        datasets_bucket: holds `settings.datasets_prefix` (optional: without it the job uses its bundled samples).
        reports_bucket: receives `evaluation-reports/<execution>/report.json`.

    Attributes:
        image: the DockerImageAsset.
        request: the CreateProcessingJob request (network on: the job calls the endpoint through the VPC endpoint).
        report_key_format: `evaluation-reports/{}/{}/report.json` (state machine, execution); report_key_path: the
            intrinsic with both names filled in.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: FoundationModelEvaluationConfig,
        placement: ProcessingPlacement,
        role: SageMakerExecutionRole,
        datasets_bucket: s3.IBucket,
        reports_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.image = ecr_assets.DockerImageAsset(
            self,
            "Image",
            directory=str(EVALUATION_SOURCE),
            platform=ecr_assets.Platform.LINUX_AMD64,
            ignore_mode=cdk.IgnoreMode.DOCKER,
            exclude=["__pycache__", "**/__pycache__"],
        )
        role.grant_pull([self.image.repository.repository_arn])

        arguments = [f"--threshold={metric}={value}" for metric, value in settings.thresholds.items()]
        arguments += [f"--prompt={metric}={template}" for metric, template in settings.prompts.items()]
        arguments += [
            f"--payload-format={settings.payload_format}",
            f"--max-new-tokens={settings.max_new_tokens}",
            f"--perturbations-per-kind={settings.perturbations_per_kind}",
            f"--datasets={DATASETS_PATH}",
            f"--output={REPORT_PATH}",
        ]
        if settings.max_records is not None:
            arguments.append(f"--max-records={settings.max_records}")

        inputs: list[ProcessingInput] = []
        if settings.datasets_prefix is not None:
            inputs.append(
                s3_input("datasets", DATASETS_PATH, s3_uri=datasets_bucket.s3_url_for_object(settings.datasets_prefix))
            )
        # One report per execution: the key is derived from the state machine's and the execution's names, so the
        # workflow can read it back without knowing where a caller stored the job's result, and two workflows' runs
        # of the same name (execution names are unique per state machine only) never overwrite each other's report.
        self.report_key_format = f"{REPORTS_PREFIX}/{{}}/{{}}/report.json"
        self.report_key_path = f"States.Format('{self.report_key_format}', $$.StateMachine.Name, $$.Execution.Name)"
        self.request = processing_request(
            name_prefix="fm-evaluation",
            image_uri=self.image.image_uri,
            placement=placement,
            resources=settings.resources,
            inputs=inputs,
            outputs=[
                s3_output(
                    "report",
                    REPORT_PATH,
                    s3_uri_path=(
                        f"States.Format('s3://{reports_bucket.bucket_name}/{REPORTS_PREFIX}/{{}}/{{}}', "
                        "$$.StateMachine.Name, $$.Execution.Name)"
                    ),
                )
            ],
            # The job calls the endpoint through the SageMaker runtime VPC endpoint: it needs the network.
            network_isolation=False,
            environment={
                "EVALUATION_TARGET.$": "States.JsonToString($.evaluation)",
                "EXECUTION_ID.$": "$$.Execution.Id",
                "AWS_DEFAULT_REGION": cdk.Stack.of(self).region,
            },
            arguments=arguments,
            purpose="fm-evaluation",
        )
