"""Settings of model evaluation: Clarify bias/explainability, foundation-model evaluation thresholds, monitoring,
and the Bedrock guardrail. Metric names, directions and risks come from `evaluation.catalog` (shared with the job)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from config.base import StrictModel
from evaluation.catalog import METRICS, PAYLOAD_FORMATS, servable_metrics

# Clarify's bias metrics (SageMaker Clarify docs, "Pre-training bias metrics" / "Post-training data and model bias
# metrics", checked 2026-11).
PRE_TRAINING_METRICS = ("CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL")
POST_TRAINING_METRICS = ("DPPL", "DI", "DCA", "DCR", "RD", "DAR", "DRR", "AD", "CDDPL", "TE", "FT", "GE")
# ProcessingStoppingCondition.MaxRuntimeInSeconds: shape ProcessingMaxRuntimeInSeconds, max 777600 (9 days), in
# botocore 1.44.8 (botocore/data/sagemaker/2017-07-24/service-2.json; tests/test_service_model.py compares).
PROCESSING_MAX_RUNTIME = 777_600
MAX_ARGUMENT = 256  # characters per ContainerArguments item (CreateProcessingJob)
S3_KEY = r"^[A-Za-z0-9!_.*'()/-]{1,1024}$"
Scalar = str | int | float


def _known(kind: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {kind} {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}")
    if len(set(values)) != len(values):
        raise ValueError(f"{kind} listed twice")
    return values


def _instance_type(value: str) -> str:
    if not re.fullmatch(r"ml\.[a-z0-9]+\.[a-z0-9]+", value):
        raise ValueError("a SageMaker instance type looks like ml.m5.xlarge")
    return value


class JobResources(StrictModel):
    """The size and time limit of one processing job."""

    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(1, ge=1, le=100)
    volume_size_gb: int = Field(30, ge=1, le=16384)
    max_runtime_seconds: int = Field(3600, ge=60, le=PROCESSING_MAX_RUNTIME)

    @field_validator("instance_type")
    @classmethod
    def _instance(cls, value: str) -> str:
        return _instance_type(value)


# ---------------------------------------------------------------------------------------------------------- Clarify
class ClarifyFacet(StrictModel):
    name: str = Field(min_length=1, description="A column of `headers`: the sensitive attribute.")
    values: list[Scalar] | None = Field(
        None, min_length=1, description="The sensitive group(s); a single number is a threshold. None: every value."
    )


class ClarifyPredictor(StrictModel):
    """The tabular model Clarify queries for model bias and SHAP (and Model Monitor watches), and how it is called.

    Clarify sends CSV or JSON Lines rows of the dataset, so the target is a tabular classifier, never the LLM the
    foundation-model evaluation scores: without `endpoint_name` the model-bias and SHAP jobs are left out.
    """

    endpoint_name: str | None = Field(
        None,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
        description="An existing single-model endpoint serving the tabular classifier (deployed outside this app).",
    )

    content_type: Literal["text/csv", "application/jsonlines"] = "text/csv"
    accept_type: Literal["text/csv", "application/jsonlines"] = "text/csv"
    label: Scalar | None = Field(None, description="Index (CSV) or JMESPath (JSON) of the predicted label.")
    probability: Scalar | None = Field(None, description="Index or JMESPath of the predicted probability.")
    probability_threshold: float | None = Field(None, gt=0, lt=1)
    content_template: str | None = Field(None, description="JSON Lines request template; must contain $features.")

    @model_validator(mode="before")
    @classmethod
    def _no_inference_component(cls, data: object) -> object:
        if isinstance(data, dict) and ("inference_component_name" in data or "target_model" in data):
            raise ValueError(
                "Clarify cannot call an inference component: its analysis config's predictor names an endpoint "
                "(endpoint_name, or model_name for a shadow endpoint) and has no inference-component key "
                "(aws/sagemaker-python-sdk v2.253.1 src/sagemaker/clarify.py ANALYSIS_CONFIG_SCHEMA_V1_0 'predictor'), "
                "and Model Monitor's EndpointInput has no InferenceComponentName either. Fix: serve the tabular "
                "classifier on its own single-model endpoint and give its name as predictor.endpoint_name"
            )
        return data

    @model_validator(mode="after")
    def _template(self) -> ClarifyPredictor:
        if self.content_type == "application/jsonlines" and "$features" not in (self.content_template or ""):
            raise ValueError(
                f"content_type application/jsonlines needs content_template with $features, got "
                f"{self.content_template!r}, e.g. '{{\"features\":$features}}'"
            )
        return self


class ShapSettings(StrictModel):
    baseline: list[list[Scalar]] = Field(min_length=1, description="Baseline rows: one value per feature column.")
    num_samples: int = Field(100, ge=1, le=10000)
    agg_method: Literal["mean_abs", "median", "mean_sq"] = "mean_abs"
    use_logit: bool = False
    save_local_shap_values: bool = True
    seed: int = 123


class ClarifyConfig(StrictModel):
    """Data bias (pre-training), model bias (post-training) and SHAP on a tabular dataset in the datasets bucket."""

    dataset_key: str = Field(pattern=S3_KEY, description="Key of the dataset (CSV without header row, or JSON Lines).")
    dataset_type: Literal["text/csv", "application/jsonlines"] = "text/csv"
    headers: list[str] = Field(min_length=2, description="Every column in order, the label included.")
    features: str | None = Field(None, description="JSON Lines only: JMESPath of the feature array.")
    label: str
    label_values_or_threshold: list[Scalar] = Field(min_length=1, description="The positive outcome(s).")
    facets: list[ClarifyFacet] = Field(min_length=1)
    group_variable: str | None = Field(None, description="A column for the conditional metrics CDDL and CDDPL.")
    pre_training_methods: list[str] = Field(default_factory=lambda: list(PRE_TRAINING_METRICS), min_length=1)
    post_training_methods: list[str] = Field(default_factory=lambda: list(POST_TRAINING_METRICS), min_length=1)
    predictor: ClarifyPredictor = ClarifyPredictor()
    shap: ShapSettings | None = None
    resources: JobResources = JobResources()

    @field_validator("pre_training_methods")
    @classmethod
    def _pre(cls, value: list[str]) -> list[str]:
        return _known("pre-training bias metric", value, PRE_TRAINING_METRICS)

    @field_validator("post_training_methods")
    @classmethod
    def _post(cls, value: list[str]) -> list[str]:
        return _known("post-training bias metric", value, POST_TRAINING_METRICS)

    @model_validator(mode="after")
    def _columns(self) -> ClarifyConfig:
        """label, facets, group_variable and the SHAP baseline all refer to `headers`."""
        columns = set(self.headers)
        problems = []
        if len(columns) != len(self.headers):
            problems.append(f"headers has duplicates: {self.headers}")
        if self.label not in columns:
            problems.append(f"label {self.label!r} is not one of headers {self.headers}")
        for i, facet in enumerate(self.facets):
            if facet.name not in columns:
                problems.append(f"facets[{i}].name {facet.name!r} is not one of headers {self.headers}")
            elif facet.name == self.label:
                problems.append(f"facets[{i}].name {facet.name!r} is the label; a facet must be a feature")
        if self.group_variable is not None and self.group_variable not in columns:
            problems.append(f"group_variable {self.group_variable!r} is not one of headers {self.headers}")
        features = len(self.headers) - 1
        for i, row in enumerate(self.shap.baseline if self.shap else []):
            if len(row) != features:
                problems.append(
                    f"shap.baseline[{i}] has {len(row)} values; the model takes {features} features "
                    f"(headers without the label {self.label!r})"
                )
        if (self.dataset_type == "application/jsonlines") != (self.features is not None):
            problems.append("features (a JMESPath) is required for dataset_type application/jsonlines and only then")
        if problems:
            raise ValueError("; ".join(problems))
        return self


# ---------------------------------------------------------------------------------- foundation-model evaluation
class FoundationModelEvaluationConfig(StrictModel):
    """fmeval on a deployed endpoint; thresholds gate the lifecycle and the on-demand workflow's verdict."""

    thresholds: dict[str, float] = Field(
        default_factory=lambda: {name: METRICS[name].default_threshold for name in servable_metrics("tgi")},
        min_length=1,
        description="Metric -> threshold; only these metrics run. Default: every metric the default server can serve.",
    )
    payload_format: str = Field("tgi", description=f"Request/response shape: {', '.join(PAYLOAD_FORMATS)}.")
    prompts: dict[str, str] = Field(default_factory=dict, description="Metric -> template with $model_input.")
    datasets_prefix: str | None = Field(
        None,
        pattern=S3_KEY,
        description="Prefix in the datasets bucket with custom <dataset>.jsonl files.",
    )
    max_records: int | None = Field(None, ge=1, le=100_000)
    max_new_tokens: int = Field(64, ge=1, le=4096)
    perturbations_per_kind: int = Field(2, ge=1, le=10)
    resources: JobResources = JobResources(instance_type="ml.m5.2xlarge", max_runtime_seconds=7200)

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        problems = [f"unknown metric {name!r}" for name in value if name not in METRICS]
        problems += [
            f"{name} = {threshold}: a threshold is a score from 0 to 1 (direction "
            f"{METRICS[name].direction.value}: a score {'>=' if METRICS[name].direction == 'min' else '<='} "
            "the threshold passes)"
            for name, threshold in value.items()
            if name in METRICS and not 0 <= threshold <= 1
        ]
        if problems:
            raise ValueError(f"{'; '.join(problems)}; metrics: {', '.join(METRICS)}")
        return value

    @field_validator("payload_format")
    @classmethod
    def _format(cls, value: str) -> str:
        if value not in PAYLOAD_FORMATS:
            raise ValueError(f"unknown payload format; known: {', '.join(PAYLOAD_FORMATS)}")
        return value

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: dict[str, str]) -> dict[str, str]:
        for metric, template in value.items():
            if metric not in METRICS or METRICS[metric].needs_log_probabilities:
                raise ValueError(
                    f"no prompt for {metric!r}; prompts apply to "
                    f"{', '.join(n for n, m in METRICS.items() if not m.needs_log_probabilities)}"
                )
            if "$model_input" not in template:
                raise ValueError(f"prompts.{metric} must contain $model_input, got {template!r}")
            if len(argument := f"--prompt={metric}={template}") > MAX_ARGUMENT:
                raise ValueError(
                    f"prompts.{metric} is {len(template)} characters; a container argument holds "
                    f"{MAX_ARGUMENT} ({len(argument)} with its flag): shorten it"
                )
        return value

    @model_validator(mode="after")
    def _log_probabilities(self) -> FoundationModelEvaluationConfig:
        """A metric the server cannot serve is refused here, not on the first record of a paid run."""
        fmt = PAYLOAD_FORMATS[self.payload_format]
        possible = servable_metrics(self.payload_format)
        needs = [n for n in self.thresholds if n not in possible]
        if needs:
            raise ValueError(
                f"thresholds has {', '.join(needs)}, which needs the prompt's log probabilities, but {fmt.server} "
                f"(payload_format {self.payload_format!r}) returns none ({fmt.evidence}); metrics this server can "
                f"serve: {', '.join(possible)}. Fix: drop {', '.join(needs)} from thresholds"
            )
        return self


# ------------------------------------------------------------------------------------------------------ monitoring
class MonitoringBaseline(StrictModel):
    """A baseline produced by a baselining job, stored in the evaluation bucket."""

    constraints_key: str = Field(pattern=S3_KEY)
    statistics_key: str | None = Field(None, pattern=S3_KEY)


class ModelQualitySettings(StrictModel):
    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"]
    baseline: MonitoringBaseline
    probability_threshold: float | None = Field(None, gt=0, lt=1)


ISO_OFFSET = r"^-P(\d+D)?(T(\d+H)?(\d+M)?)?$"


class MonitoringConfig(StrictModel):
    """Schedules on the captured data of the tabular model `evaluation.clarify.predictor.endpoint_name`; bias and
    quality need ground truth under `ground_truth_prefix`.

    That endpoint must capture its requests and responses (DataCaptureConfig) to the platform's data-capture bucket
    under `capture_prefix`, encrypted with the platform key: the monitoring jobs' role may read only there.
    """

    schedule: Literal["hourly", "daily"] = "hourly"
    model_bias: bool = True
    model_explainability: bool = True
    data_quality_baseline: MonitoringBaseline | None = None
    model_quality: ModelQualitySettings | None = None
    capture_prefix: str = Field(
        "data-capture/tabular/",
        pattern=S3_KEY,
        description="Where the monitored endpoint's DataCaptureConfig writes, in the platform's data-capture bucket.",
    )
    ground_truth_prefix: str = Field("ground-truth/", pattern=S3_KEY, description="In the evaluation bucket.")
    baselines_prefix: str = Field("monitoring/baselines/", pattern=S3_KEY)
    start_time_offset: str = Field("-PT2H", pattern=ISO_OFFSET, description="Captured data window start (ISO 8601).")
    end_time_offset: str = Field("-PT1H", pattern=ISO_OFFSET)
    features_attribute: str | None = Field(
        None, description="JMESPath of the features in captured JSON requests (model bias and explainability only)."
    )
    inference_attribute: str | None = Field(None, description="JMESPath or index of the prediction in responses.")
    probability_attribute: str | None = None
    resources: JobResources = JobResources(max_runtime_seconds=1800)

    @model_validator(mode="after")
    def _features_attribute_reaches_every_monitor(self) -> MonitoringConfig:
        """CloudFormation cannot carry FeaturesAttribute to data quality: refuse rather than silently drop it.

        aws-cdk-lib 2.275.0 (generated from the CloudFormation spec): CfnDataQualityJobDefinition.EndpointInputProperty
        has only endpoint_name, local_path, exclude_features_attribute, s3_data_distribution_type, s3_input_mode,
        although the CreateDataQualityJobDefinition API has FeaturesAttribute. Data quality would then profile the
        whole captured JSON document instead of the features.
        """
        if self.features_attribute is not None and self.data_quality_baseline is not None:
            raise ValueError(
                f"features_attribute = {self.features_attribute!r} cannot reach the data-quality monitor: "
                "AWS::SageMaker::DataQualityJobDefinition's EndpointInput has no FeaturesAttribute, so data quality "
                "would profile the whole captured JSON. Fix: have the endpoint accept (and capture) text/csv rows "
                "and drop features_attribute, or set data_quality_baseline to null"
            )
        return self

    @model_validator(mode="after")
    def _runtime_fits_schedule(self) -> MonitoringConfig:
        if self.schedule == "hourly" and self.resources.max_runtime_seconds > 3600:
            raise ValueError(
                f"resources.max_runtime_seconds = {self.resources.max_runtime_seconds} but schedule 'hourly' allows "
                "at most 3600 s per run; lower it or use schedule 'daily'"
            )
        return self


# ------------------------------------------------------------------------------------------------------- guardrail
FilterStrength = Literal["NONE", "LOW", "MEDIUM", "HIGH"]
CONTENT_FILTERS = ("HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT")


def _all_filters(strength: FilterStrength) -> dict[str, FilterStrength]:
    return dict.fromkeys(CONTENT_FILTERS, strength)


class DeniedTopic(StrictModel):
    name: str = Field(pattern=r"^[0-9a-zA-Z\-_ !?.]{1,100}$")
    definition: str = Field(min_length=1, max_length=1000)
    examples: list[str] = Field(default_factory=list, max_length=5)

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        if any(not 1 <= len(e) <= 100 for e in value):
            raise ValueError("each example is 1 to 100 characters")
        return value


class GuardrailConfig(StrictModel):
    """A Bedrock guardrail the operator applies (ApplyGuardrail) to prompts and completions of the endpoint."""

    filters: dict[str, FilterStrength] = Field(default_factory=lambda: _all_filters("HIGH"))
    prompt_attack: FilterStrength = "HIGH"
    denied_topics: list[DeniedTopic] = Field(min_length=1, max_length=30)
    grounding_threshold: float = Field(0.75, ge=0, le=0.99, description="Contextual grounding (hallucination).")
    relevance_threshold: float = Field(0.75, ge=0, le=0.99)
    blocked_input_message: str = Field("This request was blocked by the content policy.", max_length=500)
    blocked_output_message: str = Field("The response was blocked by the content policy.", max_length=500)

    @field_validator("filters")
    @classmethod
    def _all_categories(cls, value: dict[str, str]) -> dict[str, str]:
        unknown, missing = set(value) - set(CONTENT_FILTERS), set(CONTENT_FILTERS) - set(value)
        if unknown or missing:
            raise ValueError(
                f"give a strength for exactly {', '.join(CONTENT_FILTERS)}; unknown: "
                f"{', '.join(sorted(unknown)) or '-'}; missing: {', '.join(sorted(missing)) or '-'}"
            )
        return value


# --------------------------------------------------------------------------------------------------------- section
class EvaluationConfig(StrictModel):
    foundation_model: FoundationModelEvaluationConfig = FoundationModelEvaluationConfig()
    clarify: ClarifyConfig | None = None
    monitoring: MonitoringConfig | None = None
    guardrail: GuardrailConfig | None = None

    @model_validator(mode="after")
    def _monitoring_needs_a_tabular_target(self) -> EvaluationConfig:
        if self.monitoring is None:
            return self
        if self.clarify is None or self.clarify.predictor.endpoint_name is None:
            raise ValueError(
                "monitoring watches the tabular model named in evaluation.clarify.predictor.endpoint_name (model "
                "bias and SHAP drift need its label, facets and baseline; data and model quality its captured rows), "
                "which is not set; add a clarify section with predictor.endpoint_name, or set monitoring to null"
            )
        if self.monitoring.model_explainability and self.clarify.shap is None:
            raise ValueError(
                "monitoring.model_explainability needs clarify.shap (the SHAP baseline); add it or set "
                "monitoring.model_explainability to false"
            )
        return self
