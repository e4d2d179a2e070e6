"""cfn-lint over every synthesized template of every profile: zero errors, and only the warnings listed here."""

import json

import pytest

from config import available_profiles
from tests.support.harness import lint_results

# Warnings we accept, each with the reason; anything else fails.
ACCEPTED_WARNINGS: dict[str, str] = {
    "W3005": "CDK's generated custom-resource providers (auto-delete objects, restrict default security group) "
    "declare a DependsOn on their role that a GetAtt already implies; redundant, not wrong",
}


@pytest.mark.parametrize("profile", available_profiles())
def test_templates_pass_cfn_lint(profile: str) -> None:
    findings = [
        f"{unit}: {rule} {message} ({path})"
        for unit, future in lint_results(profile).items()
        for rule, message, path in future.result(timeout=300)
        if rule not in ACCEPTED_WARNINGS
    ]
    assert findings == []


def test_cfn_lint_reports_an_error_it_is_shown() -> None:
    """The background runner surfaces findings: a template with a bad property type comes back with its error."""
    from tests.support.background import submit_lint

    bad = '{"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": "often"}}}}'
    findings = submit_lint(bad, "us-east-1").result(timeout=120)
    assert any(rule.startswith("E") and "EnableKeyRotation" in path for rule, _, path in findings), findings


def test_the_background_lint_finds_what_cfn_lints_own_api_finds() -> None:
    """The workers reuse one rule set (tests/support/background.py); cfn-lint's api builds it anew each time. On a
    template with findings of three rules (an unused parameter, a property of the wrong type, an unknown IAM action),
    both must report the same."""
    from cfnlint.api import ManualArgs, lint

    from tests.support.background import submit_lint

    template = json.dumps(
        {
            "Parameters": {"Unused": {"Type": "String"}},
            "Resources": {
                "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": "often"}},
                "Policy": {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}],
                        }
                    },
                },
            },
        }
    )
    ours = submit_lint(template, "us-east-1").result(timeout=120)
    api = lint(template, config=ManualArgs(regions=["us-east-1"]))
    assert sorted(ours) == sorted((m.rule.id, m.message, "/".join(map(str, m.path))) for m in api)
    assert sorted(rule for rule, _, _ in ours) == ["E3012", "W2001", "W3037"]
