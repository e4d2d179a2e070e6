"""`neuronctl run start|status|watch`: start and follow the lifecycle and evaluation workflows' runs."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from neuronctl import output
from neuronctl.errors import EXIT_CODES_HELP, ExitCode

# The kinds `run` starts and follows (neuronctl.run.WORKFLOWS, which imports boto3: not loaded for --help).
WORKFLOW_KINDS = ("lifecycle", "evaluation", "compile", "stage")

if TYPE_CHECKING:
    from neuronctl.commands.options import Subcommands
    from neuronctl.context import Context


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    run = commands.add_parser(
        "run",
        help="start and watch lifecycle, evaluation, compile and Hub staging runs",
        description="Lifecycle (pre-train -> fine-tune -> compile -> evaluate -> deploy), evaluation and Neuron "
        "compile workflows, and the Hub -> S3 staging workflow.",
        epilog=EXIT_CODES_HELP,
    )
    runs = run.add_subparsers(dest="action", required=True, metavar="ACTION")
    watching = argparse.ArgumentParser(add_help=False)
    watching.add_argument("--interval", type=float, default=15.0, help="seconds between polls (default %(default)s)")
    watching.add_argument("--timeout", type=float, help="stop watching after this many seconds (exit 6)")
    p = runs.add_parser("start", parents=[common, watching], help="start a run", epilog=EXIT_CODES_HELP)
    p.add_argument("workflow", choices=tuple(WORKFLOW_KINDS))
    p.add_argument("--input", help="run input: a JSON object or @file.json")
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="input parameter (repeatable; dots nest, values parse as JSON when they can)",
    )
    p.add_argument("--name", help="run name (unique for 90 days; default: generated)")
    p.add_argument("--watch", action="store_true", help="watch the run after starting it")
    p.set_defaults(handler=start)
    for action, handler, text in (
        ("status", status, "show a run's progress once"),
        ("watch", watch, "follow a run until it ends"),
    ):
        p = runs.add_parser(action, parents=[common, watching], help=text, epilog=EXIT_CODES_HELP)
        p.add_argument("workflow", choices=tuple(WORKFLOW_KINDS))
        p.add_argument("run", nargs="?", help="execution ARN or run name (default: the latest run)")
        p.set_defaults(handler=handler)


def start(ctx: Context) -> int:
    from neuronctl import run

    a = ctx.args
    started = run.start(ctx.deployment, a.workflow, run.parse_input(a.input, a.param or []), a.name)
    if not a.watch:
        if a.json:
            output.dump_json(started)
        else:
            print(started["executionArn"])
        return ExitCode.OK
    output.note(f"started {started['executionArn']}")
    return _watch(ctx, started["executionArn"])


def status(ctx: Context) -> int:
    from neuronctl import run

    arn = run.execution_arn(ctx.deployment, ctx.args.workflow, ctx.args.run)
    return run.finish(run.progress(ctx.aws.client, arn), as_json=ctx.args.json)


def watch(ctx: Context) -> int:
    from neuronctl import run

    return _watch(ctx, run.execution_arn(ctx.deployment, ctx.args.workflow, ctx.args.run))


def _watch(ctx: Context, arn: str) -> int:
    from neuronctl import run

    item = run.watch(ctx.aws.client, arn, interval=ctx.args.interval, timeout=ctx.args.timeout)
    return run.finish(item, as_json=ctx.args.json, watched=True)
