"""`neuronctl cost`: the hourly and monthly cost of what a profile deploys, priced from the dated price table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from neuronctl import output
from neuronctl.errors import EXIT_CODES_HELP, ExitCode

if TYPE_CHECKING:
    from neuronctl.commands.options import Subcommands
    from neuronctl.context import Context


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "cost",
        parents=[common],
        help="hourly and monthly cost of a profile's resources",
        description="Prices what the profile deploys (synthesized templates) from the dated price table.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument(
        "--assembly",
        metavar="DIR",
        help="read templates from a cloud assembly (cdk.out) instead of synthesizing in-process",
    )
    p.set_defaults(handler=handle)


def handle(ctx: Context) -> int:
    from neuronctl import cost, prices

    config = ctx.config
    templates = cost.read_assembly(Path(ctx.args.assembly), config) if ctx.args.assembly else cost.synthesize(config)
    result = cost.report(config, templates)
    if ctx.args.json:
        output.dump_json(result.as_json())
        return ExitCode.OK
    print(f"profile {config.profile} ({config.region}): always-on resources")
    print(
        output.table(
            ["stack", "resource", "kind", "instance", "count", "min..max", "$/h each", "$/h", "$/month"],
            [
                [
                    line.stack,
                    line.resource,
                    line.kind,
                    line.instance_type,
                    line.count,
                    "fixed"
                    if line.min_count is None and line.max_count is None
                    else f"{line.min_count}..{line.max_count}",
                    output.money(line.hourly_each),
                    output.money(line.hourly),
                    output.money(None if line.hourly is None else line.hourly * prices.HOURS_PER_MONTH),
                ]
                for line in result.always_on
            ]
            or [["-", "none", "", "", "", "", "", "", ""]],
            right=(4, 6, 7, 8),
        )
    )
    now, floor, ceiling = (result.total_hourly(w) for w in ("now", "floor", "ceiling"))
    print(
        f"total: {output.money(now)}/hour, {output.money(now * prices.HOURS_PER_MONTH)}/month "
        f"({prices.HOURS_PER_MONTH} h) as deployed; scaling range {output.money(floor)}.."
        f"{output.money(ceiling)}/hour"
    )
    if result.per_run:
        print("\nper run (billed only while a job runs; not in the total)")
        print(
            output.table(
                ["stack", "resource", "kind", "instance", "count", "$/h each", "$/h per run"],
                [
                    [
                        line.stack,
                        line.resource,
                        line.kind,
                        line.instance_type,
                        line.count,
                        output.money(line.hourly_each),
                        output.money(line.hourly),
                    ]
                    for line in result.per_run
                ],
                right=(4, 5, 6),
            )
        )
    if any(line.kind == "hyperpod" for line in result.lines):
        output.note("HyperPod instance groups are priced at the SageMaker training rates of neuronctl/prices.yaml")
    if result.unpriced:
        output.note(f"no list price in neuronctl/prices.yaml for: {', '.join(result.unpriced)} (counted as $0)")
    warning = prices.region_warning(config.region)
    if warning:
        output.note(warning)
    output.note(prices.provenance())
    return ExitCode.OK
