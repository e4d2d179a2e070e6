"""Every IAM policy document of a synthesized profile, with CloudFormation references replaced by plausible literal
values, for policy linters (parliament) that read JSON policies, not templates.

A reference becomes what it stands for at deploy time, in the form the linter checks: `Ref` of a bucket its name,
`Fn::GetAtt [X, Arn]` an ARN of X's service and type, a cross-stack output the producing stack's value, pseudo
parameters the profile's region, a fixed test account and `aws`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from typing import Any

from tests.support.harness import Synthesized

ACCOUNT = "123456789012"
# ARN of a resource type's Arn attribute, formatted with (region, account, a lower-case name from the logical id).
ARNS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SageMaker::ModelPackageGroup": "arn:aws:sagemaker:{region}:{account}:model-package-group/{name}",
    "AWS::SageMaker::Endpoint": "arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
    "AWS::SageMaker::InferenceComponent": "arn:aws:sagemaker:{region}:{account}:inference-component/{name}",
    "AWS::ECR::Repository": "arn:aws:ecr:{region}:{account}:repository/{name}",
    "AWS::Bedrock::Guardrail": "arn:aws:bedrock:{region}:{account}:guardrail/{name}",
}
# `Ref` of these types is their ARN (CloudFormation return values), of the others their name.
REF_IS_ARN = {"AWS::SageMaker::Endpoint", "AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}
# GetAtt attributes that are ARNs of the same kind.
ARN_ATTRIBUTES = {"Arn", "EndpointArn", "InferenceComponentArn", "ModelPackageGroupArn", "GuardrailArn", "TopicArn"}


def resolver(s: Synthesized) -> Any:
    units = {s.config.stack_name(unit): unit for unit in s.templates}
    region = s.config.region

    def name(logical: str) -> str:
        return re.sub(r"[^a-z0-9-]", "-", logical.lower())

    def value(node: Any, unit: str) -> Any:
        if isinstance(node, str | int | float | bool) or node is None:
            return node
        if isinstance(node, list):
            return [value(item, unit) for item in node]
        if "Fn::Join" in node:
            delimiter, parts = node["Fn::Join"]
            return delimiter.join(str(value(p, unit)) for p in value(parts, unit))
        if "Fn::Select" in node:
            index, items = node["Fn::Select"]
            return value(items, unit)[int(value(index, unit))]
        if "Fn::Split" in node:
            delimiter, text = node["Fn::Split"]
            return str(value(text, unit)).split(delimiter)
        if "Fn::Sub" in node:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            return (
                text.replace("${AWS::AccountId}", ACCOUNT)
                .replace("${AWS::Region}", region)
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::URLSuffix}", "amazonaws.com")
            )
        if "Fn::GetStackOutput" in node:
            source = units[node["Fn::GetStackOutput"]["StackName"]]
            return value(s.templates[source]["Outputs"][node["Fn::GetStackOutput"]["OutputName"]]["Value"], source)
        if "Fn::ImportValue" in node:
            return f"import-{node['Fn::ImportValue']}"
        if "Ref" in node:
            ref = node["Ref"]
            pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": region, "AWS::Partition": "aws"}
            if ref in pseudo or ref == "AWS::URLSuffix":
                return pseudo.get(ref, "amazonaws.com")
            kind = s.templates[unit]["Resources"].get(ref, {}).get("Type", "")
            if kind in REF_IS_ARN:
                return ARNS[kind].format(region=region, account=ACCOUNT, name=name(ref))
            return name(ref)
        if "Fn::GetAtt" in node:
            logical, attribute = node["Fn::GetAtt"]
            kind = s.templates[unit]["Resources"][logical]["Type"]
            if attribute in ARN_ATTRIBUTES and kind in ARNS:
                return ARNS[kind].format(region=region, account=ACCOUNT, name=name(logical))
            return f"{name(logical)}-{attribute.lower()}"
        return {k: value(v, unit) for k, v in node.items()}

    return value


def policy_documents(s: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    """(unit/logical id, resolved document) of every identity policy: AWS::IAM::Policy, AWS::IAM::ManagedPolicy and
    the inline policies of AWS::IAM::Role (not trust policies, which parliament does not read)."""
    value = resolver(s)
    for unit, template in s.templates.items():
        for logical, resource in template["Resources"].items():
            props = resource.get("Properties", {})
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                yield f"{unit}/{logical}", value(props["PolicyDocument"], unit)
            elif resource["Type"] == "AWS::IAM::Role":
                for policy in props.get("Policies", []):
                    yield f"{unit}/{logical}/{policy['PolicyName']}", value(policy["PolicyDocument"], unit)


def as_json(document: dict[str, Any]) -> str:
    return json.dumps(document)


# --- reading the synthesized statements (tests/test_iam.py, tests/test_candidate_cleanup.py) -----------------------
def policies(s: Synthesized, unit: str, name_prefix: str) -> list[dict[str, Any]]:
    """The statements of a stack's policies whose logical id starts with `name_prefix`."""
    return [
        st
        for k, r in s.templates[unit]["Resources"].items()
        if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and k.startswith(name_prefix)
        for st in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def flat(node: Any) -> str:
    """A resolved template value as one string: cross-stack outputs and references by name."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(flat(n) for n in node)
    if "Fn::Join" in node:
        delimiter, parts = node["Fn::Join"]
        return str(delimiter).join(flat(p) for p in parts)
    if "Fn::GetStackOutput" in node:
        return f"<{node['Fn::GetStackOutput']['OutputName']}>"
    if "Ref" in node:
        return ACCOUNT if node["Ref"] == "AWS::AccountId" else f"<{node['Ref']}>"
    if "Fn::GetAtt" in node:
        return f"<{'.'.join(node['Fn::GetAtt'])}>"
    return "<" + json.dumps(node, separators=(",", ":")).replace('"', "'") + ">"


def allowed(found: list[dict[str, Any]], action: str, resource: str) -> bool:
    def listed(x: Any) -> list[Any]:
        return x if isinstance(x, list) else [x]

    return any(
        st["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action, a) for a in listed(st["Action"]))
        and any(fnmatch.fnmatchcase(resource, flat(r)) for r in listed(st["Resource"]))
        for st in found
    )
