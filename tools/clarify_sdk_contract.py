"""Compare the Model Monitor analysis configs this app deploys with what the SageMaker SDK builds for the same
settings: `python -m tools.clarify_sdk_contract PYTHON [PROFILE]`, PYTHON being an interpreter with sagemaker==2.253.1
(the evaluation venv of `make eval-smoke` has it from evaluation/requirements.lock).

The SDK's builders (model_monitor/clarify_model_monitoring.py BiasAnalysisConfig, ExplainabilityAnalysisConfig, and
ExplainabilityMonitor.suggest_baseline, which drops the label from the headers) run in that interpreter; the app's
(sagemaker_requests/clarify_analysis_config.py) here. Exit 1 with both documents when they differ.
"""

from __future__ import annotations

import json
import subprocess
import sys

from config import load_config
from sagemaker_requests import clarify_analysis_config as analysis

SDK_BUILDERS = """
import json, logging, sys
logging.disable(logging.CRITICAL)
from sagemaker import clarify
from sagemaker.model_monitor.clarify_model_monitoring import BiasAnalysisConfig, ExplainabilityAnalysisConfig
s = json.loads(sys.argv[1])
bias = clarify.BiasConfig(
    label_values_or_threshold=s["label_values"],
    facet_name=[f["name"] for f in s["facets"]],
    facet_values_or_threshold=[f["values"] for f in s["facets"]],
    group_name=s["group_variable"],
)
shap = clarify.SHAPConfig(
    baseline=s["shap"]["baseline"], num_samples=s["shap"]["num_samples"], agg_method=s["shap"]["agg_method"],
    use_logit=s["shap"]["use_logit"], save_local_shap_values=s["shap"]["save_local_shap_values"],
    seed=s["shap"]["seed"],
)
model = clarify.ModelConfig(
    endpoint_name=s["endpoint_name"], content_type=s["content_type"], accept_type=s["accept_type"]
)
features = [h for h in s["headers"] if h != s["label"]]  # as ExplainabilityMonitor.suggest_baseline does
print(json.dumps({
    "bias": BiasAnalysisConfig(bias, headers=s["headers"], label=s["label"])._to_dict(),
    "explainability": ExplainabilityAnalysisConfig(shap, model, headers=features)._to_dict(),
}))
"""


def main(argv: list[str]) -> int:
    python, profile = argv[0], (argv[1] if len(argv) > 1 else "monitoring")
    evaluation = load_config(profile, environ={}).evaluation
    if evaluation is None or evaluation.clarify is None or evaluation.clarify.shap is None:
        raise SystemExit(f"profile {profile!r} has no evaluation.clarify with shap")
    c, shap = evaluation.clarify, evaluation.clarify.shap
    settings = {
        "label_values": c.label_values_or_threshold,
        "facets": [{"name": f.name, "values": f.values} for f in c.facets],
        "group_variable": c.group_variable,
        "headers": c.headers,
        "label": c.label,
        "shap": shap.model_dump(),
        "endpoint_name": c.predictor.endpoint_name,
        "content_type": c.predictor.content_type,
        "accept_type": c.predictor.accept_type,
    }
    result = subprocess.run(
        [python, "-c", SDK_BUILDERS, json.dumps(settings)], capture_output=True, text=True, check=True
    )
    sdk = json.loads(result.stdout.strip().splitlines()[-1])
    ours = {"bias": analysis.monitoring_bias(c), "explainability": analysis.monitoring_explainability(c)}
    if sdk != ours:
        print(json.dumps({"sdk": sdk, "app": ours}, indent=2, sort_keys=True))
        return 1
    print(f"profile {profile!r}: bias-drift and attribution-drift configs equal the SDK's builders")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
