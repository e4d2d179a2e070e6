"""SageMaker Clarify's analysis_config.json, generated from the typed config and validated before it is written.

Clarify reads the file from the processing input named `analysis_config` (LocalPath /opt/ml/processing/input/config),
the dataset from the input `dataset` (/opt/ml/processing/input/data) and writes analysis.json and report.* to the
output `analysis_result` (/opt/ml/processing/output). Schema: SageMaker docs "Analysis configuration files"
(clarify-processing-job-configure-analysis, checked 2026-11).
"""

from __future__ import annotations

from typing import Any

from config.evaluation import POST_TRAINING_METRICS, PRE_TRAINING_METRICS, ClarifyConfig
from neuron.errors import UserError

CONFIG_INPUT = "/opt/ml/processing/input/config"
DATA_INPUT = "/opt/ml/processing/input/data"
RESULT_OUTPUT = "/opt/ml/processing/output"


class AnalysisConfigError(UserError):
    pass


def _common(clarify: ClarifyConfig) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": "1.0",
        "dataset_type": clarify.dataset_type,
        "headers": list(clarify.headers),
        "label": clarify.label,
    }
    if clarify.features is not None:
        config["features"] = clarify.features
    return config


def _bias_fields(clarify: ClarifyConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "label_values_or_threshold": list(clarify.label_values_or_threshold),
        "facet": [
            {"name_or_index": f.name, **({"value_or_threshold": list(f.values)} if f.values else {})}
            for f in clarify.facets
        ],
    }
    if clarify.group_variable is not None:
        fields["group_variable"] = clarify.group_variable
    if clarify.predictor.probability_threshold is not None:
        fields["probability_threshold"] = clarify.predictor.probability_threshold
    return fields


def predictor(clarify: ClarifyConfig, *, scores: bool = True) -> dict[str, Any]:
    """The tabular model Clarify queries: `predictor.endpoint_name`, an existing single-model endpoint.

    `scores=False` leaves out where the answer's label/probability sits: Model Monitor takes that from the schedule's
    EndpointInput (InferenceAttribute / ProbabilityAttribute) instead, as the SDK's ExplainabilityMonitor does.
    """
    p = clarify.predictor
    if p.endpoint_name is None:
        raise AnalysisConfigError(
            "model bias and SHAP need a tabular model to query: set evaluation.clarify.predictor.endpoint_name"
        )
    config: dict[str, Any] = {
        "endpoint_name": p.endpoint_name,
        "content_type": p.content_type,
        "accept_type": p.accept_type,
    }
    keys = ("label", "probability", "content_template") if scores else ("content_template",)
    for key in keys:
        if getattr(p, key) is not None:
            config[key] = getattr(p, key)
    return config


def _shap(clarify: ClarifyConfig) -> dict[str, Any]:
    assert clarify.shap is not None
    s = clarify.shap
    return {
        "shap": {
            "baseline": [list(r) for r in s.baseline],
            "num_samples": s.num_samples,
            "agg_method": s.agg_method,
            "use_logit": s.use_logit,
            "save_local_shap_values": s.save_local_shap_values,
            "seed": s.seed,
        }
    }


def data_bias(clarify: ClarifyConfig) -> dict[str, Any]:
    """Pre-training bias: the dataset alone, no model."""
    return validate(
        {
            **_common(clarify),
            **_bias_fields(clarify),
            "methods": {
                "pre_training_bias": {"methods": list(clarify.pre_training_methods)},
                "report": {"name": "report", "title": "Data bias (pre-training)"},
            },
        }
    )


def model_bias(clarify: ClarifyConfig) -> dict[str, Any]:
    return validate(
        {
            **_common(clarify),
            **_bias_fields(clarify),
            "methods": {
                "post_training_bias": {"methods": list(clarify.post_training_methods)},
                "report": {"name": "report", "title": "Model bias (post-training)"},
            },
            "predictor": predictor(clarify),
        }
    )


def explainability(clarify: ClarifyConfig) -> dict[str, Any]:
    if clarify.shap is None:
        raise AnalysisConfigError("explainability needs evaluation.clarify.shap (baseline rows)")
    return validate(
        {
            **_common(clarify),
            "methods": {**_shap(clarify), "report": {"name": "report", "title": "Explainability (SHAP)"}},
            "predictor": predictor(clarify),
        }
    )


def feature_headers(clarify: ClarifyConfig) -> list[str]:
    return [h for h in clarify.headers if h != clarify.label]


def monitoring_bias(clarify: ClarifyConfig) -> dict[str, Any]:
    """Model Monitor's bias-drift config, the shape the SDK builds (sagemaker-python-sdk v2.253.1
    model_monitor/clarify_model_monitoring.py BiasAnalysisConfig:887-901: BiasConfig.get_config() plus headers and
    label). The captured predictions are the model's, so no predictor; the probability threshold goes to the
    schedule's EndpointInput (ProbabilityThresholdAttribute), and the monitor computes its own post-training metrics
    (the SDK sends no `methods`)."""
    config: dict[str, Any] = {**_bias_fields(clarify), "headers": list(clarify.headers), "label": clarify.label}
    config.pop("probability_threshold", None)
    return validate_monitoring(config, kind="bias", clarify=clarify)


def monitoring_explainability(clarify: ClarifyConfig) -> dict[str, Any]:
    """Model Monitor's attribution-drift config, the shape the SDK builds (ExplainabilityAnalysisConfig:1337-1358 and
    ExplainabilityMonitor.suggest_baseline:970-973): methods.shap, the predictor, and `headers` = the FEATURE columns
    only: "Explainability analysis does not require labels" (AWS docs, "Parameters to Monitor Attribution Drift",
    clarify-config-json-monitor-model-explainability-parameters), and captured rows carry no label."""
    config = {
        "methods": _shap(clarify),
        "predictor": predictor(clarify, scores=False),
        "headers": feature_headers(clarify),
    }
    return validate_monitoring(config, kind="explainability", clarify=clarify)


def validate_monitoring(config: dict[str, Any], *, kind: str, clarify: ClarifyConfig) -> dict[str, Any]:
    """Check a monitoring config against its monitor type's contract; raise naming every problem."""
    problems: list[str] = []
    headers = config.get("headers") or []
    if kind == "explainability":
        if clarify.label in headers:
            problems.append(f"headers must be the features only; the label {clarify.label!r} is among them")
        extra = set(config) - {"methods", "predictor", "headers"}
        if extra:
            problems.append(f"keys {sorted(extra)} are not part of the attribution-drift config")
        bad = [i for i, row in enumerate(config["methods"]["shap"].get("baseline", [])) if len(row) != len(headers)]
        if bad:
            problems.append(f"shap.baseline rows {bad} must have {len(headers)} values (one per feature)")
        if not config.get("predictor", {}).get("endpoint_name"):
            problems.append("predictor needs endpoint_name")
    else:
        if config.get("label") not in headers:
            problems.append(f"label {config.get('label')!r} is not in headers")
        if not config.get("facet") or not config.get("label_values_or_threshold"):
            problems.append("bias drift needs facet and label_values_or_threshold")
        extra = set(config) - {"label_values_or_threshold", "facet", "group_variable", "headers", "label"}
        if extra:
            problems.append(f"keys {sorted(extra)} are not part of the bias-drift config")
    if problems:
        raise AnalysisConfigError(f"invalid {kind}-drift monitoring config: " + "; ".join(problems))
    return config


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Check the document Clarify will read; raise naming every problem. Returns the config unchanged."""
    problems: list[str] = []
    headers = config.get("headers") or []
    if config.get("version") != "1.0":
        problems.append("version must be '1.0'")
    if config.get("dataset_type") not in ("text/csv", "application/jsonlines"):
        problems.append(f"dataset_type {config.get('dataset_type')!r} is not text/csv or application/jsonlines")
    if config.get("label") not in headers:
        problems.append(f"label {config.get('label')!r} is not in headers")
    for facet in config.get("facet", []):
        if facet.get("name_or_index") not in headers:
            problems.append(f"facet {facet.get('name_or_index')!r} is not in headers")
    methods = config.get("methods") or {}
    analyses = set(methods) - {"report"}
    if not analyses:
        problems.append("methods names no analysis")
    allowed = {"pre_training_bias": PRE_TRAINING_METRICS, "post_training_bias": POST_TRAINING_METRICS}
    for analysis, known in allowed.items():
        unknown = [m for m in methods.get(analysis, {}).get("methods", []) if m not in known]
        if unknown:
            problems.append(f"methods.{analysis} has unknown metrics {unknown}")
    if analyses & {"pre_training_bias", "post_training_bias"} and not config.get("facet"):
        problems.append("bias analysis needs at least one facet")
    if analyses & {"pre_training_bias", "post_training_bias"} and not config.get("label_values_or_threshold"):
        problems.append("bias analysis needs label_values_or_threshold")
    needs_model = "shap" in analyses or ("post_training_bias" in analyses and "predictor" in config)
    p = config.get("predictor")
    if "shap" in analyses and p is None:
        problems.append("shap needs a predictor")
    if needs_model and p is not None and not ({"endpoint_name", "model_name"} & set(p)):
        problems.append("predictor needs endpoint_name or model_name")
    if "shap" in analyses:
        width = len(headers) - 1
        bad = [i for i, row in enumerate(methods["shap"].get("baseline", [])) if len(row) != width]
        if bad or not methods["shap"].get("baseline"):
            problems.append(f"shap.baseline rows {bad or '(none)'} must have {width} values (one per feature)")
    if problems:
        raise AnalysisConfigError("invalid Clarify analysis config: " + "; ".join(problems))
    return config
