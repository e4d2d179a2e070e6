"""Every SageMaker request the lifecycle workflow embeds, read back from the synthesized state machine and validated
against botocore's own service model, as Step Functions will send it (JSONPath values replaced by typed samples)."""

from __future__ import annotations

import copy

import pytest
from botocore.exceptions import ParamValidationError

from config import available_profiles, load_config
from tests.support.harness import Synthesized, synth
from tests.support.state_machines import definition, sagemaker_requests, validate

# Every profile that builds the lifecycle (the synths are shared with the cfn-lint and compliance tests).
PROFILES = tuple(p for p in available_profiles() if load_config(p, environ={}).lifecycle.enabled)


def test_profiles_cover_spot_multi_node_pretraining_and_inference_components() -> None:
    assert {"dev", "prod", "pretrain", "trn2", "multimodel", "hyperpod"} <= set(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_embedded_sagemaker_request_passes_botocore_validation(profile: str) -> None:
    states = definition(synth(profile).templates["lifecycle"])["States"]
    requests = sagemaker_requests(states)
    assert {"FineTune", "RegisterModelPackage"} <= set(requests)
    for operation, params in requests.values():
        validate(operation, params)  # raises with botocore's report on any invalid member
    if profile == "pretrain":
        assert requests["PreTrain"][0] == "CreateTrainingJob"
    if profile == "prod":  # managed spot across two EFA nodes
        fine_tune = requests["FineTune"][1]
        assert fine_tune["ResourceConfig"]["InstanceCount"] == 2
        assert fine_tune["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400, "MaxWaitTimeInSeconds": 172800}
    config = load_config(profile, environ={})
    deploys = config.inference is not None and config.lifecycle.deploy
    assert ("UpdateLiveEndpoint" in requests) == deploys, profile


def test_a_deliberately_broken_request_fails_validation(dev: Synthesized) -> None:
    _, params = sagemaker_requests(definition(dev.templates["lifecycle"])["States"])["FineTune"]
    broken = copy.deepcopy(params)
    broken["ResourceConfig"]["InstanceCount"] = "1"  # a string where the API takes an integer
    broken["StoppingCondition"]["MaxWaitTime"] = 3600  # not a member: MaxWaitTimeInSeconds is
    del broken["OutputDataConfig"]  # required
    with pytest.raises(ParamValidationError) as error:
        validate("CreateTrainingJob", broken)
    message = str(error.value)
    assert 'Missing required parameter in input: "OutputDataConfig"' in message
    assert "Invalid type for parameter ResourceConfig.InstanceCount, value: 1, type: <class 'str'>" in message
    assert 'Unknown parameter in StoppingCondition: "MaxWaitTime"' in message


def test_a_jsonpath_that_yields_a_structure_has_no_sample_and_fails() -> None:
    """The sample substitution cannot hide a dynamic value of the wrong kind."""
    with pytest.raises(AssertionError, match="ResourceConfig: a JSONPath yields a structure"):
        validate("CreateTrainingJob", {"ResourceConfig.$": "$.resources"})
