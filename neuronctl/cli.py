"""The `neuronctl` command: the top-level parser over the command modules (neuronctl/commands/), and every error
turned into one line and an exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from neuronctl import __version__, output
from neuronctl.commands import COMMANDS
from neuronctl.commands.options import common_options
from neuronctl.context import Context
from neuronctl.errors import EXIT_CODES_HELP, CliError, ExitCode, explain


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuronctl",
        description="Operate the Neuron GenAI platform: plan, cost, invoke, run, capacity.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"neuronctl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for command in COMMANDS:
        command.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[Context], int] = args.handler
    try:
        return int(handler(Context(args)))
    except KeyboardInterrupt:
        output.note("interrupted")
        return ExitCode.INTERRUPTED
    except Exception as err:
        if getattr(args, "debug", False):
            raise
        try:
            failure = explain(err)
        except Exception:  # a bug, not an AWS failure: still one line; --debug shows the traceback
            failure = CliError(f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback)")
        print(f"neuronctl: error: {failure.message}", file=sys.stderr)
        return failure.code
