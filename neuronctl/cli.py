"""The `neuronctl` command: argument parsing, one handler per subcommand, and errors turned into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from neuronctl import __version__, output
from neuronctl.errors import EXIT_CODES_HELP, CliError, ExitCode, explain

DEFAULT_PROFILE = "dev"


class Context:
    """What a handler needs, built only when it asks: the profile's config, AWS clients, the deployed stacks."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    @cached_property
    def config(self) -> Any:
        from config import ConfigError, load_config

        try:
            return load_config(self.args.profile)
        except ConfigError as err:
            raise CliError(str(err), ExitCode.USAGE) from None

    @cached_property
    def aws(self) -> Any:
        from neuronctl.session import Aws, AwsOptions

        extra: dict[str, Any] = {}
        if getattr(self.args, "read_timeout", None):
            extra["runtime_read_timeout"] = self.args.read_timeout
        return Aws(
            AwsOptions(
                region=self.args.region or self.config.region,
                aws_profile=self.args.aws_profile,
                max_attempts=self.args.max_attempts,
                **extra,
            )
        )

    @cached_property
    def deployment(self) -> Any:
        from neuronctl.discovery import Deployment

        return Deployment(self.config, self.aws)


# ----------------------------------------------------------------------------------------------------------------
# plan
# ----------------------------------------------------------------------------------------------------------------
def cmd_plan(ctx: Context) -> int:
    from neuron.catalog import ContainerKind
    from neuron.models import ModelConfigError, UnknownModelError
    from neuron.sizing import SizingError
    from neuronctl import plan, prices

    a = ctx.args
    if a.train:
        from neuronctl.train_plan import cmd_plan_train

        return cmd_plan_train(ctx)
    if a.model is None:  # argparse's own wording and exit code: the positional is optional only with --train
        print("neuronctl plan: error: the following arguments are required: model (or --train)", file=sys.stderr)
        raise SystemExit(ExitCode.USAGE)
    try:
        arch = plan.resolve_model(a.model)
        server = ContainerKind(a.server) if a.server else plan.default_server(arch)
        rows = plan.plan(
            arch,
            batch_size=a.batch,
            sequence_length=a.seq,
            dtype=a.dtype,
            quantization=a.quant,
            families=tuple(a.family or plan.SERVING_FAMILIES),
            category="ec2-on-demand" if a.pricing == "ec2" else "sagemaker-hosting",
            source=a.source,
            server=server,
            prompt_tokens=a.prompt_tokens,
        )
    except (UnknownModelError, ModelConfigError, SizingError) as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    shape = (
        f"{arch.name}: {arch.billions:.1f}B parameters, {a.dtype}{', ' + a.quant + ' weights' if a.quant else ''},"
        f" batch {a.batch}, sequence {a.seq}"
    )
    accepted = any(r.accepted for r in rows)
    evidence = plan.evidence(arch, server)
    if a.json:
        output.dump_json(
            {
                "model": arch.name,
                "model_source": arch.source,
                "batch_size": a.batch,
                "sequence_length": a.seq,
                "prompt_tokens": a.prompt_tokens if a.prompt_tokens is not None else a.seq // 2,
                "dtype": a.dtype,
                "quantization": a.quant,
                "source": a.source,
                "server": server.value,
                "pricing": a.pricing,
                "prices": prices.provenance(),
                "estimate": evidence.as_json(),
                "configurations": [r.as_json() for r in rows],
            }
        )
        return ExitCode.OK if accepted else ExitCode.REFUSED
    if not rows:
        raise CliError(
            f"nothing in the catalog holds {shape} on {', '.join(a.family or plan.SERVING_FAMILIES)}: "
            "lower --batch or --seq, or try --quant int8",
            ExitCode.REFUSED,
        )
    print(f"{shape}, {server.value} from {a.source}")
    price_label = "EC2 $/h" if a.pricing == "ec2" else "SageMaker $/h"
    print(
        output.table(
            [
                "instance",
                "degree",
                "replicas",
                "GiB used/avail",
                "heads Q/KV",
                "tok/s exp",
                "ITL ms",
                "TTFT ms",
                "tok/s<=",
                price_label,
                "$/1M out exp",
                "$/1M@bound",
                "",
            ],
            [_plan_row(r) for r in rows],
            right=tuple(range(1, 12)),
        )
    )
    for line in evidence.lines():
        output.note(line)
    output.note(prices.provenance())
    if not accepted:
        fix = (
            "--source compiled (set the model's compiled_artifacts to a pre-compiled export)"
            if a.source != "compiled"
            else "a smaller model"
        )
        raise CliError(
            f"the pre-flight refuses every configuration above for {server.value} from {a.source}: "
            f"{'; '.join(rows[0].refusals)}. Fix: {fix}",
            ExitCode.REFUSED,
        )
    return ExitCode.OK


def _plan_row(r: Any) -> list[Any]:
    e, heads = r.estimate, r.fit.heads
    return [
        r.fit.instance_type,
        r.fit.degree,
        r.fit.replicas_per_instance,
        f"{r.fit.used_gib:.1f}/{r.fit.available_gib:.0f}",
        "n/a" if heads is None else f"{heads.padded_heads}/{heads.padded_kv_heads}",
        "n/a" if e is None else f"{e.tokens_per_second:,.0f}{'*' if e.extrapolated else ''}",
        "n/a" if e is None else f"{e.itl_ms:.1f}",
        "n/a" if e is None or e.ttft_ms is None else f"{e.ttft_ms:,.0f}",
        "n/a" if r.tokens_per_second is None else f"{r.tokens_per_second:,.0f}",
        output.money(r.hourly),
        output.money(r.expected_per_million_tokens),
        output.money(r.per_million_tokens),
        _plan_verdict(r),
    ]


def _plan_verdict(row: Any) -> str:
    if row.refusals:
        return "refused: " + ", ".join("start-up" if r.startswith("start-up") else "volume" for r in row.refusals)
    return "smallest fit (pre-flight)" if row.smallest else ""


# ----------------------------------------------------------------------------------------------------------------
# cost
# ----------------------------------------------------------------------------------------------------------------
def cmd_cost(ctx: Context) -> int:
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


# ----------------------------------------------------------------------------------------------------------------
# invoke
# ----------------------------------------------------------------------------------------------------------------
def cmd_invoke(ctx: Context) -> int:
    from neuronctl import invoke, prompts

    a = ctx.args
    text = _read_prompt(a)
    examples = prompts.load_examples(Path(a.examples)) if a.examples else None
    prompt = prompts.build_prompt(text, examples, a.shots)
    grounding = Path(a.grounding_file).read_text() if a.grounding_file else None
    request = invoke.InvokeRequest(
        prompt=prompt,
        overrides=invoke.settings_from_args(vars(a)),
        model=a.model,
        endpoint=a.endpoint,
        component=a.component,
        server=a.server,
        context_window=a.context_window,
        token_margin=a.token_margin,
        stream=a.stream,
        guardrail=a.guardrail,
        grounding=grounding,
        wait_ready_s=a.wait_ready,
        allow_temperature_and_top_p=a.allow_temperature_and_top_p,
    )
    deployment = None if a.endpoint and not a.guardrail else ctx.deployment
    result = invoke.invoke(ctx.aws, deployment, request, stream_to=None if a.json else sys.stdout)
    invoke.print_result(result, as_json=a.json)
    return ExitCode.OK


def _read_prompt(a: argparse.Namespace) -> str:
    if a.prompt_file:
        try:
            return sys.stdin.read() if a.prompt_file == "-" else Path(a.prompt_file).read_text()
        except OSError as err:
            raise CliError(f"cannot read --prompt-file {a.prompt_file}: {err.strerror}", ExitCode.USAGE) from None
    if a.prompt is None:
        raise CliError("give a prompt: neuronctl invoke 'TEXT' or --prompt-file FILE (- for stdin)", ExitCode.USAGE)
    return str(a.prompt)


# ----------------------------------------------------------------------------------------------------------------
# run
# ----------------------------------------------------------------------------------------------------------------
def cmd_run_start(ctx: Context) -> int:
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


def cmd_run_status(ctx: Context) -> int:
    from neuronctl import run

    arn = run.execution_arn(ctx.deployment, ctx.args.workflow, ctx.args.run)
    return run.finish(run.progress(ctx.aws.client, arn), as_json=ctx.args.json)


def cmd_run_watch(ctx: Context) -> int:
    from neuronctl import run

    return _watch(ctx, run.execution_arn(ctx.deployment, ctx.args.workflow, ctx.args.run))


def _watch(ctx: Context, arn: str) -> int:
    from neuronctl import run

    item = run.watch(ctx.aws.client, arn, interval=ctx.args.interval, timeout=ctx.args.timeout)
    return run.finish(item, as_json=ctx.args.json, watched=True)


# ----------------------------------------------------------------------------------------------------------------
# capacity
# ----------------------------------------------------------------------------------------------------------------
def cmd_capacity(ctx: Context) -> int:
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


# ----------------------------------------------------------------------------------------------------------------
# parser
# ----------------------------------------------------------------------------------------------------------------
def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO date or time, e.g. 2026-12-01 or 2026-12-01T08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    from neuron.catalog import TENSOR_PARALLEL_DEGREES
    from neuron.serving import SERVERS
    from neuron.sizing import DTYPE_BYTES, QUANTIZATION_BYTES
    from neuronctl.plan import DEFAULT_SOURCE as DEFAULT_PLAN_SOURCE
    from neuronctl.plan import SOURCES as PLAN_SOURCES
    from neuronctl.servers import PROTOCOLS

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
        type=_positive_int,
        default=3,
        help="requests per AWS call, first try included (standard retry mode; default %(default)s)",
    )
    common.add_argument("--debug", action="store_true", help="show tracebacks")

    parser = argparse.ArgumentParser(
        prog="neuronctl",
        description="Operate the Neuron GenAI platform: plan, cost, invoke, run, capacity.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"neuronctl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "plan",
        parents=[common],
        help="feasible Neuron configurations for a model",
        description="Every instance and tensor-parallel degree that holds the model (the synth "
        "pre-flight's arithmetic), cheapest first.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument(
        "model",
        nargs="?",
        help="model preset (llama-3.1-8b, llama-3.1-70b, ...) or a Hugging Face config.json path",
    )
    p.add_argument(
        "--train",
        action="store_true",
        help="training memory per NeuronCore (the training pre-flight): without a model, the profile's lifecycle "
        "jobs; with one, the smallest split per Trainium instance type",
    )
    p.add_argument("--method", choices=("full", "lora"), help="--train: full fine-tune or LoRA (default lora)")
    p.add_argument("--lora-rank", type=_positive_int, default=16, help="--train: LoRA rank (default %(default)s)")
    p.add_argument("--micro-batch", type=_positive_int, default=1, help="--train: sequences per core and step")
    p.add_argument("--teacher", help="--train: distillation teacher preset")
    p.add_argument("--no-zero-1", action="store_true", help="--train: optimizer state on every data-parallel rank")
    p.add_argument("--batch", type=_positive_int, default=4, help="batch size (default %(default)s)")
    p.add_argument("--seq", type=_positive_int, default=4096, help="sequence length (default %(default)s)")
    p.add_argument(
        "--prompt-tokens",
        type=_positive_int,
        help="prompt length for the expected time to first token (default: half of --seq)",
    )
    p.add_argument("--dtype", choices=tuple(DTYPE_BYTES), default="bf16")
    p.add_argument("--quant", choices=tuple(QUANTIZATION_BYTES), help="weight quantization")
    p.add_argument(
        "--family",
        action="append",
        choices=tuple(TENSOR_PARALLEL_DEGREES),
        help="instance families to consider (repeatable; default inf2)",
    )
    p.add_argument(
        "--pricing",
        choices=("sagemaker", "ec2"),
        default="sagemaker",
        help="SageMaker hosting or EC2 on-demand prices (default %(default)s)",
    )
    p.add_argument(
        "--source",
        choices=PLAN_SOURCES,
        default=DEFAULT_PLAN_SOURCE,
        help="where the endpoint loads the model from, for the pre-flight's start-up and volume limits: "
        "hub (downloaded at start-up), s3 (downloaded before it), compiled (compiled_artifacts set); without "
        "compiled artifacts lmi-neuronx and the HF toolkit compile at start-up and tgi-neuronx and vllm-neuronx "
        "are refused (default %(default)s)",
    )
    p.add_argument(
        "--server",
        choices=tuple(k.value for k in SERVERS),
        help="serving container, for its start-up time (default: tgi-neuronx for decoders, else the "
        "first that serves the model)",
    )
    p.set_defaults(handler=cmd_plan)

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
    p.set_defaults(handler=cmd_cost)

    p = commands.add_parser(
        "invoke",
        parents=[common],
        help="send a prompt to the deployed endpoint",
        description="Generation settings default to the deployed defaults; the context window "
        "is checked before sending.",
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("prompt", nargs="?", help="the prompt text (or --prompt-file)")
    p.add_argument("--prompt-file", metavar="FILE", help="read the prompt from FILE (- for stdin)")
    p.add_argument("--model", help="model key of the endpoint (from the published defaults)")
    p.add_argument("--endpoint", help="endpoint name (default: the inference stack's EndpointName output)")
    p.add_argument("--component", help="inference component name")
    p.add_argument("--server", choices=tuple(PROTOCOLS), help="serving container (default: published)")
    p.add_argument("--examples", metavar="FILE", help="few-shot examples file (YAML/JSON; see neuronctl/examples)")
    p.add_argument("--shots", type=int, help="use the first N examples (0 = zero-shot; default: all)")
    p.add_argument("--temperature", type=float, help="0..2; 0 = greedy, 1 = neutral")
    p.add_argument("--top-p", dest="top_p", type=float, help="(0, 1]; 1 = neutral")
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int)
    p.add_argument("--frequency-penalty", dest="frequency_penalty", type=float, help="-2..2")
    p.add_argument("--presence-penalty", dest="presence_penalty", type=float, help="-2..2")
    p.add_argument("--stop", action="append", help="stop sequence (repeatable, up to 4)")
    p.add_argument(
        "--allow-temperature-and-top-p", action="store_true", help="permit altering both temperature and top_p"
    )
    p.add_argument("--context-window", type=_positive_int, help="override the published context window (tokens)")
    p.add_argument(
        "--token-margin",
        type=int,
        default=8,
        help="tokens reserved for the chat template and special tokens (default %(default)s)",
    )
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--stream", dest="stream", action="store_true", default=None, help="stream tokens")
    stream.add_argument("--no-stream", dest="stream", action="store_false", help="wait for the whole completion")
    p.add_argument(
        "--guardrail",
        action="store_true",
        help="apply the evaluation stack's Bedrock guardrail to the prompt and the completion",
    )
    p.add_argument("--grounding-file", metavar="FILE", help="reference text for the guardrail's grounding check")
    p.add_argument(
        "--wait-ready",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="keep retrying ModelNotReady / scale-from-zero this long (default %(default)s)",
    )
    p.add_argument(
        "--read-timeout",
        type=float,
        metavar="SECONDS",
        help="runtime read timeout (default 70, above the container's 60 s limit)",
    )
    p.set_defaults(handler=cmd_invoke)

    run = commands.add_parser(
        "run",
        help="start and watch lifecycle and evaluation runs",
        description="Lifecycle (pre-train -> fine-tune -> evaluate -> deploy) and evaluation workflows.",
        epilog=EXIT_CODES_HELP,
    )
    runs = run.add_subparsers(dest="action", required=True, metavar="ACTION")
    watching = argparse.ArgumentParser(add_help=False)
    watching.add_argument("--interval", type=float, default=15.0, help="seconds between polls (default %(default)s)")
    watching.add_argument("--timeout", type=float, help="stop watching after this many seconds (exit 6)")
    p = runs.add_parser("start", parents=[common, watching], help="start a run", epilog=EXIT_CODES_HELP)
    p.add_argument("workflow", choices=("lifecycle", "evaluation"))
    p.add_argument("--input", help="run input: a JSON object or @file.json")
    p.add_argument(
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="input parameter (repeatable; dots nest, values parse as JSON when they can)",
    )
    p.add_argument("--name", help="run name (unique for 90 days; default: generated)")
    p.add_argument("--watch", action="store_true", help="watch the run after starting it")
    p.set_defaults(handler=cmd_run_start)
    for action, handler, text in (
        ("status", cmd_run_status, "show a run's progress once"),
        ("watch", cmd_run_watch, "follow a run until it ends"),
    ):
        p = runs.add_parser(action, parents=[common, watching], help=text, epilog=EXIT_CODES_HELP)
        p.add_argument("workflow", choices=("lifecycle", "evaluation"))
        p.add_argument("run", nargs="?", help="execution ARN or run name (default: the latest run)")
        p.set_defaults(handler=handler)

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
    p.add_argument("--count", type=_positive_int, default=1, help="instances (default %(default)s)")
    p.add_argument("--hours", type=_positive_int, default=24, help="duration in hours (default %(default)s)")
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
    p.set_defaults(handler=cmd_capacity)
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
