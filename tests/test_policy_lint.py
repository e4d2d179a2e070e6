"""parliament, a linter made for IAM policies (unknown actions, resources that do not match the action, bad condition
keys, '*' where the action takes a resource), over every identity policy of every profile and region in the matrix.

Every remaining finding is listed in ALLOWED with its reason, as cdk-nag acknowledgements are: a finding not listed
fails, and so does a listed one that no policy produces any more.
"""

from __future__ import annotations

import json
import warnings
from functools import cache

import pytest

from config import available_profiles
from tests.support.harness import synth
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
