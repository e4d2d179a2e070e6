"""`neuronctl invoke`: send a prompt to the deployed endpoint, with the deployed generation defaults and the context
window checked before sending."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from neuronctl.commands.options import positive_int
from neuronctl.errors import EXIT_CODES_HELP, CliError, ExitCode

if TYPE_CHECKING:
    from neuronctl.commands.options import Subcommands
    from neuronctl.context import Context


def register(commands: Subcommands, common: argparse.ArgumentParser) -> None:
    from neuronctl.servers import PROTOCOLS

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
    p.add_argument("--context-window", type=positive_int, help="override the published context window (tokens)")
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
    p.set_defaults(handler=handle)


def handle(ctx: Context) -> int:
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
