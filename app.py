#!/usr/bin/env python3
"""Build the CDK app for the profile chosen with `-c profile=NAME` (default: dev). No resources are defined here."""

import sys

import aws_cdk as cdk

from config import load_config
from neuron.errors import UserError
from stacks.deployment import build_stacks


def main() -> None:
    app = cdk.App()
    profile = app.node.try_get_context("profile") or "dev"
    overrides = {"region": app.node.try_get_context("region")} if app.node.try_get_context("region") else None
    try:
        config = load_config(profile, overrides)
        build_stacks(app, config)
    except UserError as err:  # a setting to fix; anything else is a bug and keeps its traceback
        sys.exit(f"error: {err}")
    app.synth()


if __name__ == "__main__":
    main()
