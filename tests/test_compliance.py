"""cdk-nag on every stack of every profile: no finding left open, and every acknowledgement scoped and explained."""

import pytest

from config import available_profiles
from tests.support.harness import synth

# A pack with nothing to report (no finding, no acknowledgement) leaves no entry; these two always have some.
PACKS_WITH_ACKNOWLEDGEMENTS = {"HIPAA.Security", "NIST.800.53.R5"}


@pytest.mark.parametrize("profile", available_profiles())
def test_no_open_findings_not_even_warnings(profile: str) -> None:
    reports = synth(profile).validation_report["pluginReports"]
    assert {r["pluginName"] for r in reports} >= PACKS_WITH_ACKNOWLEDGEMENTS
    open_findings = [
        f"{r['pluginName']}: {v['ruleName']} at {[c['constructPath'] for c in v['violatingConstructs']]}"
        for r in reports
        for v in r["violations"]
    ]
    assert open_findings == []
    assert all(r["conclusion"] == "success" for r in reports)


@pytest.mark.parametrize("profile", available_profiles())
def test_every_acknowledgement_is_scoped_below_a_stack_and_has_a_reason(profile: str) -> None:
    synthesized = synth(profile)
    for report in synthesized.validation_report["pluginReports"]:
        for finding in report["suppressedViolations"]:
            where = finding["acknowledgedAt"]
            assert "/" in where, f"{finding['ruleName']} acknowledged for a whole stack ({where})"
            assert len(finding["reason"]) >= 40, f"{finding['ruleName']} at {where}: say why"
