"""checkov (CloudFormation checks, from requirements-checkov.lock) over every synthesized template of every profile.

One checkov process scans all templates, started when collection ends so it overlaps the other tests
(tests/support/background.py). Every finding must be listed in compliance/checkov_accepted.py with its reason, as
cdk-nag findings are acknowledged: a finding not listed fails, and so does a listed one that no template produces
any more. A deliberately insecure template scanned in the same run shows the wiring reports what it should.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest

from compliance.checkov_accepted import ACCEPTED, AcceptedFinding
from config import available_profiles
from tests.support.harness import CHECKOV_CANARY, checkov_file, checkov_results, synth

Finding = tuple[str, str, str]  # (check id, unit, logical id)


@cache
def report() -> dict[str, Any]:
    return checkov_results().report()


def failed_by_file() -> dict[str, set[tuple[str, str]]]:
    """Scanned file name -> {(check id, logical id)} of its failed checks."""
    found: dict[str, set[tuple[str, str]]] = {}
    for check in report()["results"]["failed_checks"]:
        _, logical = check["resource"].split(".", 1)  # "AWS::S3::Bucket.AccessLogs8B620ECA"
        found.setdefault(check["file_path"].lstrip("/"), set()).add((check["check_id"], logical))
    return found


def findings(profile: str) -> set[Finding]:
    failed = failed_by_file()
    return {
        (check, unit, logical)
        for unit in synth(profile).templates
        for check, logical in failed.get(checkov_file(profile, unit), set())
    }


def covers(entry: AcceptedFinding, finding: Finding) -> bool:
    check, unit, logical = finding
    return check in entry.checks and unit in entry.units and re.fullmatch(entry.logical_id, logical) is not None


def test_checkov_scanned_every_resource_of_every_template() -> None:
    """Nothing parsed away or skipped: the summary counts every resource of every template (and the canary's)."""
    templates = [t for profile in available_profiles() for t in synth(profile).templates.values()]
    canary = json.loads(CHECKOV_CANARY.read_text())
    summary = report()["summary"]
    assert (summary["parsing_errors"], summary["skipped"]) == (0, 0)
    assert summary["resource_count"] == sum(len(t["Resources"]) for t in [*templates, canary])
    assert summary["checkov_version"] == "3.3.30"  # requirements-checkov.in


@pytest.mark.parametrize("profile", available_profiles())
def test_checkov_reports_nothing_unlisted(profile: str) -> None:
    unlisted = sorted(f for f in findings(profile) if not any(covers(entry, f) for entry in ACCEPTED))
    assert unlisted == [], "fix the resource, or list the finding with its reason in compliance/checkov_accepted.py"


def test_every_listed_finding_still_occurs() -> None:
    """Each (check, unit) of each entry matches a finding in some profile; else its reason describes nothing."""
    occurring = {f for profile in available_profiles() for f in findings(profile)}
    stale = [
        (check, unit, entry.logical_id)
        for entry in ACCEPTED
        for check in entry.checks
        for unit in entry.units
        if not any(covers(AcceptedFinding((check,), (unit,), entry.logical_id, entry.reason), f) for f in occurring)
    ]
    assert stale == []


def test_checkov_reports_the_insecure_canary() -> None:
    """The check can fail: the canary's bucket, key and policy come back with exactly these findings."""
    assert failed_by_file()[CHECKOV_CANARY.name] == {
        ("CKV_AWS_18", "PlainBucket"),  # access logging
        ("CKV_AWS_21", "PlainBucket"),  # versioning
        ("CKV_AWS_53", "PlainBucket"),  # block public ACLs
        ("CKV_AWS_54", "PlainBucket"),  # block public policy
        ("CKV_AWS_55", "PlainBucket"),  # ignore public ACLs
        ("CKV_AWS_56", "PlainBucket"),  # restrict public buckets
        ("CKV_AWS_7", "UnrotatedKey"),  # key rotation
        ("CKV_AWS_108", "ReadEverything"),  # s3:GetObject on '*' (data exfiltration)
    }


def test_an_unlisted_finding_is_not_covered() -> None:
    """The matching is exact: another check, unit or resource than an entry names is not covered by it."""
    entry = AcceptedFinding(("CKV_AWS_18",), ("platform",), r"AccessLogs[0-9A-F]{8}", "x" * 60)
    assert covers(entry, ("CKV_AWS_18", "platform", "AccessLogs8B620ECA"))
    assert not covers(entry, ("CKV_AWS_21", "platform", "AccessLogs8B620ECA"))
    assert not covers(entry, ("CKV_AWS_18", "hyperpod", "AccessLogs8B620ECA"))
    assert not covers(entry, ("CKV_AWS_18", "platform", "ScriptsAccessLogsF5581925"))
    assert not covers(entry, ("CKV_AWS_18", "platform", "AccessLogs8B620ECAExtra"))
    with pytest.raises(ValueError, match="too short"):
        AcceptedFinding(("CKV_AWS_18",), ("platform",), "AccessLogs", "logs")
