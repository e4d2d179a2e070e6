"""cfn-lint over every synthesized template of every profile: zero errors, and only the warnings listed here."""

import json

import pytest
from cfnlint.api import ManualArgs, lint

from config import available_profiles
from tests.harness import synth

# Warnings we accept, each with the reason; anything else fails.
ACCEPTED_WARNINGS: dict[str, str] = {
    "W3005": "CDK's generated custom-resource providers (auto-delete objects, restrict default security group) "
    "declare a DependsOn on their role that a GetAtt already implies; redundant, not wrong",
}


@pytest.mark.parametrize("profile", available_profiles())
def test_templates_pass_cfn_lint(profile: str) -> None:
    synthesized = synth(profile)
    findings = []
    for unit, template in synthesized.templates.items():
        matches = lint(json.dumps(template), config=ManualArgs(regions=[synthesized.config.region]))
        findings += [f"{unit}: {m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches
                     if m.rule.id not in ACCEPTED_WARNINGS]
    assert findings == []
