"""Compliance packs (cdk-nag 3) on every stack, and the one way to acknowledge a finding: scoped, with a reason."""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct


def add_compliance_checks(app: cdk.App) -> None:
    """AwsSolutions, HIPAA and NIST 800-53 R5 on every stack; an unacknowledged error fails the synth."""
    cdk.Validations.of(app).add_plugins(
        cdk_nag.AwsSolutionsChecks(app),
        cdk_nag.HIPAASecurityChecks(app),
        cdk_nag.NIST80053R5Checks(app),
    )


def acknowledge(scope: IConstruct, reason: str, *rules: str) -> None:
    """Acknowledge findings on `scope` and its children only; the reason is what a reviewer reads.

    Rules are named as the packs print them, e.g. `AwsSolutions-IAM5` or `HIPAA.Security-IAMNoInlinePolicy`, or
    with a finding, e.g. `AwsSolutions-IAM5[Resource::arn:aws:logs:us-east-1:<AWS::AccountId>:log-group:/x/*]` (the
    pack is named before the finding, which may itself contain '-').
    """
    cdk.Validations.of(scope).acknowledge(
        *(cdk.Acknowledgment(id=f"{rule.split('[', 1)[0].rsplit('-', 1)[0]}::{rule}", reason=reason) for rule in rules)
    )


def acknowledge_in_hipaa_and_nist(scope: IConstruct, reason: str, *rules: str) -> None:
    """The HIPAA and NIST 800-53 R5 packs share rule names; acknowledge one in both."""
    acknowledge(scope, reason, *(f"{pack}-{rule}" for rule in rules for pack in ("HIPAA.Security", "NIST.800.53.R5")))
