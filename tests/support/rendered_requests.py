"""Requests read from a synthesized template as a sample execution sends them: every deploy-time reference one
placeholder (`render`), the JSONPath and intrinsic functions evaluated against a sample state (`as_sent`), and
botocore's validation of the result. Shared by the evaluation, Clarify and `neuronctl run` tests."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

EXECUTION = "run-2026-11-26"
STATE_MACHINE = "EvaluationStateMachine"
# Every deploy-time reference (ARNs, ids, names) as one sample long enough for the API's minimum lengths.
DEPLOY_TIME = "arn:aws:deploy-time:us-east-1:123456789012:value"
STATE = {"evaluation": {"endpoint_name": "chat-endpoint", "inference_component_name": "chat-ic"}}


def resources(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


def render(value: Any) -> Any:
    """CloudFormation values -> plain JSON with a placeholder for every reference (Fn::Join joined)."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(render(p)) for p in parts)
        if "Fn::Sub" in value:
            pseudo = {"AWS::AccountId": "123456789012", "AWS::URLSuffix": "amazonaws.com", "AWS::Region": "us-east-1"}
            return re.sub(r"\$\{([^}]+)\}", lambda m: pseudo.get(m.group(1), DEPLOY_TIME), value["Fn::Sub"])
        if set(value) & {"Ref", "Fn::GetAtt", "Fn::GetStackOutput", "Fn::ImportValue"}:
            return DEPLOY_TIME
        return {k: render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v) for v in value]
    return value


def intrinsic(expression: str, state: dict[str, Any]) -> Any:
    """Evaluate the JSONPath and intrinsic functions the requests use, with a sample execution."""
    expression = expression.strip()
    if expression == "$$.Execution.Name":
        return EXECUTION
    if expression == "$$.StateMachine.Name":
        return STATE_MACHINE
    if expression == "$$.Execution.Id":
        return f"arn:aws:states:us-east-1:123456789012:execution:Evaluation:{EXECUTION}"
    if expression == "States.UUID()":
        return str(uuid.UUID(int=7))
    if m := re.fullmatch(r"States\.JsonToString\((.*)\)", expression):
        return json.dumps(intrinsic(m.group(1), state))
    if m := re.fullmatch(r"States\.Format\('((?:[^']|\\')*)',\s*(.*)\)", expression):
        template, args = m.group(1), [intrinsic(a, state) for a in re.split(r",\s*(?![^()]*\))", m.group(2))]
        for arg in args:
            template = template.replace("{}", str(arg), 1)
        return template
    if expression.startswith("$."):
        value: Any = state
        for part in expression[2:].split("."):
            value = value[part]
        return value
    raise AssertionError(f"unexpected expression {expression}")


def as_sent(parameters: Any, state: dict[str, Any] = STATE) -> Any:
    if isinstance(parameters, dict):
        return {
            k.removesuffix(".$"): intrinsic(v, state) if k.endswith(".$") else as_sent(v, state)
            for k, v in parameters.items()
        }
    if isinstance(parameters, list):
        return [as_sent(v, state) for v in parameters]
    return parameters


@cache
def sagemaker_model() -> Any:
    return botocore.session.get_session().get_service_model("sagemaker")


def assert_valid(operation: str, request: dict[str, Any]) -> None:
    report = ParamValidator().validate(request, sagemaker_model().operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def definition(template: dict[str, Any]) -> dict[str, Any]:
    (machine,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    parsed: dict[str, Any] = json.loads(render(machine["DefinitionString"]))
    return parsed


def processing_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in states.items():
        if state["Type"] == "Parallel":
            for branch in state["Branches"]:
                found |= processing_states(branch["States"])
        elif state.get("Resource", "").endswith(":states:::sagemaker:createProcessingJob.sync"):
            found[name] = state
    return found
