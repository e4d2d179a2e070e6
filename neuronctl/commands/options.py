"""The options every command takes (profile, region, credentials, output, retries, --debug) and the argument types
the commands share."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, TypeAlias

DEFAULT_PROFILE = "dev"

if TYPE_CHECKING:
    # What `add_subparsers()` returns, each command module adds its parser to it (argparse has no public name for it).
    Subcommands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def common_options() -> argparse.ArgumentParser:
    """A parent parser with the options every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--profile",
        default=os.environ.get("NEURONCTL_PROFILE", DEFAULT_PROFILE),
        help="project profile (config/<profile>.yaml) whose stacks to use; env NEURONCTL_PROFILE "
        "(default: %(default)s)",
    )
    common.add_argument("--region", help="AWS region (default: the profile's region)")
    common.add_argument("--aws-profile", help="AWS credentials profile (default: the usual boto3 chain)")
    common.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    common.add_argument(
        "--max-attempts",
        type=positive_int,
        default=3,
        help="requests per AWS call, first try included (standard retry mode; default %(default)s)",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    return common
