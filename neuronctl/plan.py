"""`neuronctl plan`: every Neuron configuration that holds a model, with memory, a throughput bound and prices.

The rows come from `neuron.sizing.feasible_configurations`, the arithmetic the synth pre-flight runs
(`config.inference.plan` -> `neuron.sizing.check_fit`), so a row shown here holds the model with the same instance,
degree, batch, sequence, dtype and quantization, and a configuration not shown fails the pre-flight. The pre-flight's
start-up rules (`neuron.sizing.startup_budget`: start-up health check <= 3600 s, volume <= 512 GB) depend on where the
model comes from and on its server, not on the instance: `--source` and `--server` choose them, and a row the
pre-flight would refuse for them carries the reason (`Row.refusals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuron import sizing
from neuron.catalog import ContainerKind
from neuron.models import ModelArchitecture, preset
from neuron.serving import SERVERS
from neuron.sizing import Fit, feasible_configurations, smallest_fit
from neuronctl import prices, throughput
from neuronctl.prices import Category

SERVING_FAMILIES = ("inf2",)
# Where the endpoint loads the model from, as the pre-flight sees it (config/inference.py `_sized`):
#   hub      source.type hub, no compiled_artifacts: downloaded and compiled inside the container's start-up
#   s3       an S3 source without compiled_artifacts: downloaded before start-up, compiled during it
#   compiled compiled_artifacts set (any source): downloaded, loaded, never compiled
SOURCES = ("hub", "s3", "compiled")
DEFAULT_SOURCE = "s3"


def default_server(arch: ModelArchitecture) -> ContainerKind:
    """The server a model config gets without `server:` (TGI-neuronx), else the first one that serves the kind."""
    if arch.kind in SERVERS[ContainerKind.TGI_NEURONX].model_kinds:
        return ContainerKind.TGI_NEURONX
    return next(kind for kind, profile in SERVERS.items() if arch.kind in profile.model_kinds)


def startup_refusals(arch: ModelArchitecture, *, dtype: str, source: str, server: ContainerKind) -> list[str]:
    """What the pre-flight refuses about starting this model with the derived timeouts and volume (no overrides)."""
    compiled = source == "compiled" or server is ContainerKind.NEURON_V1_INFERENCE
    budget = sizing.startup_budget(
        arch,
        dtype=dtype,
        base_seconds=SERVERS[server].base_startup_seconds,
        from_hub=source == "hub" and not compiled,
        compiled=compiled,
    )
    refusals = []
    if budget.container_startup_seconds > sizing.MAX_TIMEOUT_SECONDS:
        refusals.append(
            f"start-up needs about {budget.container_startup_seconds} s (compile "
            f"{budget.compile_seconds} s for {arch.billions:.1f}B parameters + download + load), over "
            f"SageMaker's {sizing.MAX_TIMEOUT_SECONDS} s limit"
        )
    if budget.volume_size_gb > sizing.MAX_VOLUME_GB:
        refusals.append(f"needs a {budget.volume_size_gb} GB volume, over SageMaker's {sizing.MAX_VOLUME_GB} GB limit")
    return refusals


@dataclass(frozen=True)
class Row:
    fit: Fit
    tokens_per_second: float | None
    hourly: float | None
    per_million_tokens: float | None
    smallest: bool
    refusals: tuple[str, ...] = ()  # why the pre-flight refuses this row (start-up, volume); empty = accepted

    @property
    def accepted(self) -> bool:
        return not self.refusals

    def as_json(self) -> dict[str, Any]:
        f = self.fit
        return {
            "instance_type": f.instance_type,
            "degree": f.degree,
            "replicas_per_instance": f.replicas_per_instance,
            "weights_gib": round(f.weights_gib, 2),
            "kv_cache_gib": round(f.kv_cache_gib, 2),
            "headroom_gib": round(f.headroom_gib, 2),
            "used_gib": round(f.used_gib, 2),
            "available_gib": round(f.available_gib, 2),
            "tokens_per_second_per_replica_bound": None
            if self.tokens_per_second is None
            else round(self.tokens_per_second, 1),
            "dollars_per_hour": self.hourly,
            "dollars_per_million_output_tokens": None
            if self.per_million_tokens is None
            else round(self.per_million_tokens, 4),
            "preflight_smallest_fit": self.smallest,
            "preflight_refusals": list(self.refusals),
        }


def plan(
    arch: ModelArchitecture,
    *,
    batch_size: int,
    sequence_length: int,
    dtype: str,
    quantization: str | None = None,
    families: tuple[str, ...] = SERVING_FAMILIES,
    category: Category = "sagemaker-hosting",
    source: str = DEFAULT_SOURCE,
    server: ContainerKind | None = None,
) -> list[Row]:
    """Configurations that hold the model, cheapest instance-hour first (then cheapest per token, then fewest cores),
    each with the pre-flight's start-up refusals for `source` and `server` (none: it deploys as shown)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    refusals = tuple(startup_refusals(arch, dtype=dtype, source=source, server=server or default_server(arch)))
    fits = feasible_configurations(
        arch,
        batch_size=batch_size,
        sequence_length=sequence_length,
        dtype=dtype,
        quantization=quantization,
        families=families,
    )
    smallest = smallest_fit(
        arch,
        batch_size=batch_size,
        sequence_length=sequence_length,
        dtype=dtype,
        quantization=quantization,
        families=families,
    )
    rows = []
    for fit in fits:
        hourly = prices.quote(fit.instance_type, category).hourly
        tps = throughput.decode_tokens_per_second(fit, batch_size) if arch.generates_text else None
        rows.append(
            Row(
                fit,
                tps,
                hourly,
                throughput.dollars_per_million_tokens(hourly, fit.replicas_per_instance, tps),
                not refusals
                and smallest is not None
                and (fit.instance_type, fit.degree) == (smallest.instance_type, smallest.degree),
                refusals,
            )
        )
    inf = float("inf")
    return sorted(
        rows,
        key=lambda r: (
            r.hourly if r.hourly is not None else inf,
            r.per_million_tokens if r.per_million_tokens is not None else inf,
            r.fit.degree,
        ),
    )


def resolve_model(name: str) -> ModelArchitecture:
    return preset(name)
