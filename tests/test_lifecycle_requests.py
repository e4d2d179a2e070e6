"""Every SageMaker request the lifecycle workflow embeds, read back from the synthesized state machine and validated
against botocore's own service model, as Step Functions will send it (JSONPath values replaced by typed samples)."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import ParamValidator

from config import available_profiles, load_config
from tests.harness import Synthesized, synth

# What a CloudFormation intrinsic becomes once deployed: a string in every position these requests use.
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
SAGEMAKER_TASK = "arn:aws:states:::sagemaker:"
SAGEMAKER_SDK_TASK = "arn:aws:states:::aws-sdk:sagemaker:"


@cache
def sagemaker_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def resolve(value: Any) -> Any:
    """A template value with intrinsics turned into the strings they deploy as."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(resolve(p) for p in parts)
    if "Ref" in value:
        return PSEUDO.get(value["Ref"], f"ref-{value['Ref'].lower()}")
    if "Fn::GetAtt" in value:
        return f"arn:aws:iam::123456789012:role/{value['Fn::GetAtt'][0]}"
    if "Fn::Sub" in value:
        return value["Fn::Sub"].replace("${AWS::AccountId}", PSEUDO["AWS::AccountId"])
    if "Fn::GetStackOutput" in value:  # a platform value: named after the platform output it reads
        return f"platform-{value['Fn::GetStackOutput']['OutputName']}"
    raise AssertionError(f"no deployed value for {value}")


def definition(template: dict[str, Any]) -> dict[str, Any]:
    """The state machine definition of a template, as Step Functions receives it."""
    (machine,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    return json.loads(resolve(machine["Properties"]["DefinitionString"]))


def sagemaker_requests(states: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """State name -> (operation, parameters) of every SageMaker Task."""
    found = {}
    for name, state in states.items():
        resource = state.get("Resource", "")
        for prefix in (SAGEMAKER_TASK, SAGEMAKER_SDK_TASK):
            if resource.startswith(prefix):
                action = resource.removeprefix(prefix).removesuffix(".sync")
                found[name] = (action[0].upper() + action[1:], state["Parameters"])
    return found


def with_samples(params: Any, shape: Shape) -> Any:
    """Replace each `Key.$` (a JSONPath or intrinsic) by a value of the type botocore expects for `Key`."""
    if shape.type_name == "structure" and isinstance(params, dict):
        out = {}
        for key, value in params.items():
            name = key.removesuffix(".$")
            member = shape.members.get(name)
            if member is None:  # unknown member: keep it so the validator reports it
                out[name] = value
            elif key.endswith(".$"):
                out[name] = typed_sample(member, name)
            else:
                out[name] = with_samples(value, member)
        return out
    if shape.type_name == "list" and isinstance(params, list):
        return [with_samples(item, shape.member) for item in params]
    if shape.type_name == "map" and isinstance(params, dict):
        return {
            k.removesuffix(".$"): typed_sample(shape.value, k) if k.endswith(".$") else with_samples(v, shape.value)
            for k, v in params.items()
        }
    return params


def typed_sample(shape: Shape, name: str) -> Any:
    samples = {
        "string": f"sample-{name.lower()}",
        "integer": 1,
        "long": 1,
        "boolean": True,
        "float": 1.0,
        "double": 1.0,
    }
    if shape.type_name not in samples:
        raise AssertionError(f"{name}: a JSONPath yields a {shape.type_name}; the test has no typed sample for it")
    return samples[shape.type_name]


def validate(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request with samples, after botocore's validation (raises ParamValidationError)."""
    shape = sagemaker_model().operation_model(operation).input_shape
    request = with_samples(copy.deepcopy(params), shape)
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
    return request


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
