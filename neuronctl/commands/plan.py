"""`neuronctl plan`: the feasible Neuron configurations for a model (the synth pre-flight's arithmetic, priced), or with
`--train` the training-memory pre-flight (neuronctl/train_plan.py)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from neuronctl import output
from neuronctl.commands.options import positive_int
from neuronctl.errors import EXIT_CODES_HELP, CliError, ExitCode

if TYPE_CHECKING:
    from neuronctl.commands.options import Subcommands
    from neuronctl.context import Context


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    from neuron.catalog import TENSOR_PARALLEL_DEGREES
    from neuron.serving import SERVERS
    from neuron.sizing import DTYPE_BYTES, QUANTIZATION_BYTES
    from neuronctl.plan import DEFAULT_SOURCE, SOURCES

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
    p.add_argument("--lora-rank", type=positive_int, default=16, help="--train: LoRA rank (default %(default)s)")
    p.add_argument("--micro-batch", type=positive_int, default=1, help="--train: sequences per core and step")
    p.add_argument("--teacher", help="--train: distillation teacher preset")
    p.add_argument("--no-zero-1", action="store_true", help="--train: optimizer state on every data-parallel rank")
    p.add_argument("--batch", type=positive_int, default=4, help="batch size (default %(default)s)")
    p.add_argument("--seq", type=positive_int, default=4096, help="sequence length (default %(default)s)")
    p.add_argument(
        "--prompt-tokens",
        type=positive_int,
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
        choices=SOURCES,
        default=DEFAULT_SOURCE,
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
    p.set_defaults(handler=handle)


def handle(ctx: Context) -> int:
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
