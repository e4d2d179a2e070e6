"""Clarify processing jobs: data bias (pre-training), model bias (post-training) and SHAP explainability.

Clarify sends CSV / JSON Lines rows of the tabular dataset, so model bias and SHAP query the tabular classifier named in
`evaluation.clarify.predictor.endpoint_name` — never the LLM a run's `$.evaluation` names for fmeval. Without that
endpoint they are left out (`model_requests` is empty) and only data bias, which calls no model, runs. Every analysis
config is fixed at synth, validated, and deployed with the stack.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_constructs.config_objects import ConfigObjects
from config.evaluation import ClarifyConfig
from sagemaker_requests import clarify_analysis_config as analysis
from sagemaker_requests.processing import ProcessingPlacement, processing_request, s3_input, s3_output
from sagemaker_requests.shapes import CreateProcessingJobRequest, ProcessingInput

RUNS_PREFIX = "clarify/runs"


class ClarifyJobs(Construct):
    """The CreateProcessingJob requests of the Clarify jobs (no resources of its own but the static config object).

    Args:
        clarify: the Clarify settings (dataset, facets, predictor, optional SHAP, job resources).
        image_uri: the Clarify processing image of the stack's region.
        placement: role, KMS key, subnets and security groups every job runs with.
        datasets_bucket: holds `clarify.dataset_key`.
        results_bucket: where results go (`clarify/runs/<execution>/<kind>/result`).
        config_objects: collects the synth-time data-bias config (deployed under its prefix).

    Attributes:
        data_bias_request: the data-bias job (network isolated: it calls no model).
        model_configs: kind -> analysis config of the jobs that query the configured tabular endpoint
            (`model_bias`, and `explainability` when SHAP is configured); empty without `predictor.endpoint_name`.
            Written at synth time like the data-bias config: the endpoint is the config's, not a run's.
        model_requests: kind -> the job request that reads that config (not isolated: it queries the endpoint
            through the SageMaker runtime VPC endpoint).
        results_bucket: as given.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        clarify: ClarifyConfig,
        image_uri: str,
        placement: ProcessingPlacement,
        datasets_bucket: s3.IBucket,
        results_bucket: s3.IBucket,
        config_objects: ConfigObjects,
    ) -> None:
        super().__init__(scope, construct_id)
        self.results_bucket = results_bucket
        dataset_uri = datasets_bucket.s3_url_for_object(clarify.dataset_key)
        dataset = s3_input("dataset", analysis.DATA_INPUT, s3_uri=dataset_uri, data_type="S3Prefix")

        def request(
            kind: str, prefix: str, config_input: ProcessingInput, *, isolated: bool
        ) -> CreateProcessingJobRequest:
            return processing_request(
                name_prefix=prefix,
                image_uri=image_uri,
                placement=placement,
                resources=clarify.resources,
                inputs=[dataset, config_input],
                outputs=[
                    s3_output(
                        "analysis_result",
                        analysis.RESULT_OUTPUT,
                        s3_uri_path=(
                            f"States.Format('s3://{results_bucket.bucket_name}/{RUNS_PREFIX}/{{}}/{kind}/result', "
                            "$$.Execution.Name)"
                        ),
                    )
                ],
                network_isolation=isolated,
                purpose=f"clarify-{kind.replace('_', '-')}",
            )

        static_uri = config_objects.add("data_bias/analysis_config.json", analysis.data_bias(clarify))
        # No model is called: the job reads only its S3 channels, so the container gets no network at all.
        self.data_bias_request = request(
            "data_bias",
            "clarify-data-bias",
            s3_input("analysis_config", analysis.CONFIG_INPUT, s3_uri=static_uri, data_type="S3Prefix"),
            isolated=True,
        )

        self.model_configs: dict[str, dict[str, Any]] = {}
        if clarify.predictor.endpoint_name is not None:
            self.model_configs["model_bias"] = analysis.model_bias(clarify)
            if clarify.shap is not None:
                self.model_configs["explainability"] = analysis.explainability(clarify)

        # These query the tabular endpoint through the SageMaker runtime VPC endpoint, so they need the network.
        self.model_requests: dict[str, CreateProcessingJobRequest] = {
            kind: request(
                kind,
                f"clarify-{kind.replace('_', '-')}",
                s3_input(
                    "analysis_config",
                    analysis.CONFIG_INPUT,
                    s3_uri=config_objects.add(f"{kind}/analysis_config.json", document),
                    data_type="S3Prefix",
                ),
                isolated=False,
            )
            for kind, document in self.model_configs.items()
        }
