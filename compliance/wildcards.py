"""Acknowledge AwsSolutions-IAM5 (wildcard permissions) findings one by one: each acknowledgement names the exact
finding it expects on one policy, with its own reason, and is declared next to the statement that creates it.

cdk-nag 3 reports IAM5 per wildcard (`AwsSolutions-IAM5[Resource::<bucket arn>/*]`) and accepts only the exact finding
id; the ids contain resolved cross-stack references, known only after CDK has resolved references. So an expected
finding is written with the same tokens the statement uses (`bucket.arn_for_objects("base/*")`), and resolved and
flattened the way the rule flattens it in a construct validation (which runs after reference resolution and before the
nag packs). Then:

- a wildcard nobody expected is not acknowledged: the AwsSolutions pack reports it and the synth fails;
- an expected finding the policy no longer has fails the synth too (its reason would describe nothing), so reasons
  cannot drift away from the policy they excuse.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct, IValidation

from compliance.packs import acknowledge

RULE = "AwsSolutions-IAM5"


def flatten_reference(node: Any) -> str:
    """cdk-nag's flattenCfnReference: a resolved CloudFormation value as the flat string its findings use."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return str(delimiter).join(flatten_reference(i) for i in items)
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


def _policy_resource(policy: IConstruct) -> iam.CfnPolicy | iam.CfnManagedPolicy:
    """The L1 policy of an L2 policy (or the L1 itself)."""
    if isinstance(policy, iam.CfnPolicy | iam.CfnManagedPolicy):
        return policy
    child = policy.node.default_child
    if not isinstance(child, iam.CfnPolicy | iam.CfnManagedPolicy):
        raise TypeError(f"{policy.node.path} is not an IAM policy (its default child is {type(child).__name__})")
    return child


@jsii.implements(IValidation)
class ExpectedWildcards:
    """The wildcard findings one policy is expected to have, each with its reason: `ExpectedWildcards.of(policy)`."""

    def __init__(self, policy: IConstruct) -> None:
        self.policy = policy
        self.expected: dict[str, str] = {}  # unresolved finding -> reason

    @staticmethod
    def of(policy: IConstruct) -> ExpectedWildcards:
        """The (single) registry of `policy` (an iam.Policy, iam.ManagedPolicy or their L1), created on first use."""
        resource = _policy_resource(policy)
        existing = getattr(resource, "_expected_wildcards", None)
        if existing is None:
            existing = ExpectedWildcards(resource)
            resource._expected_wildcards = existing  # type: ignore[union-attr]
            resource.node.add_validation(existing)
        return existing

    def resource(self, resource: str, reason: str) -> None:
        """Expect `Resource::<resource>`; `resource` may contain tokens (bucket ARNs), written as in the statement."""
        self._expect(f"Resource::{resource}", reason)

    def action(self, action: str, reason: str) -> None:
        """Expect `Action::<action>` (an action with a wildcard, such as CDK's `kms:GenerateDataKey*`)."""
        self._expect(f"Action::{action}", reason)

    def _expect(self, finding: str, reason: str) -> None:
        if len(reason) < 40:
            raise ValueError(f"the reason for {finding} is too short to tell a reviewer why: {reason!r}")
        previous = self.expected.get(finding)
        self.expected[finding] = reason if previous in (None, reason) else f"{previous}; {reason}"

    def validate(self) -> list[str]:
        resource = self.policy
        assert isinstance(resource, iam.CfnPolicy | iam.CfnManagedPolicy)
        stack = cdk.Stack.of(resource)
        actual = set(wildcard_findings(stack.resolve(resource.policy_document)))
        errors = []
        for finding, reason in self.expected.items():
            kind, _, value = finding.partition("::")
            flat = f"{kind}::{flatten_reference(stack.resolve(value))}"
            if flat not in actual:
                errors.append(
                    f"{resource.node.path}: the acknowledged wildcard {flat} is not in the policy any more; remove "
                    "its acknowledgement (or restore the statement it describes)"
                )
                continue
            acknowledge(resource, reason, f"{RULE}[{flat}]")
        return errors


def acknowledge_managed_policies(scope: IConstruct, reason: str, *policy_names: str) -> None:
    """Acknowledge AwsSolutions-IAM4 for AWS managed policies by name (the part after `policy/`)."""
    acknowledge(
        scope,
        reason,
        *(f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]" for name in policy_names),
    )


# CDK's BucketDeployment handler gets `grant_read` on the asset bucket and `grant_read_write` on the destination bucket
# (aws-cdk-lib aws-s3-deployment/lib/bucket-deployment.ts): these action wildcards, on those two resources.
BUCKET_DEPLOYMENT_ACTIONS = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:Abort*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
)


def expect_bucket_deployment_wildcards(handler: IConstruct, destination: s3.IBucket, reason: str) -> None:
    """The findings of a BucketDeployment handler's policy (a stack-level singleton), named one by one (the KMS
    actions only when the destination bucket has a key)."""
    stack = cdk.Stack.of(handler)
    role = handler.node.find_child("ServiceRole")
    expected = ExpectedWildcards.of(role.node.find_child("DefaultPolicy"))
    qualifier = stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or (
        cdk.DefaultStackSynthesizer.DEFAULT_QUALIFIER
    )
    assets = cdk.Fn.sub(f"cdk-{qualifier}-assets-${{AWS::AccountId}}-{stack.region}")
    expected.resource(f"arn:{stack.partition}:s3:::{assets}/*", f"CDK's asset bucket (read): {reason}")
    expected.resource(f"{destination.bucket_arn}/*", f"The destination bucket: {reason}")
    for action in BUCKET_DEPLOYMENT_ACTIONS:
        if action.startswith("kms:") and destination.encryption_key is None:
            continue
        expected.action(action, f"CDK's grant set for BucketDeployment: {reason}")
