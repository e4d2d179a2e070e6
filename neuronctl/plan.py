"""`neuronctl plan`: every Neuron configuration that holds a model, with memory, expected throughput and latency (fitted
to published measurements), the HBM-bandwidth bound, and prices.

The rows come from `neuron.sizing.feasible_configurations`, the arithmetic the synth pre-flight runs
(`config.inference.plan` -> `neuron.sizing.check_fit`), so a row shown here holds the model with the same instance,
degree, batch, sequence, dtype and quantization, and a configuration not shown fails the pre-flight. The pre-flight's
start-up rules (`neuron.sizing.startup_budget`: start-up health check <= 3600 s, volume <= 512 GB) depend on where the
model comes from and on its server, not on the instance: `--source` and `--server` choose them, and a row the
pre-flight would refuse for them carries the reason (`Row.refusals`). The server also decides how heads are padded
over the cores and how much host memory loading takes (`neuron.sizing.SERVER_MEMORY`), so it is part of the fit too.
The model is a preset or any Hugging Face config.json (`neuron.models.resolve`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neuron import benchmarks, sizing
from neuron.benchmarks import Measurement
from neuron.catalog import ContainerKind
from neuron.models import ModelArchitecture, resolve
from neuron.serving import SERVERS
from neuron.sizing import Fit, Workload, feasible_configurations, smallest_fit
from neuronctl import prices, throughput
from neuronctl.prices import Category
from neuronctl.throughput import Estimate

SERVING_FAMILIES = ("inf2",)
# Where the endpoint loads the model from, as the pre-flight sees it (config/inference.py `_sized`):
#   hub      source.type hub, no compiled_artifacts: downloaded (and, on a server that compiles at start, compiled)
#            inside the container's start-up
#   s3       an S3 source without compiled_artifacts: downloaded before start-up, compiled during it where the server
#            compiles at start (LMI); TGI and vLLM never compile and refuse it
#   compiled compiled_artifacts set (any source): downloaded, loaded, never compiled
SOURCES = ("hub", "s3", "compiled")
DEFAULT_SOURCE = "compiled"  # the way TGI and vLLM models start


def default_server(arch: ModelArchitecture) -> ContainerKind:
    """The server a model config gets without `server:` (TGI-neuronx), else the first one that serves the kind."""
    if arch.kind in SERVERS[ContainerKind.TGI_NEURONX].model_kinds:
        return ContainerKind.TGI_NEURONX
    return next(kind for kind, profile in SERVERS.items() if arch.kind in profile.model_kinds)


def startup_refusals(arch: ModelArchitecture, *, dtype: str, source: str, server: ContainerKind) -> list[str]:
    """What the pre-flight refuses about starting this model with the derived timeouts and volume (no overrides)."""
    # Nothing compiles at start with compiled artifacts or on a server that never compiles (TGI, vLLM, Neuron v1).
    compiled = source == "compiled" or not SERVERS[server].compiles_at_start
    budget = sizing.startup_budget(
        arch,
        dtype=dtype,
        base_seconds=SERVERS[server].base_startup_seconds,
        from_hub=source == "hub" and not compiled,
        compiled=compiled,
    )
    refusals = []
    if SERVERS[server].needs_export_or_cached_shape and source != "compiled":
        # neuron.planning: TGI and vLLM never compile; without compiled artifacts only a recorded public-cache shape
        # of a Hub model starts (the plan rows do not know the model id, so none is assumed).
        refusals.append(
            f"start-up: {server.value} never compiles, it starts only from compiled artifacts or a public-cache shape"
        )
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
    tokens_per_second: float | None  # the HBM-bandwidth bound of one replica
    hourly: float | None
    per_million_tokens: float | None  # at the bound
    smallest: bool
    refusals: tuple[str, ...] = ()  # why the pre-flight refuses this row (start-up, volume); empty = accepted
    estimate: Estimate | None = None  # expected figures fitted to published measurements (None: none apply)

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def expected_per_million_tokens(self) -> float | None:
        if self.estimate is None:
            return None
        return throughput.dollars_per_million_tokens(
            self.hourly, self.fit.replicas_per_instance, self.estimate.tokens_per_second
        )

    def as_json(self) -> dict[str, Any]:
        f, e = self.fit, self.estimate
        return {
            "instance_type": f.instance_type,
            "degree": f.degree,
            "replicas_per_instance": f.replicas_per_instance,
            "attention_heads_per_replica": None if f.heads is None else f.heads.padded_heads,
            "kv_heads_per_replica": None if f.heads is None else f.heads.padded_kv_heads,
            "weights_gib": round(f.weights_gib, 2),
            "padding_gib": round(f.padding_gib, 2),
            "kv_cache_gib": round(f.kv_cache_gib, 2),
            "headroom_gib": round(f.headroom_gib, 2),
            "used_gib": round(f.used_gib, 2),
            "available_gib": round(f.available_gib, 2),
            "host_required_gib": round(f.host_required_gib, 2),
            "expected_tokens_per_second_per_replica": None if e is None else round(e.tokens_per_second, 1),
            "expected_itl_ms": None if e is None else round(e.itl_ms, 2),
            "expected_ttft_ms": None if e is None or e.ttft_ms is None else round(e.ttft_ms, 1),
            "estimate_library": None if e is None else e.library,
            "estimate_extrapolated": None if e is None else e.extrapolated,
            "tokens_per_second_per_replica_bound": None
            if self.tokens_per_second is None
            else round(self.tokens_per_second, 1),
            "dollars_per_hour": self.hourly,
            "dollars_per_million_output_tokens": None
            if self.expected_per_million_tokens is None
            else round(self.expected_per_million_tokens, 4),
            "dollars_per_million_output_tokens_at_bound": None
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
    prompt_tokens: int | None = None,
) -> list[Row]:
    """Configurations that hold the model on `server`, cheapest instance-hour first (then cheapest per token, then
    fewest cores), each with the pre-flight's start-up refusals for `source` and `server` (none: it deploys as shown)
    and the expected throughput and latency for prompts of `prompt_tokens` (default: half the sequence)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    kind = server or default_server(arch)
    compiled = source == "compiled" or kind is ContainerKind.NEURON_V1_INFERENCE
    refusals = tuple(startup_refusals(arch, dtype=dtype, source=source, server=kind))
    workload = Workload(batch_size, sequence_length, dtype, quantization, kind, compiled)
    fits = feasible_configurations(arch, families=families, **_shape(workload))
    smallest = smallest_fit(arch, families=families, **_shape(workload))
    prompt = prompt_tokens if prompt_tokens is not None else sequence_length // 2
    rows = []
    for fit in fits:
        hourly = prices.quote(fit.instance_type, category).hourly
        tps = throughput.decode_tokens_per_second(fit, batch_size) if arch.generates_text else None
        expected = (
            throughput.estimate(arch, fit, batch_size=batch_size, prompt_tokens=prompt, server=kind)
            if arch.generates_text
            else None
        )
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
                expected,
            )
        )
    inf = float("inf")
    return sorted(
        rows,
        key=lambda r: (
            r.hourly if r.hourly is not None else inf,
            r.expected_per_million_tokens
            if r.expected_per_million_tokens is not None
            else r.per_million_tokens
            if r.per_million_tokens is not None
            else inf,
            r.fit.degree,
        ),
    )


def _shape(w: Workload) -> dict[str, Any]:
    return {
        "batch_size": w.batch_size,
        "sequence_length": w.sequence_length,
        "dtype": w.dtype,
        "quantization": w.quantization,
        "server": w.server,
        "compiled": w.compiled,
    }


def resolve_model(name: str) -> ModelArchitecture:
    """A preset name or a path to a Hugging Face config.json."""
    return resolve(name)


def _same_shape(a: ModelArchitecture, b: ModelArchitecture) -> bool:
    return (a.parameters, a.layers, a.hidden_size, a.attention_heads, a.kv_heads) == (
        b.parameters,
        b.layers,
        b.hidden_size,
        b.attention_heads,
        b.kv_heads,
    )


@dataclass(frozen=True)
class Evidence:
    """Where the expected figures come from: the fitted library, its hold-out error, and the published rows of models
    with the same shape (the same parameters, layers, hidden size and heads)."""

    server: ContainerKind
    model: throughput.Model | None
    hold_out: throughput.HoldOut | None
    measured: tuple[Measurement, ...]

    def lines(self, limit: int = 8) -> list[str]:
        out = []
        if self.model is None:
            out.append(
                f"tok/s exp, ITL, TTFT: n/a - no published measurements of {self.server.value}'s library to fit "
                "(the bound still applies)"
            )
        else:
            held = self.hold_out
            error = (
                f"; held-out rows (1 in {benchmarks.HOLD_OUT_EVERY}): median error {held.median:.0%}, "
                f"{held.within_15:.0%} within 15% of {len(held.rows)} (docs/measurements.md)"
                if held is not None and held.rows
                else ""
            )
            out.append(
                f"tok/s exp, ITL, TTFT: fitted to {self.model.decode_rows} published {self.model.library} rows "
                f"(neuron/benchmarks.csv: {'; '.join(self.model.sources)}){error}. Expected = every batch slot "
                "decoding; TTFT = one request's prompt; $/1M out exp = all replicas busy at the expected rate; "
                "* = no published row of this library at this instance family and degree (extrapolated)"
            )
        out.append(
            "tok/s<=: decode bound if HBM bandwidth were the only limit (weights + full KV cache read per token); "
            "heads Q/KV: per replica after the server's padding and KV replication (neuron.sizing.SERVER_MEMORY)"
        )
        if self.measured:
            out.append("published measurements of this model shape:")
            for r in self.measured[:limit]:
                figures = ", ".join(
                    f
                    for f in (
                        f"{r.throughput_tok_s:,.0f} tok/s" if r.throughput_tok_s else "",
                        f"TTFT {r.ttft_ms:,.0f} ms" if r.ttft_ms else "",
                        f"ITL {r.itl_ms:.1f} ms" if r.itl_ms else "",
                    )
                    if f
                )
                out.append(
                    f"  {r.model} on {r.instance_type} degree {r.degree} batch {r.batch_size}: {figures} "
                    f"({r.published_server}, {r.date}; {r.source})"
                )
            if len(self.measured) > limit:
                out.append(f"  ... {len(self.measured) - limit} more in neuron/benchmarks.csv")
        return out

    def as_json(self) -> dict[str, Any]:
        held = self.hold_out
        return {
            "library": None if self.model is None else self.model.library,
            "fitted_rows": None if self.model is None else self.model.decode_rows,
            "sources": [] if self.model is None else list(self.model.sources),
            "hold_out_rows": 0 if held is None else len(held.rows),
            "hold_out_median_error": None if held is None or not held.rows else round(held.median, 4),
            "measurements": [
                {
                    "model": r.model,
                    "instance_type": r.instance_type,
                    "degree": r.degree,
                    "batch_size": r.batch_size,
                    "throughput_tok_s": r.throughput_tok_s,
                    "ttft_ms": r.ttft_ms,
                    "itl_ms": r.itl_ms,
                    "server": r.published_server,
                    "source": r.source,
                    "date": r.date,
                }
                for r in self.measured
            ],
        }


def evidence(arch: ModelArchitecture, server: ContainerKind) -> Evidence:
    library = throughput.LIBRARY.get(server)
    model = throughput.models().get(library) if library else None
    measured = tuple(r for r in benchmarks.load() if _same_shape(r.architecture(), arch))
    return Evidence(server, model, throughput.hold_out_error(library) if library else None, measured)
