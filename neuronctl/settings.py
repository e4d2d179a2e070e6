"""Generation settings of one request: the deployed defaults, the operator's overrides, and the synth's own rules.

The ranges and the "alter temperature or top_p, not both" rule live once, in `config.inference.GenerationSettings`;
this module only merges and words the errors in terms of the command-line flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from config.inference import NEUTRAL_TEMPERATURE, NEUTRAL_TOP_P, GenerationSettings
from neuronctl.errors import CliError, ExitCode

FLAGS = {
    "temperature": "--temperature",
    "top_p": "--top-p",
    "max_new_tokens": "--max-new-tokens",
    "frequency_penalty": "--frequency-penalty",
    "presence_penalty": "--presence-penalty",
    "stop": "--stop",
    "allow_temperature_and_top_p": "--allow-temperature-and-top-p",
}


def _both_altered(values: Mapping[str, Any]) -> bool:
    return bool(
        values.get("temperature", NEUTRAL_TEMPERATURE) != NEUTRAL_TEMPERATURE
        and values.get("top_p", NEUTRAL_TOP_P) != NEUTRAL_TOP_P
    )


def validate_settings(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any], *, allow_both: bool = False
) -> dict[str, Any]:
    """The request's settings as the server `parameters` dict, or a refusal naming the flag, value and range.

    A deployment whose published defaults already alter both temperature and top_p was allowed to at synth time, so
    its defaults stay allowed; an operator who makes both differ needs --allow-temperature-and-top-p.
    """
    try:
        base = GenerationSettings.model_validate({**defaults, "allow_temperature_and_top_p": True})
    except ValidationError as err:
        raise CliError(_format(err, "the deployed generation defaults", defaults, {}), ExitCode.FAILED) from None
    allow = allow_both or _both_altered(defaults)
    try:
        merged = base.merged({**overrides, "allow_temperature_and_top_p": allow})
    except ValidationError as err:
        raise CliError(_format(err, "generation settings", defaults, overrides), ExitCode.REFUSED) from None
    return merged.parameters()


def _origin(name: str, overrides: Mapping[str, Any]) -> str:
    return FLAGS[name] if name in overrides else f"{name} (deployed default)"


def _format(err: ValidationError, what: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> str:
    lines = [f"invalid {what}:"]
    for e in err.errors(include_url=False):
        message = e["msg"].removeprefix("Value error, ")
        if e["loc"]:
            name = str(e["loc"][0])
            value = overrides.get(name, defaults.get(name, e["input"]))
            lines.append(f"  - {_origin(name, overrides)} = {value!r}: {message}")
        else:  # the cross-field rule: say where each of the two values came from
            sources = ", ".join(
                f"{n} = {overrides.get(n, defaults.get(n))!r} from {_origin(n, overrides)}"
                for n in ("temperature", "top_p")
                if n in overrides or n in defaults
            )
            message = message.replace(
                "set allow_temperature_and_top_p: true", f"pass {FLAGS['allow_temperature_and_top_p']}"
            )
            lines.append(f"  - {message}" + (f" ({sources})" if sources else ""))
    return "\n".join(lines)
