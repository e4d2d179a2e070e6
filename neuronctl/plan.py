"""`neuronctl plan`: every Neuron configuration that holds a model, with memory, a throughput bound and prices.

The rows come from `neuron.sizing.feasible_configurations`, the arithmetic the synth pre-flight runs
(`config.inference.plan` -> `neuron.sizing.check_fit`), so a row shown here passes the pre-flight with the same
instance, degree, batch, sequence, dtype and quantization, and a configuration not shown fails it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuron.models import ModelArchitecture, preset
from neuron.sizing import Fit, feasible_configurations, smallest_fit
from neuronctl import prices, throughput
from neuronctl.prices import Category

SERVING_FAMILIES = ("inf2",)


@dataclass(frozen=True)
class Row:
    fit: Fit
    tokens_per_second: float | None
    hourly: float | None
    per_million_tokens: float | None
    smallest: bool

    def as_json(self) -> dict[str, Any]:
        f = self.fit
        return {
            "instance_type": f.instance_type, "degree": f.degree, "replicas_per_instance": f.replicas_per_instance,
            "weights_gib": round(f.weights_gib, 2), "kv_cache_gib": round(f.kv_cache_gib, 2),
            "headroom_gib": round(f.headroom_gib, 2), "used_gib": round(f.used_gib, 2),
            "available_gib": round(f.available_gib, 2),
            "tokens_per_second_per_replica_bound": None if self.tokens_per_second is None
            else round(self.tokens_per_second, 1),
            "dollars_per_hour": self.hourly,
            "dollars_per_million_output_tokens": None if self.per_million_tokens is None
            else round(self.per_million_tokens, 4),
            "preflight_smallest_fit": self.smallest,
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
) -> list[Row]:
    """Feasible configurations, cheapest instance-hour first (then cheapest per token, then fewest cores)."""
    fits = feasible_configurations(arch, batch_size=batch_size, sequence_length=sequence_length, dtype=dtype,
                                   quantization=quantization, families=families)
    smallest = smallest_fit(arch, batch_size=batch_size, sequence_length=sequence_length, dtype=dtype,
                            quantization=quantization, families=families)
    rows = []
    for fit in fits:
        hourly = prices.quote(fit.instance_type, category).hourly
        tps = throughput.decode_tokens_per_second(fit, batch_size) if arch.generates_text else None
        rows.append(Row(fit, tps, hourly, throughput.dollars_per_million_tokens(hourly, fit.replicas_per_instance, tps),
                        smallest is not None and (fit.instance_type, fit.degree) == (smallest.instance_type,
                                                                                    smallest.degree)))
    inf = float("inf")
    return sorted(rows, key=lambda r: (r.hourly if r.hourly is not None else inf,
                                       r.per_million_tokens if r.per_million_tokens is not None else inf,
                                       r.fit.degree))


def resolve_model(name: str) -> ModelArchitecture:
    return preset(name)
