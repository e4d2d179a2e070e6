"""parliament, a linter made for IAM policies (unknown actions, resources that do not match the action, bad condition
keys, '*' where the action takes a resource), over every identity policy of every profile and region in the matrix.

Every remaining finding is listed in ALLOWED with its reason, as cdk-nag acknowledgements are: a finding not listed
fails, and so does a listed one that no policy produces any more.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from cdk_constructs.hub_staging import HubStagingJobRole
from config import available_profiles, load_config
from tests.support.harness import CDK_CONTEXT, Synthesized, synth
from tests.support.iam_policies import policy_documents

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # parliament 1.6.4 imports pkg_resources, which warns on import
    from parliament import analyze_policy_string

# (issue, logical-id prefix of the policy, action) -> why it stays.
BUCKET_DEPLOYMENT_REASON = (
    "aws-cdk-lib's BucketDeployment handler policy (a CDK singleton): CDK grants it s3:GetObject*/s3:List*, which "
    "parliament expands to actions whose resource is an access point or an access grant; the handler calls only "
    "GetObject/ListBucket/PutObject/DeleteObject on the asset and destination buckets"
)
ALLOWED = {
    ("RESOURCE_MISMATCH", "CustomCDKBucketDeployment"): BUCKET_DEPLOYMENT_REASON,
}


@cache
def findings(profile: str) -> dict[tuple[str, str], list[str]]:
    """(issue, policy) -> finding details, for one profile."""
    found: dict[tuple[str, str], list[str]] = {}
    for where, document in policy_documents(synth(profile)):
        policy = analyze_policy_string(json.dumps(document), include_community_auditors=False)
        for finding in policy.findings:
            found.setdefault((finding.issue, where), []).append(json.dumps(finding.detail, sort_keys=True))
    return found


def listed(issue: str, where: str) -> bool:
    logical = where.split("/", 1)[1]
    return any(issue == allowed_issue and logical.startswith(prefix) for allowed_issue, prefix in ALLOWED)


@pytest.mark.parametrize("profile", available_profiles())
def test_parliament_reports_nothing_unlisted(profile: str) -> None:
    unlisted = {f"{issue} in {where}: {details[:2]}" for (issue, where), details in findings(profile).items()}
    unlisted = {
        line for line in unlisted if not listed(line.split(" in ", 1)[0], line.split(" in ", 1)[1].split(":")[0])
    }
    assert unlisted == set()


def test_every_listed_finding_still_occurs_somewhere() -> None:
    occurring = {
        (issue, prefix)
        for profile in available_profiles()
        for (issue, where) in findings(profile)
        for (allowed_issue, prefix) in ALLOWED
        if issue == allowed_issue and where.split("/", 1)[1].startswith(prefix)
    }
    assert occurring == set(ALLOWED), f"stale entries: {set(ALLOWED) - occurring}"


def test_parliament_catches_the_mistakes_it_is_here_for() -> None:
    """The check can fail: an unknown action, an object action on a bucket ARN, a condition key of another service."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sagemaker:CreateEndpiont", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"},
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::bucket/*",
                "Condition": {"StringEquals": {"sagemaker:VolumeKmsKey": "x"}},
            },
        ],
    }
    issues = {f.issue for f in analyze_policy_string(json.dumps(document), include_community_auditors=False).findings}
    assert {"UNKNOWN_ACTION", "RESOURCE_MISMATCH", "UNKNOWN_CONDITION_FOR_ACTION"} <= issues


def test_the_hub_staging_role_with_token_secrets_lints_clean() -> None:
    """No shipped profile stages a gated model, so the token statement (a secret name's `-??????` pattern, a complete
    ARN and its suffixed form) is linted here, on the role built alone with the embedding profile's region."""
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Bare", env=cdk.Environment(region="us-east-1"))
    HubStagingJobRole(
        stack,
        "Staging",
        models_bucket=s3.Bucket(stack, "Models"),
        staged_prefixes=["llama-3.1-8b-instruct/"],
        key=kms.Key(stack, "Key"),
        image_repository_arns=["arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-inference"],
        code_bucket=s3.Bucket.from_bucket_name(stack, "Assets", "cdk-assets"),
        code_key="abc123.py",
        token_secrets=["huggingface/hub-token", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub-AbCdEf"],
    )
    synthesized = Synthesized(
        config=load_config("embedding", environ={}),
        templates={"bare": dict(assertions.Template.from_stack(stack).to_json())},
        validation_report={},
        stacks={"bare": stack},
    )
    (document,) = [d for _, d in policy_documents(synthesized)]
    assert any("secretsmanager:GetSecretValue" in json.dumps(st) for st in document["Statement"])
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=False)
    assert [(f.issue, f.detail) for f in policy.findings] == []
