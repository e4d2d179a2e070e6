"""Synthesize each profile once per test session and share the result.

Unit tests run with aws-cdk-lib's built-in CloudFormation validator off (it costs seconds per synth); one test in
test_synth.py turns it on.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

os.environ.setdefault("CDK_VALIDATION", "false")  # read when aws_cdk is imported

import aws_cdk as cdk
from aws_cdk import assertions

from config import AppConfig, available_profiles, load_config
from stacks.deployment import build_stacks
from tests.support.background import CheckovRun, start_checkov, submit_lint

ROOT = Path(__file__).resolve().parents[2]  # the repository: tests/support/ is two levels down
# `cdk.App()` inside pytest does not read cdk.json: pass its feature flags explicitly.
CDK_CONTEXT: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Synthesized:
    config: AppConfig
    templates: dict[str, dict[str, Any]]  # unit ("platform", "inference", ...) -> template JSON
    validation_report: dict[str, Any]  # the policy-validation report: every nag finding, acknowledged or not
    stacks: dict[str, cdk.Stack]  # the constructed stacks, for the Python handoffs they expose

    def template(self, unit: str) -> assertions.Template:
        return assertions.Template.from_json(self.templates[unit], skip_cyclical_dependencies_check=True)

    def resources(self, unit: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[unit]["Resources"].items() if v["Type"] == resource_type}

    def only(self, unit: str, resource_type: str) -> dict[str, Any]:
        """The properties of the single resource of a type; fails when there are none or several."""
        found = self.resources(unit, resource_type)
        assert len(found) == 1, f"expected one {resource_type} in {unit}, found {sorted(found)}"
        properties: dict[str, Any] = next(iter(found.values())).get("Properties", {})
        return properties

    def workflow(self, unit: str) -> dict[str, Any]:
        """The properties of a stack's workflow state machine (the lifecycle stack also has its candidate clean-up's,
        whose logical id starts with `CandidateCleanup`)."""
        found: list[dict[str, Any]] = [
            r.get("Properties", {})
            for k, r in self.resources(unit, "AWS::StepFunctions::StateMachine").items()
            if not k.startswith("CandidateCleanup")
        ]
        (properties,) = found
        return properties


def synth_config(config: AppConfig, *, builtin_validation: bool = False) -> Synthesized:
    app = cdk.App(context=CDK_CONTEXT, builtin_cloud_formation_validation=builtin_validation)
    stacks = build_stacks(app, config)
    assembly = app.synth()
    return Synthesized(
        config=config,
        templates={unit: assembly.get_stack_by_name(stack.stack_name).template for unit, stack in stacks.items()},
        validation_report=json.loads((Path(assembly.directory) / "validation-report.json").read_text()),
        stacks=stacks,
    )


@cache
def synth(profile: str = "dev", overrides_json: str = "{}") -> Synthesized:
    """Synthesize a profile (with optional JSON overrides) once per session."""
    return synth_config(load_config(profile, json.loads(overrides_json), environ={}))


@cache
def lint_results(profile: str) -> dict[str, Future[list[tuple[str, str, str]]]]:
    """cfn-lint findings per unit of a profile, computed in background workers (see tests/support/background.py)."""
    synthesized = synth(profile)
    return {
        unit: submit_lint(json.dumps(template), synthesized.config.region)
        for unit, template in synthesized.templates.items()
    }


# A template checkov must fail (an unencrypted, unversioned, unlogged bucket; a key without rotation), scanned in the
# same run as the profiles' so a run that checks nothing cannot pass.
CHECKOV_CANARY = ROOT / "tests" / "fixtures" / "checkov_canary.json"


def checkov_file(profile: str, unit: str) -> str:
    return f"{profile}.{unit}.json"


@cache
def checkov_results() -> CheckovRun:
    """checkov over every unit of every profile and the canary, one process for the session (background.py)."""
    templates = {
        checkov_file(profile, unit): json.dumps(template)
        for profile in available_profiles()
        for unit, template in synth(profile).templates.items()
    }
    return start_checkov({**templates, CHECKOV_CANARY.name: CHECKOV_CANARY.read_text()})


def synth_with(profile: str, **overrides: Any) -> Synthesized:
    return synth(profile, json.dumps(overrides, sort_keys=True))
