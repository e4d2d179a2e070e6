"""Clarify: analysis_config.json generated from the config and validated, and the jobs' channels, image and guards."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from config import load_config
from config.evaluation import ClarifyConfig
from sagemaker_requests import clarify_analysis_config as analysis
from tests.support.harness import Synthesized, synth
from tests.support.rendered_requests import as_sent, definition, processing_states
from tests.support.state_machines import deployed, platform_bucket, platform_key_arn


@pytest.fixture(scope="module")
def clarify() -> ClarifyConfig:
    """The shipped `monitoring` profile's Clarify settings: the one with a tabular model to query."""
    config = load_config("monitoring", environ={})
    assert config.evaluation is not None and config.evaluation.clarify is not None
    return config.evaluation.clarify


@pytest.fixture(scope="module")
def monitoring() -> Synthesized:
    return synth("monitoring")


def test_data_bias_config_is_generated_from_the_typed_settings(clarify: ClarifyConfig) -> None:
    assert analysis.data_bias(clarify) == {
        "version": "1.0",
        "dataset_type": "text/csv",
        "headers": ["age", "income", "credit_amount", "duration_months", "gender", "approved"],
        "label": "approved",
        "label_values_or_threshold": [1],
        "facet": [
            {"name_or_index": "gender", "value_or_threshold": ["female"]},
            {"name_or_index": "age", "value_or_threshold": [40]},
        ],
        "probability_threshold": 0.5,
        "methods": {
            "pre_training_bias": {"methods": ["CI", "DPL", "KL", "JS", "LP", "TVD", "KS"]},
            "report": {"name": "report", "title": "Data bias (pre-training)"},
        },
    }


def test_model_bias_and_shap_query_the_tabular_endpoint_of_the_config(clarify: ClarifyConfig) -> None:
    bias = analysis.model_bias(clarify)
    assert bias["predictor"] == {
        "endpoint_name": "credit-risk-classifier",
        "content_type": "text/csv",
        "accept_type": "text/csv",
        "probability": 0,
    }
    assert bias["methods"]["post_training_bias"]["methods"][:3] == ["DPPL", "DI", "DCA"]
    shap = analysis.explainability(clarify)
    assert shap["methods"]["shap"] == {
        "baseline": [[35, 40000, 5000, 24, "female"]],
        "num_samples": 100,
        "agg_method": "mean_abs",
        "use_logit": False,
        "save_local_shap_values": True,
        "seed": 123,
    }
    assert shap["predictor"]["endpoint_name"] == "credit-risk-classifier" and "facet" not in shap
    no_model = clarify.model_copy(update={"predictor": clarify.predictor.model_copy(update={"endpoint_name": None})})
    with pytest.raises(analysis.AnalysisConfigError, match=re.escape("set evaluation.clarify.predictor.endpoint_name")):
        analysis.model_bias(no_model)


# What sagemaker==2.253.1 builds for the same settings (run in a venv with that SDK, 2026-11-30):
#   BiasAnalysisConfig(BiasConfig([1], ["gender", "age"], [["female"], [40]]), headers=<6 columns>, label="approved")
#   ExplainabilityAnalysisConfig(SHAPConfig(<baseline>, 100, "mean_abs", seed=123, use_logit=False,
#       save_local_shap_values=True), ModelConfig(endpoint_name="credit-risk-classifier", content_type="text/csv",
#       accept_type="text/csv"), headers=<5 features>)   -- headers without the label, as suggest_baseline does
# `make eval-smoke` re-runs those builders live in the evaluation venv (tools/clarify_sdk_contract.py).
SDK_BIAS_MONITOR = {
    "label_values_or_threshold": [1],
    "facet": [
        {"name_or_index": "gender", "value_or_threshold": ["female"]},
        {"name_or_index": "age", "value_or_threshold": [40]},
    ],
    "headers": ["age", "income", "credit_amount", "duration_months", "gender", "approved"],
    "label": "approved",
}
SDK_EXPLAINABILITY_MONITOR = {
    "methods": {
        "shap": {
            "use_logit": False,
            "save_local_shap_values": True,
            "baseline": [[35, 40000, 5000, 24, "female"]],
            "num_samples": 100,
            "agg_method": "mean_abs",
            "seed": 123,
        }
    },
    "predictor": {"endpoint_name": "credit-risk-classifier", "accept_type": "text/csv", "content_type": "text/csv"},
    "headers": ["age", "income", "credit_amount", "duration_months", "gender"],
}


def test_monitoring_configs_are_what_the_sdk_builds_per_monitor_type(clarify: ClarifyConfig) -> None:
    assert analysis.monitoring_bias(clarify) == SDK_BIAS_MONITOR
    explainability = analysis.monitoring_explainability(clarify)
    assert explainability == SDK_EXPLAINABILITY_MONITOR
    assert clarify.label not in explainability["headers"]  # attribution drift: features only


def test_a_monitoring_config_off_its_contract_is_refused(clarify: ClarifyConfig) -> None:
    config = copy.deepcopy(analysis.monitoring_explainability(clarify))
    config["headers"].append("approved")
    with pytest.raises(analysis.AnalysisConfigError, match="the label 'approved' is among them"):
        analysis.validate_monitoring(config, kind="explainability", clarify=clarify)
    bias = {**analysis.monitoring_bias(clarify), "predictor": {"endpoint_name": "x"}}
    with pytest.raises(analysis.AnalysisConfigError, match=r"keys \['predictor'\] are not part of the bias-drift"):
        analysis.validate_monitoring(bias, kind="bias", clarify=clarify)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c.update(label="missing"), "label 'missing' is not in headers"),
        (lambda c: c["facet"].append({"name_or_index": "race"}), "facet 'race' is not in headers"),
        (
            lambda c: c["methods"]["post_training_bias"].update(methods=["DI", "BOGUS"]),
            "methods.post_training_bias has unknown metrics ['BOGUS']",
        ),
        (
            lambda c: c.pop("predictor") and c["methods"].update(shap={"baseline": [[1, 2, 3, 4, 5]]}),
            "shap needs a predictor",
        ),
        (lambda c: c["predictor"].pop("endpoint_name"), "predictor needs endpoint_name or model_name"),
        (lambda c: c.update(facet=[]), "bias analysis needs at least one facet"),
    ],
)
def test_a_bad_analysis_config_is_refused_before_it_is_written(
    clarify: ClarifyConfig, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    config = copy.deepcopy(analysis.model_bias(clarify))
    change(config)
    with pytest.raises(analysis.AnalysisConfigError, match=f"invalid Clarify analysis config: .*{re.escape(expected)}"):
        analysis.validate(config)


def test_clarify_jobs_use_the_regional_image_and_the_channels_clarify_expects(monitoring: Synthesized) -> None:
    dev = monitoring
    states = processing_states(definition(dev.templates["evaluation"])["States"])
    value = deployed(dev)  # references followed across stacks: the platform key's ARN, not just "some key"
    (machine,) = dev.resources("evaluation", "AWS::StepFunctions::StateMachine").values()
    resolved = processing_states(json.loads(value(machine["Properties"]["DefinitionString"], "evaluation"))["States"])
    platform_key = value(dev.templates["platform"]["Outputs"]["KeyArn"]["Value"], "platform")
    assert platform_key == platform_key_arn(dev)  # the output publishes the platform key's ARN
    for name in ("ClarifyDataBias", "ClarifyModelBias", "ClarifyExplainability"):
        request = as_sent(states[name]["Parameters"])
        # aws/sagemaker-python-sdk image_uri_config/clarify.json, processing "1.0" registries, us-east-1.
        assert request["AppSpecification"] == {
            "ImageUri": "205585389593.dkr.ecr.us-east-1.amazonaws.com/sagemaker-clarify-processing:1.0"
        }
        channels = {i["InputName"]: i["S3Input"]["LocalPath"] for i in request["ProcessingInputs"]}
        assert channels == {
            "dataset": "/opt/ml/processing/input/data",
            "analysis_config": "/opt/ml/processing/input/config",
        }
        dataset = next(i for i in resolved[name]["Parameters"]["ProcessingInputs"] if i["InputName"] == "dataset")
        assert dataset["S3Input"]["S3Uri"] == f"s3://{platform_bucket(dev, 'Datasets')}/clarify/credit/train.csv"
        (output,) = request["ProcessingOutputConfig"]["Outputs"]
        assert output["OutputName"] == "analysis_result"
        assert output["S3Output"]["LocalPath"] == "/opt/ml/processing/output"
        sent = resolved[name]["Parameters"]
        assert sent["ProcessingOutputConfig"]["KmsKeyId"] == platform_key
        assert sent["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == platform_key
        assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
        # Only the data-bias job, which calls no model, runs without any network.
        assert request["NetworkConfig"]["EnableNetworkIsolation"] is (name == "ClarifyDataBias")
    for name, kind in (("ClarifyDataBias", "data_bias"), ("ClarifyModelBias", "model_bias")):
        static = next(
            i for i in resolved[name]["Parameters"]["ProcessingInputs"] if i["InputName"] == "analysis_config"
        )
        assert static["S3Input"]["S3Uri"] == (
            f"s3://{platform_bucket(dev, 'Evaluation')}/clarify/configs/{kind}/analysis_config.json"
        )


def test_analysis_configs_are_deployed_with_the_stack(dev: Synthesized) -> None:
    (deployment,) = dev.resources("evaluation", "Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketKeyPrefix"] == "clarify/configs/"
    (handler,) = [
        r for r in dev.resources("evaluation", "AWS::Lambda::Function").values() if "VpcConfig" in r["Properties"]
    ]
    assert len(handler["Properties"]["VpcConfig"]["SubnetIds"]) == 2
