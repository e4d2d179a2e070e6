"""Building one construct alone in a bare stack, and reading what it synthesizes (tests/test_constructs.py and
tests/test_compile_constructs.py share these)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_iam as iam

from tests.support.harness import CDK_CONTEXT

REGION = "us-east-1"


def bare() -> cdk.Stack:
    """A stack with nothing in it, in a fixed region (image URIs and AZs need one). CloudFormation validation is off,
    as in every unit synth (tests/support/harness.py); cfn-lint checks the profiles' templates."""
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    return cdk.Stack(app, "Bare", env=cdk.Environment(region=REGION))


def template(stack: cdk.Stack) -> dict[str, Any]:
    return dict(assertions.Template.from_stack(stack).to_json())


def resources(stack: cdk.Stack, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template(stack)["Resources"].items() if v["Type"] == resource_type}


def only(stack: cdk.Stack, resource_type: str) -> dict[str, Any]:
    (found,) = resources(stack, resource_type).values()
    return dict(found.get("Properties", {}))


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return str(stack.get_logical_id(construct))


def ref(stack: cdk.Stack, construct: Any) -> dict[str, str]:
    return {"Ref": stack.get_logical_id(construct)}


def get_att(stack: cdk.Stack, construct: Any, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [stack.get_logical_id(construct), attribute]}


def definition(stack: cdk.Stack) -> dict[str, Any]:
    """The state machine's definition with every deploy-time value replaced by a placeholder string."""
    body = only(stack, "AWS::StepFunctions::StateMachine")["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return dict(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts)))


def policy_statements(stack: cdk.Stack, role: iam.IRole) -> list[dict[str, Any]]:
    """The statements of every inline policy attached to `role`."""
    role_ref = ref(stack, role.node.default_child)
    return [
        s
        for p in resources(stack, "AWS::IAM::Policy").values()
        if role_ref in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
