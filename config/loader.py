"""Load a profile file into the typed model; turn every validation failure into one readable message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config.app import AppConfig
from neuron.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent
PROFILE_SUFFIX = ".yaml"


class ConfigError(UserError):
    """A configuration mistake, already phrased for the person who made it."""


def available_profiles(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob(f"*{PROFILE_SUFFIX}"))


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(
    profile: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    config_dir: Path = CONFIG_DIR,
    environ: Mapping[str, str] = os.environ,
) -> AppConfig:
    """Read config/<profile>.yaml, apply overrides, fill the account from the environment, validate."""
    path = config_dir / f"{profile}{PROFILE_SUFFIX}"
    if not path.is_file():
        raise ConfigError(
            f"profile {profile!r} not found: no {path.name} in {config_dir}; "
            f"available profiles: {', '.join(available_profiles(config_dir))}"
        )
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path.name} is not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path.name} must hold a mapping of settings, not {type(raw).__name__}")
    data = deep_merge({"profile": profile, **raw}, overrides or {})
    if data.get("account") is None and environ.get("CDK_DEFAULT_ACCOUNT"):
        data["account"] = environ["CDK_DEFAULT_ACCOUNT"]
    try:
        return AppConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err, f"{path.name} (profile {profile!r})", AppConfig)) from None


def format_errors(err: ValidationError, where: str, model: type[BaseModel]) -> str:
    """One line per problem: the setting's path, its value and the rule; an unknown key lists the keys `model`
    accepts at that place (the model the input was validated against, so another file's keys are never offered)."""
    lines = [f"invalid configuration in {where}:"]
    for e in err.errors(include_url=False):
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            allowed = allowed_keys(model, e["loc"][:-1])
            message = f"unknown key; allowed here: {', '.join(allowed)}"
            lines.append(f"  - {path}: {message}")
            continue
        lines.append(f"  - {path} = {e['input']!r}: {message}")
    return "\n".join(lines)


def allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names a nested model accepts at `loc`, for the unknown-key message."""
    current: Any = model
    for part in loc:  # list indexes and dict keys name no field: they stay on the model inside the container
        field = current.model_fields.get(str(part)) if isinstance(part, str) else None
        if field is not None:
            current = _model_in(field.annotation)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as `X | None` or `list[X]` or `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
