"""Acknowledge AwsSolutions-IAM5 (wildcard permissions) findings one by one, with a reason, on a scope's policies.

cdk-nag 3 reports IAM5 per wildcard (`AwsSolutions-IAM5[Resource::<bucket arn>/*]`) and accepts only the exact finding
id; the ids contain resolved cross-stack references, known only after CDK has resolved references. So the findings
are computed in a construct validation (which runs after reference resolution and before the nag packs) the same way
the rule computes them, and each one is acknowledged on its policy with the reason. A wildcard that appears later
than the reviewed ones is acknowledged too, but only inside `scope`: the reason must cover everything the scope grants.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

from compliance.packs import acknowledge


def flatten_reference(node: Any) -> str:
    """cdk-nag's flattenCfnReference: a resolved CloudFormation value as the flat string its findings use."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(i) for i in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


def wildcard_findings(document: dict[str, Any]) -> list[str]:
    """The IAM5 findings of one resolved policy document, as the rule names them."""
    findings: dict[str, None] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        for action in actions if isinstance(actions, list) else [actions]:
            if "*" in action:
                findings[f"Action::{action}"] = None
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            flat = flatten_reference(resource)
            if "*" in flat:
                findings[f"Resource::{flat}"] = None
    return list(findings)


@jsii.implements(IValidation)
class _AcknowledgeWildcards:
    def __init__(self, scope: IConstruct, reason: str) -> None:
        self._scope, self._reason = scope, reason

    def validate(self) -> list[str]:
        for child in self._scope.node.find_all():
            document = None
            if isinstance(child, iam.CfnPolicy | iam.CfnManagedPolicy):
                document = cdk.Stack.of(child).resolve(child.policy_document)
            if document:
                findings = wildcard_findings(document)
                if findings:
                    acknowledge(child, self._reason, *(f"AwsSolutions-IAM5[{finding}]" for finding in findings))
        return []


def acknowledge_wildcards(scope: IConstruct, reason: str) -> None:
    """Acknowledge every AwsSolutions-IAM5 finding of the policies under `scope`, with `reason`."""
    scope.node.add_validation(_AcknowledgeWildcards(scope, reason))


def acknowledge_managed_policies(scope: IConstruct, reason: str, *policy_names: str) -> None:
    """Acknowledge AwsSolutions-IAM4 for AWS managed policies by name (the part after `policy/`)."""
    acknowledge(
        scope,
        reason,
        *(f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]" for name in policy_names),
    )
