"""State machines read back from synthesized templates as Step Functions receives them: intrinsics resolved to the
strings they deploy as, the SageMaker requests each Task embeds, and botocore's validation of those requests with
typed samples in place of JSONPath values. Shared by the lifecycle, training-job and Clarify tests."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import botocore.session
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.validate import ParamValidator

from tests.support.harness import Synthesized

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


# The lifecycle template also holds the candidate clean-up's state machine (cdk_constructs/candidate_cleanup.py).
CLEANUP = "CandidateCleanup"


def definition(template: dict[str, Any], *, cleanup: bool = False) -> dict[str, Any]:
    """The state machine definition of a template, as Step Functions receives it: the template's workflow, or with
    `cleanup` the lifecycle's candidate clean-up."""
    (machine,) = [
        r
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and k.startswith(CLEANUP) == cleanup
    ]
    parsed: dict[str, Any] = json.loads(resolve(machine["Properties"]["DefinitionString"]))
    return parsed


def all_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state of a definition by name, those inside Parallel branches and Map processors included."""
    found: dict[str, dict[str, Any]] = {}
    for name, state in machine.get("States", {}).items():
        found[name] = state
        for inner in [*state.get("Branches", []), *(state[k] for k in ("Iterator", "ItemProcessor") if k in state)]:
            found |= all_states(inner)
    return found


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
    request: dict[str, Any] = with_samples(copy.deepcopy(params), shape)
    report = ParamValidator().validate(request, shape)
    if report.has_errors():
        raise ParamValidationError(report=report.generate_report())
    return request


def deployed(s: Synthesized) -> Any:
    """A resolver of template values across the profile's stacks: cross-stack outputs followed to their source,
    bucket names and ARNs, role names and ARNs named after the resource they come from."""
    units = {s.config.stack_name(unit): unit for unit in s.templates}

    def value(node: Any, unit: str) -> Any:
        if isinstance(node, str | int | float | bool):
            return node
        if isinstance(node, list):
            return [value(item, unit) for item in node]
        if "Fn::Join" in node:
            delimiter, parts = node["Fn::Join"]
            return delimiter.join(str(value(p, unit)) for p in parts)
        if "Fn::GetStackOutput" in node:
            source = units[node["Fn::GetStackOutput"]["StackName"]]
            return value(s.templates[source]["Outputs"][node["Fn::GetStackOutput"]["OutputName"]]["Value"], source)
        if "Ref" in node:
            if node["Ref"] in PSEUDO:
                return PSEUDO[node["Ref"]]
            return f"{unit}.{node['Ref']}"  # a bucket's or a role's name
        if "Fn::GetAtt" in node:
            logical, attribute = node["Fn::GetAtt"]
            kind = s.templates[unit]["Resources"][logical]["Type"]
            arns = {
                "AWS::S3::Bucket": "arn:aws:s3:::{}",
                "AWS::IAM::Role": "arn:aws:iam::123456789012:role/{}",
                "AWS::KMS::Key": "arn:aws:kms:us-east-1:123456789012:key/{}",
            }
            if attribute == "Arn" and kind in arns:
                return arns[kind].format(f"{unit}.{logical}")
            return f"{unit}.{logical}.{attribute}"
        return {k: value(v, unit) for k, v in node.items()}

    return value


def platform_key_arn(s: Synthesized) -> str:
    """The platform key's ARN as `deployed` resolves it, built from the platform template's one KMS key (not from the
    output that publishes it): what every KmsKeyId must equal exactly, not a key id, an alias or another key."""
    (logical,) = s.resources("platform", "AWS::KMS::Key")
    return f"arn:aws:kms:us-east-1:123456789012:key/platform.{logical}"


def deployed_definition(s: Synthesized, unit: str) -> dict[str, Any]:
    """A unit's workflow definition (not the lifecycle's candidate clean-up) with every reference followed across
    stacks (`deployed`)."""
    parsed: dict[str, Any] = json.loads(deployed(s)(s.workflow(unit)["DefinitionString"], unit))
    return parsed


def platform_bucket(s: Synthesized, name: str) -> str:
    """A platform bucket's name as `deployed` resolves it (`platform.<logical id>`), from its construct id
    ("Models", "Datasets", "Checkpoints", "Evaluation", ...)."""
    (logical,) = [k for k in s.resources("platform", "AWS::S3::Bucket") if k.startswith(f"{name}Bucket")]
    return f"platform.{logical}"
