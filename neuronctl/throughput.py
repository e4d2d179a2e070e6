"""Decode throughput and latency of one model replica: the HBM-bandwidth bound, and an estimate fitted to the published
Neuron measurements (`neuron/benchmarks.csv`).

The bound. Generating one token for a batch reads every weight of the replica once plus the batch's whole KV cache
from the HBM of the NeuronCores the replica runs on. If memory bandwidth were the only limit:

    tokens/s per replica = batch x bandwidth(degree cores) / (weight bytes + KV cache bytes at the full sequence)

The estimate. Real servers reach a fraction of that: collectives between cores cost a fixed time per layer, the KV
cache and int8 weights are read less efficiently than plain weights, and large batches become compute-bound. Neuron
graphs have static shapes, so a step costs what the compiled batch and sequence cost, however many slots are busy.
One decode step (the inter-token latency, ITL) is modelled per serving library as

    ITL (ms) = a x weights time + b x KV time + c x compute time + d x layers + e x layers x log2(degree)
               + f x weights time of int8 weights

    weights time = weights one step reads (a mixture of experts: the experts its batch routes to) / bandwidth(degree)
    KV time      = the compiled KV cache (batch x sequence, KV heads as the server splits them) / bandwidth(degree)
    compute time = batch x 2 x active parameters / peak bf16 FLOP/s(degree)

and the time to first token as TTFT (ms) = g x prefill compute time + h x weights time + i x layers. The coefficients
(>= 0) are fitted by least squares on relative error to the published rows of that library, minus a deterministic
hold-out (`neuron.benchmarks.Measurement.held_out`) whose error docs/measurements.md reports (`python -m
neuronctl.throughput` prints it). The comparable figure of every row is active sequences x 1000 / ITL
(`Measurement.decode_tokens_per_second`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from neuron import benchmarks, sizing
from neuron.benchmarks import Measurement
from neuron.catalog import ContainerKind, InstanceSpec, instance
from neuron.models import ModelArchitecture
from neuron.sizing import GIB, Fit

# Dense bf16 TFLOP/s per chip: Inferentia2 190 (aws-neuron-sdk @81ce03ae about-neuron/arch/neuron-hardware/
# inf2-arch.rst, "FP8/FP16/BF16/TF32 TFLOPS" 190 per inf2.xlarge chip), Trainium1 190 (trn1-arch.rst: 3,040 for the 16
# chips of trn1.32xlarge), Trainium2 667 (trn2-arch.rst: 10.7 PFLOPS for 16 chips).
TFLOPS_PER_CHIP: dict[str, float] = {"inf2": 190.0, "trn1": 190.0, "trn1n": 190.0, "trn2": 667.0}
FLOPS_SOURCE = "aws-neuron-sdk @81ce03ae about-neuron/arch/neuron-hardware/{inf2,trn1,trn2}-arch.rst"

# The library each catalog server runs at its pinned version (neuron.sizing.SERVER_MEMORY says which and why).
LIBRARY: dict[ContainerKind, str] = {
    ContainerKind.TGI_NEURONX: "transformers-neuronx",
    ContainerKind.LMI_NEURONX: "transformers-neuronx",
    ContainerKind.VLLM_NEURONX: "nxd",
}


def bandwidth_gbps(spec: InstanceSpec, degree: int) -> float | None:
    """Device-memory bandwidth of `degree` NeuronCores (catalog figure); None for families without one (inf1)."""
    per_core = spec.memory_gbps_per_core
    return None if per_core is None else per_core * degree


def tflops(spec: InstanceSpec, degree: int) -> float | None:
    per_chip = TFLOPS_PER_CHIP.get(spec.family)
    return None if per_chip is None else per_chip * spec.chips / spec.neuron_cores * degree


def decode_tokens_per_second(fit: Fit, batch_size: int) -> float | None:
    """The bound: every weight and the full-sequence KV cache read once per step at the HBM bandwidth."""
    bandwidth = bandwidth_gbps(instance(fit.instance_type), fit.degree)
    if bandwidth is None:
        return None
    bytes_per_step = (fit.weights_gib + fit.kv_cache_gib) * GIB
    return batch_size * bandwidth * 1e9 / bytes_per_step


def dollars_per_million_tokens(hourly: float | None, replicas: int, tokens_per_second: float | None) -> float | None:
    """Cost of 1M output tokens with every replica on the instance decoding at the given rate."""
    if hourly is None or not tokens_per_second or replicas < 1:
        return None
    return hourly / (replicas * tokens_per_second * 3600) * 1e6


# --------------------------------------------------------------------------------------------------------------------
# The fitted estimate
# --------------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """What one configuration costs per decode step and per prefill, before the fitted coefficients (ms)."""

    weights_ms: float  # the weights one step reads (all of a dense model), at the HBM bandwidth
    kv_ms: float  # the compiled KV cache (batch x sequence, heads as the server splits them), at the HBM bandwidth
    compute_ms: float  # batch x 2 x active parameters at peak FLOP/s
    layers: int
    prefill_compute_ms: float  # prompt tokens x 2 x active parameters at peak FLOP/s
    degree: int
    quantized: bool  # int8 weights are dequantized on the fly: their read costs more than its bytes

    def decode_features(self) -> tuple[float, ...]:
        return (
            self.weights_ms,
            self.kv_ms,
            self.compute_ms,
            float(self.layers),
            self.layers * math.log2(self.degree),  # collectives: two per layer, a ring step per doubling of the degree
            self.weights_ms if self.quantized else 0.0,
        )

    def prefill_features(self) -> tuple[float, ...]:
        return (self.prefill_compute_ms, self.weights_ms, float(self.layers))


def step(
    arch: ModelArchitecture, fit: Fit, *, batch_size: int, prompt_tokens: float, quantized: bool = False
) -> Step | None:
    """The cost terms of one replica compiled for `batch_size` sequences (`fit` holds its KV cache).

    Neuron graphs have static shapes: a decode step runs the compiled batch whether or not every slot holds a request
    (a one-request load test on a batch-8 model shows the batch-8 ITL), so the cost follows the compiled batch and
    sequence; the tokens it yields follow the active sequences.
    """
    spec = instance(fit.instance_type)
    bandwidth, peak = bandwidth_gbps(spec, fit.degree), tflops(spec, fit.degree)
    if bandwidth is None or peak is None:
        return None
    # A mixture of experts reads the experts its tokens route to: the expected share of distinct experts touched by
    # the batch's tokens, with the active share of parameters standing in for top-k / experts.
    share = arch.active / arch.parameters
    touched = share + (1 - share) * (1 - (1 - share) ** batch_size)
    to_ms = 1e3 / (bandwidth * 1e9)
    flop_ms = 1e3 / (peak * 1e12)
    return Step(
        weights_ms=fit.weights_gib * touched * GIB * to_ms,
        kv_ms=fit.kv_cache_gib * GIB * to_ms,
        compute_ms=batch_size * 2 * arch.active * flop_ms,
        layers=arch.layers,
        prefill_compute_ms=prompt_tokens * 2 * arch.active * flop_ms,
        degree=fit.degree,
        quantized=quantized,
    )


def _solve(rows: Sequence[Sequence[float]], targets: Sequence[float]) -> list[float] | None:
    """Least squares by the normal equations (Gaussian elimination); None when singular."""
    n = len(rows[0])
    a = [
        [sum(r[i] * r[j] for r in rows) for j in range(n)] + [sum(r[i] * t for r, t in zip(rows, targets, strict=True))]
        for i in range(n)
    ]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


def fit_nonnegative(features: Sequence[Sequence[float]], targets: Sequence[float]) -> tuple[float, ...]:
    """Coefficients >= 0 minimising the squared relative error (each row divided by its target): the best of every
    subset of features solved by least squares (four features: fifteen subsets)."""
    n = len(features[0])
    scaled = [[x / t for x in row] for row, t in zip(features, targets, strict=True)]
    ones = [1.0] * len(targets)
    best: tuple[float, tuple[float, ...]] | None = None
    for size in range(1, n + 1):
        for subset in itertools.combinations(range(n), size):
            solution = _solve([[row[i] for i in subset] for row in scaled], ones)
            if solution is None or min(solution) < 0:
                continue
            coefficients = [0.0] * n
            for i, value in zip(subset, solution, strict=True):
                coefficients[i] = value
            error = sum((sum(c * x for c, x in zip(coefficients, row, strict=True)) - 1) ** 2 for row in scaled)
            if best is None or error < best[0]:
                best = (error, tuple(coefficients))
    if best is None:
        raise ValueError("no non-negative fit: the features are degenerate")
    return best[1]


def row_step(row: Measurement) -> Step | None:
    """The cost terms of a published row, as the planner sizes its configuration."""
    arch = row.architecture()
    if arch.kind != "decoder" or not row.in_catalog:
        return None
    fit = sizing.measure(
        arch,
        row.sagemaker_instance,
        row.degree,
        sizing.Workload(row.batch_size, row.sequence_length, row.dtype, row.quantization, row.server, row.compiled),
    )
    prompt = row.input_tokens or row.sequence_length // 2
    # The SDK sampling script and optimum-neuron's benchmark encode the whole batch before the first token; a guidellm
    # synchronous run and the contrib tables encode one request.
    prefilled = row.batch_size if row.measurement in ("sampling-script", "optimum-benchmark") else 1
    return step(
        arch, fit, batch_size=row.batch_size, prompt_tokens=prefilled * prompt, quantized=row.quantization is not None
    )


@dataclass(frozen=True)
class Model:
    """Fitted coefficients of one serving library, and the rows they came from."""

    library: str
    decode: tuple[float, ...]
    prefill: tuple[float, ...] | None
    decode_rows: int
    prefill_rows: int
    sources: tuple[str, ...]  # repositories the fitted rows were published in
    covered: frozenset[tuple[str, int]]  # (instance family, degree) of the fitted rows

    def itl_ms(self, s: Step) -> float:
        return sum(c * x for c, x in zip(self.decode, s.decode_features(), strict=True))

    def ttft_ms(self, s: Step) -> float | None:
        return (
            None
            if self.prefill is None
            else sum(c * x for c, x in zip(self.prefill, s.prefill_features(), strict=True))
        )


def decode_rows(rows: Iterable[Measurement]) -> list[tuple[Measurement, Step]]:
    """Rows that can take part in fitting: decoders on a catalog instance with a known number of active sequences."""
    out = []
    for row in rows:
        if row.decode_tokens_per_second is None:
            continue
        s = row_step(row)
        if s is not None:
            out.append((row, s))
    return out


def fit_library(library: str, rows: Iterable[Measurement]) -> Model | None:
    usable = [(r, s) for r, s in decode_rows(rows) if r.library == library]
    if len(usable) < 3:
        return None
    decode = fit_nonnegative([s.decode_features() for _, s in usable], [r.itl_ms or 0.0 for r, _ in usable])
    timed = [(r, s) for r, s in usable if r.ttft_ms and r.input_tokens]
    prefill = (
        fit_nonnegative([s.prefill_features() for _, s in timed], [r.ttft_ms or 0.0 for r, _ in timed])
        if len(timed) >= 3
        else None
    )
    return Model(
        library,
        decode,
        prefill,
        len(usable),
        len(timed),
        tuple(sorted({r.source.split()[1] for r, _ in usable if len(r.source.split()) > 1})),
        frozenset((instance(r.sagemaker_instance).family, r.degree) for r, _ in usable),
    )


@cache
def models() -> dict[str, Model]:
    """One fitted model per library, from every usable row except the held-out ones."""
    training = [r for r in benchmarks.load() if not r.held_out]
    fitted = {library: fit_library(library, training) for library in sorted(set(LIBRARY.values()))}
    return {k: v for k, v in fitted.items() if v is not None}


@dataclass(frozen=True)
class Estimate:
    """Expected figures of one replica with every batch slot decoding (or None where no fit applies)."""

    tokens_per_second: float  # summed over the batch
    itl_ms: float
    ttft_ms: float | None  # one request of `prompt_tokens`
    library: str
    bound_tokens_per_second: float
    extrapolated: bool  # no fitted row of this library at this instance family and degree


def estimate(
    arch: ModelArchitecture, fit: Fit, *, batch_size: int, prompt_tokens: int, server: ContainerKind
) -> Estimate | None:
    """The fitted estimate for `server`'s library; None for servers or instances the measurements do not cover."""
    library = LIBRARY.get(server)
    model = models().get(library) if library else None
    bound = decode_tokens_per_second(fit, batch_size)
    if model is None or bound is None or arch.kind != "decoder":
        return None
    decoding = step(arch, fit, batch_size=batch_size, prompt_tokens=prompt_tokens)
    if decoding is None:
        return None
    itl = model.itl_ms(decoding)
    if itl <= 0:
        return None
    covered = (instance(fit.instance_type).family, fit.degree) in model.covered
    return Estimate(batch_size * 1000 / itl, itl, model.ttft_ms(decoding), model.library, bound, not covered)


def measured(config: str, instance_type: str | None = None) -> list[Measurement]:
    """Published rows of a model config (and instance), for showing next to an estimate."""
    return [
        r
        for r in benchmarks.load()
        if r.config == config and (instance_type is None or r.sagemaker_instance == instance_type)
    ]


@dataclass(frozen=True)
class HoldOut:
    """Error of the estimate on rows it was not fitted to."""

    rows: tuple[tuple[Measurement, float, float], ...]  # row, measured decode tok/s, estimated decode tok/s

    @property
    def errors(self) -> list[float]:
        return [abs(est - got) / got for _, got, est in self.rows]

    @property
    def median(self) -> float:
        e = sorted(self.errors)
        mid = len(e) // 2
        return e[mid] if len(e) % 2 else (e[mid - 1] + e[mid]) / 2

    @property
    def mean(self) -> float:
        return sum(self.errors) / len(self.errors)

    @property
    def within_15(self) -> float:
        return sum(e <= 0.15 for e in self.errors) / len(self.errors)


@cache
def hold_out_error(library: str | None = None) -> HoldOut:
    """Each held-out decoder row (of `library`, or all) against the estimate of its library's fit, which never saw
    it."""
    fitted = models()
    out = []
    for row, s in decode_rows(r for r in benchmarks.load() if r.held_out and library in (None, r.library)):
        model = fitted.get(row.library)
        got = row.decode_tokens_per_second
        if model is None or got is None:
            continue
        out.append((row, got, (row.active_sequences or row.batch_size) * 1000 / model.itl_ms(s)))
    return HoldOut(tuple(out))


def relative(value: float, reference: float) -> float:
    return (value - reference) / reference if reference else math.inf


def hold_out_ttft() -> list[tuple[Measurement, float, float]]:
    """Held-out rows with a measured TTFT and prompt length: (row, measured ms, estimated ms)."""
    fitted = models()
    out = []
    for row, s in decode_rows(r for r in benchmarks.load() if r.held_out):
        model = fitted.get(row.library)
        estimated = None if model is None else model.ttft_ms(s)
        if row.ttft_ms and row.input_tokens and estimated:
            out.append((row, row.ttft_ms, estimated))
    return out


def report() -> str:
    """The hold-out report docs/measurements.md quotes (`python -m neuronctl.throughput`)."""
    lines = [f"rows: {len(benchmarks.load())} published; held out: 1 in {benchmarks.HOLD_OUT_EVERY} by CRC-32"]
    for library, model in models().items():
        lines.append(
            f"{library}: fitted to {model.decode_rows} rows (TTFT {model.prefill_rows}); ITL coefficients "
            f"(weights, KV, compute, layers, layers x log2 degree, int8 weights) = "
            f"{', '.join(f'{c:.3g}' for c in model.decode)}; TTFT (prefill compute, weights, layers) = "
            f"{', '.join(f'{c:.3g}' for c in model.prefill or ())}"
        )
    held = hold_out_error()
    lines.append("| model | instance | degree | batch | active | measured tok/s | estimated | error |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row, got, est in held.rows:
        lines.append(
            f"| {row.config} ({row.library}, {row.measurement}) | {row.instance_type} | {row.degree} | "
            f"{row.batch_size} | {row.active_sequences} | {got:.1f} | {est:.1f} | {relative(est, got):+.1%} |"
        )
    lines.append(
        f"decode tok/s on {len(held.rows)} held-out rows: median error {held.median:.1%}, mean {held.mean:.1%}, "
        f"{held.within_15:.0%} within 15%"
    )
    for library in models():
        part = hold_out_error(library)
        if part.rows:
            lines.append(
                f"  {library}: {len(part.rows)} rows, median {part.median:.1%}, mean {part.mean:.1%}, "
                f"{part.within_15:.0%} within 15%"
            )
    ttft = hold_out_ttft()
    if ttft:
        errors = sorted(abs(est - got) / got for _, got, est in ttft)
        mid = len(errors) // 2
        median = errors[mid] if len(errors) % 2 else (errors[mid - 1] + errors[mid]) / 2
        lines.append(
            f"TTFT on {len(ttft)} held-out rows: median error {median:.1%}, "
            f"{sum(e <= 0.15 for e in errors) / len(errors):.0%} within 15%"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
