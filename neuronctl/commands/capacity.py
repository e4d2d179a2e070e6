"""`neuronctl capacity`: reserved Trainium and Inferentia capacity, SageMaker training plan offerings and EC2 Capacity
Block offerings."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from neuronctl import output
from neuronctl.commands.options import positive_int
from neuronctl.errors import EXIT_CODES_HELP, ExitCode

if TYPE_CHECKING:
    from neuronctl.commands.options import Subcommands
    from neuronctl.context import Context


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "capacity",
        parents=[common],
        help="reserved Trainium/Inferentia capacity offerings",
        description="SageMaker training plan offerings and EC2 Capacity Block offerings, sorted "
        "by start date and price.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument(
        "--instance-type",
        action="append",
        help="instance type, ml.* or EC2 name (repeatable; default: the Neuron types training plans offer)",
    )
    p.add_argument("--count", type=positive_int, default=1, help="instances (default %(default)s)")
    p.add_argument("--hours", type=positive_int, default=24, help="duration in hours (default %(default)s)")
    p.add_argument("--start-after", type=_timestamp, help="earliest start (ISO date/time, UTC if no zone)")
    p.add_argument("--end-before", type=_timestamp, help="latest end (ISO date/time)")
    p.add_argument(
        "--source",
        action="append",
        choices=("training-plan", "capacity-block"),
        help="where to search (repeatable; default both)",
    )
    p.add_argument(
        "--target",
        choices=("training-job", "hyperpod-cluster", "endpoint"),
        default="training-job",
        help="what a training plan is for (default %(default)s)",
    )
    p.set_defaults(handler=handle)


def handle(ctx: Context) -> int:
    from neuronctl import capacity

    a = ctx.args
    types = a.instance_type or capacity.default_instance_types(ctx.aws)
    offerings, notes = capacity.search(
        ctx.aws,
        types,
        count=a.count,
        hours=a.hours,
        start_after=a.start_after,
        end_before=a.end_before,
        sources=tuple(a.source or capacity.SOURCES),
        target=a.target,
    )
    if a.json:
        output.dump_json({"offerings": [o.as_json() for o in offerings], "notes": notes})
    else:
        print(
            output.table(
                [
                    "start (UTC)",
                    "end (UTC)",
                    "source",
                    "instance",
                    "count",
                    "zone",
                    "hours",
                    "upfront",
                    "$/inst-h",
                    "id",
                ],
                [
                    [
                        o.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                        o.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                        o.source,
                        o.instance_type,
                        o.instance_count,
                        o.availability_zone,
                        f"{o.duration_hours:g}",
                        f"{o.upfront_fee:,.2f} {o.currency}",
                        output.money(o.per_instance_hour),
                        o.offering_id,
                    ]
                    for o in offerings
                ],
                right=(4, 6, 7, 8),
            )
            if offerings
            else "no offerings found"
        )
        for line in notes:
            output.note(line)
    return ExitCode.OK if offerings else ExitCode.NOT_FOUND


def _timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date or time, e.g. 2026-12-01 or 2026-12-01T08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
