"""Wire the stacks of one profile into an App: the only place that knows which stacks exist."""

from __future__ import annotations

import aws_cdk as cdk

from cdk_constructs.compliance import add_compliance_checks
from config import AppConfig
from stacks.platform import PlatformStack


def build_stacks(app: cdk.App, config: AppConfig) -> dict[str, cdk.Stack]:
    env = cdk.Environment(account=config.account, region=config.region)
    platform = PlatformStack(app, config.stack_name("platform"), config=config, env=env)
    stacks: dict[str, cdk.Stack] = {"platform": platform}
    for key, value in {**config.tags, "profile": config.profile}.items():
        cdk.Tags.of(app).add(key, value)
    add_compliance_checks(app)
    return stacks
