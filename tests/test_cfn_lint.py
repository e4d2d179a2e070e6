"""cfn-lint over every synthesized template of every profile: zero errors, and only the warnings listed here."""

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
