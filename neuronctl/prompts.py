"""Zero-shot and few-shot prompts from an examples file, and the context-window check that runs before sending.

An examples file (YAML or JSON):

    instruction: Classify the sentiment of the review as positive or negative.
    template: "Review: {input}\\nSentiment: {output}"   # one example; the query uses it with an empty output
    separator: "\\n\\n"
    examples:
      - {input: "The battery lasts all day.", output: positive}

`--shots 0` sends the instruction and the query alone (zero-shot); `--shots N` the first N examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import Field, ValidationError, field_validator

from config.base import StrictModel
from config.loader import format_errors
from neuronctl import tokens
from neuronctl.errors import CliError, ExitCode


class Example(StrictModel):
    input: str = Field(min_length=1)
    output: str = Field(min_length=1)


class ExamplesFile(StrictModel):
    instruction: str = ""
    template: str = "Input: {input}\nOutput: {output}"
    separator: str = "\n\n"
    examples: list[Example] = Field(default_factory=list)

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        if "{input}" not in value or "{output}" not in value:
            raise ValueError("the template must contain both {input} and {output}")
        if not value.rstrip().endswith("{output}"):
            raise ValueError("the template must end with {output}, so the query ends where the model continues")
        try:
            value.format(input="", output="")
        except (KeyError, IndexError, ValueError) as err:
            raise ValueError(
                f"only {{input}} and {{output}} may appear in braces ({err}); write {{{{ for a brace"
            ) from None
        return value


def load_examples(path: Path) -> ExamplesFile:
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as err:
        raise CliError(f"cannot read examples file {path}: {err.strerror}", ExitCode.USAGE) from None
    except yaml.YAMLError as err:
        raise CliError(f"examples file {path} is not valid YAML/JSON: {err}", ExitCode.USAGE) from None
    try:
        return ExamplesFile.model_validate(raw or {})
    except ValidationError as err:
        raise CliError(format_errors(err, f"examples file {path}", ExamplesFile), ExitCode.USAGE) from None


@dataclass(frozen=True)
class Prompt:
    """The parts of a prompt, kept apart so the context check can say how many examples to drop."""

    instruction: str
    examples: tuple[str, ...]
    query: str
    separator: str = "\n\n"

    def text(self, shots: int | None = None) -> str:
        chosen = self.examples if shots is None else self.examples[:shots]
        return self.separator.join(part for part in (self.instruction, *chosen, self.query) if part)

    def tokens(self, shots: int | None = None) -> int:
        return tokens.estimate_tokens(self.text(shots))


def build_prompt(query: str, examples: ExamplesFile | None = None, shots: int | None = None) -> Prompt:
    if examples is None:
        return Prompt("", (), query)
    if shots is not None and shots > len(examples.examples):
        raise CliError(
            f"--shots {shots} asks for more examples than the file has ({len(examples.examples)})", ExitCode.USAGE
        )
    chosen = examples.examples if shots is None else examples.examples[:shots]
    rendered = tuple(examples.template.format(input=e.input, output=e.output) for e in chosen)
    head = examples.template[: examples.template.index("{output}")]
    return Prompt(examples.instruction.strip(), rendered, head.format(input=query).rstrip(" "), examples.separator)


@dataclass(frozen=True)
class TokenBudget:
    prompt_tokens: int
    max_new_tokens: int
    margin: int
    context_window: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.max_new_tokens + self.margin


def check_context_window(
    prompt: Prompt, *, max_new_tokens: int, context_window: int, model: str, margin: int = tokens.SAFETY_MARGIN
) -> TokenBudget:
    """Refuse, before sending, a prompt whose tokens plus max new tokens exceed the model's context window."""
    budget = TokenBudget(prompt.tokens(), max_new_tokens, margin, context_window)
    if budget.total <= context_window:
        return budget
    over = budget.total - context_window
    head = (
        f"prompt is ~{budget.prompt_tokens} tokens ({tokens.SHORT_METHOD}) + max_new_tokens {max_new_tokens} + "
        f"margin {margin} = {budget.total} > context window {context_window} of model {model!r} "
        f"(over by {over})"
    )
    fixes = []
    shots = len(prompt.examples)
    for keep in range(shots - 1, -1, -1):
        if prompt.tokens(keep) + max_new_tokens + margin <= context_window:
            fixes.append(f"drop {shots - keep} of the {shots} examples (--shots {keep})")
            break
    room = context_window - budget.prompt_tokens - margin
    if room >= 1:
        fixes.append(f"lower --max-new-tokens to {room}")
    if not fixes:
        fixes.append(
            f"shorten the prompt by at least {over - max_new_tokens + 1 if max_new_tokens else over} "
            "tokens: even without examples and with max_new_tokens 1 it does not fit"
        )
    raise CliError(f"{head}: {', or '.join(fixes)}", ExitCode.REFUSED)
