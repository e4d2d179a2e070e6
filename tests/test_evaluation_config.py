"""Evaluation config: every rule rejects a bad value with a message naming the setting, the value and the fix."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from config import ConfigError, load_config
from stacks.evaluation import EvaluationStack
from stacks.platform import PlatformStack
from tests.support.harness import CDK_CONTEXT


def error_of(profile: str = "dev", **evaluation: object) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(profile, {"evaluation": evaluation}, environ={})
    return str(err.value)


def test_every_default_metric_is_one_the_default_server_can_serve() -> None:
    """The default thresholds leave out what tgi-neuronx cannot serve; dev and prod name only servable metrics."""
    for profile in ("dev", "prod", "monitoring"):
        fm = load_config(profile, environ={}).evaluation.foundation_model  # type: ignore[union-attr]
        assert "prompt_stereotyping" not in fm.thresholds, profile
    evaluation = load_config("dev", {"evaluation": {"foundation_model": {}}}, environ={}).evaluation
    assert evaluation is not None and evaluation.foundation_model is not None
    assert "prompt_stereotyping" not in evaluation.foundation_model.thresholds


def test_dev_and_prod_have_an_evaluation_section() -> None:
    dev, prod = load_config("dev", environ={}), load_config("prod", environ={})
    assert dev.evaluation is not None and prod.evaluation is not None
    assert dev.evaluation.clarify is not None and dev.evaluation.clarify.label == "approved"
    assert prod.evaluation.foundation_model.thresholds["toxicity"] == 0.05


@pytest.mark.parametrize(
    ("evaluation", "expected"),
    [
        (
            {"foundation_model": {"thresholds": {"bleu": 0.3}}},
            "unknown metric 'bleu'; metrics: factual_knowledge, qa_accuracy, toxicity, prompt_stereotyping, "
            "semantic_robustness",
        ),
        (
            {"foundation_model": {"thresholds": {"toxicity": 1.5}}},
            "toxicity = 1.5: a threshold is a score from 0 to 1 (direction max: a score <= the threshold passes)",
        ),
        (
            {"foundation_model": {"thresholds": {"factual_knowledge": -0.1}}},
            "factual_knowledge = -0.1: a threshold is a score from 0 to 1 (direction min: a score >= the threshold",
        ),
        (
            {"foundation_model": {"thresholds": {"prompt_stereotyping": 0.6}}},
            "thresholds has prompt_stereotyping, which needs the prompt's log probabilities, but tgi-neuronx "
            "(payload_format 'tgi') returns none (huggingface/optimum-neuron v0.0.28 text-generation-inference/server/"
            "text_generation_server/generator.py:553-560: every Generation has prefill_tokens=None and token "
            "logprobs=[0]); metrics this server can serve: factual_knowledge, qa_accuracy, toxicity, "
            "semantic_robustness. Fix: drop prompt_stereotyping from thresholds",
        ),
        (
            {"foundation_model": {"payload_format": "lmi", "thresholds": {"prompt_stereotyping": 0.6}}},
            "but lmi-neuronx (payload_format 'lmi') returns none (deepjavalibrary/djl-serving 0.30.0-dlc",
        ),
        (
            {"clarify": {"predictor": {"inference_component_name": "chat"}}},
            "Clarify cannot call an inference component: its analysis config's predictor names an endpoint",
        ),
        (
            {"monitoring": {}},
            "monitoring watches the tabular model named in evaluation.clarify.predictor.endpoint_name",
        ),
        (
            {"foundation_model": {"payload_format": "openai"}},
            "evaluation.foundation_model.payload_format = 'openai': unknown payload format; known: tgi, lmi",
        ),
        (
            {"foundation_model": {"prompts": {"toxicity": "Say something"}}},
            "prompts.toxicity must contain $model_input, got 'Say something'",
        ),
        (
            {"foundation_model": {"prompts": {"qa_accuracy": "$model_input " + "x" * 240}}},
            "prompts.qa_accuracy is 253 characters; a container argument holds 256 (274 with its flag): shorten it",
        ),
        (
            {"clarify": {"facets": [{"name": "race"}]}},
            "facets[0].name 'race' is not one of headers ['age', 'income', 'credit_amount', 'duration_months', "
            "'gender', 'approved']",
        ),
        ({"clarify": {"label": "default"}}, "label 'default' is not one of headers"),
        ({"clarify": {"facets": [{"name": "approved"}]}}, "facets[0].name 'approved' is the label"),
        (
            {"clarify": {"pre_training_methods": ["CI", "XYZ"]}},
            "unknown pre-training bias metric 'XYZ'; allowed: CI, DPL, KL, JS, LP, TVD, KS, CDDL",
        ),
        (
            {"clarify": {"shap": {"baseline": [[1, 2]]}}},
            "shap.baseline[0] has 2 values; the model takes 5 features (headers without the label 'approved')",
        ),
        (
            {"clarify": {"predictor": {"content_type": "application/jsonlines"}}},
            "content_type application/jsonlines needs content_template with $features",
        ),
        (
            {"clarify": None, "monitoring": {}},
            "monitoring watches the tabular model named in evaluation.clarify.predictor.endpoint_name (model bias",
        ),
        (
            {"monitoring": {"resources": {"max_runtime_seconds": 7200}}},
            "resources.max_runtime_seconds = 7200 but schedule 'hourly' allows at most 3600 s per run",
        ),
        (
            {
                "monitoring": {
                    "features_attribute": "instances[0].features",
                    "data_quality_baseline": {"constraints_key": "c.json"},
                }
            },
            "features_attribute = 'instances[0].features' cannot reach the data-quality monitor: "
            "AWS::SageMaker::DataQualityJobDefinition's EndpointInput has no FeaturesAttribute",
        ),
        (
            {"guardrail": {"filters": {"HATE": "HIGH"}}},
            "give a strength for exactly HATE, INSULTS, SEXUAL, VIOLENCE, MISCONDUCT; unknown: -; missing: INSULTS, "
            "MISCONDUCT, SEXUAL, VIOLENCE",
        ),
        (
            {"guardrail": {"grounding_threshold": 1.0}},
            "evaluation.guardrail.grounding_threshold = 1.0: Input should be less than or equal to 0.99",
        ),
    ],
)
def test_bad_evaluation_settings_are_named(evaluation: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**evaluation)


def test_region_without_a_clarify_image_fails_the_synth_with_the_fix() -> None:
    config = load_config("dev", {"region": "il-central-1"}, environ={})
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    env = cdk.Environment(region=config.region)
    platform = PlatformStack(app, "Platform", config=config, env=env)
    with pytest.raises(ValueError) as err:
        EvaluationStack(app, "Evaluation", config=config, platform=platform.platform, env=env)
    message = str(err.value)
    assert message.startswith(
        "profile 'dev': evaluation.clarify needs SageMaker Clarify, but SageMaker Clarify has no "
        "processing image in region 'il-central-1'; regions with one: af-south-1, "
    )
    assert message.endswith(
        "Fix: choose one of those regions, or set evaluation.clarify to null and "
        "evaluation.monitoring.model_bias and model_explainability to false"
    )
    # Without Clarify the same region synthesizes: fmeval runs in the repo's own image.
    no_clarify = load_config("dev", {"region": "il-central-1", "evaluation": {"clarify": None}}, environ={})
    stack = EvaluationStack(app, "EvaluationWithoutClarify", config=no_clarify, platform=platform.platform, env=env)
    assert stack.clarify is None and list(stack.stage.jobs) == ["FoundationModelEvaluation"]
