"""Does a model fit on an instance at a tensor-parallel degree? The memory arithmetic the synth pre-flight and the
operator CLI share.

Accelerator memory used by one replica of a model:

    weights   = parameters x bytes per weight (dtype, or the quantization's; embeddings stay in the dtype)
    KV cache  = batch x sequence x 2 (K and V) x layers x KV heads x head dim x bytes of the dtype
    headroom  = HEADROOM_FRACTION x (weights + KV cache) + RUNTIME_RESERVED_GIB_PER_CORE x degree
    used      = weights + KV cache + headroom  <=  available = degree x memory per NeuronCore

and the host must hold one replica's weights while they are loaded: weights + HOST_RESERVED_GIB <= host memory.
The degree must be one the instance family supports, at most the instance's NeuronCores, and divide both the
attention heads and the KV heads (each core holds whole heads).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from neuron.catalog import INSTANCES, TENSOR_PARALLEL_DEGREES, InstanceSpec, instance
from neuron.errors import UserError
from neuron.models import ModelArchitecture

GIB = 1024**3

DTYPE_BYTES: dict[str, int] = {"bf16": 2, "fp16": 2, "fp32": 4}
# Bytes per weight of the weight-only quantizations the serving containers offer (int8: transformers-neuronx
# static_int8 in LMI-neuronx; fp8 exists only in NxD Inference, which no catalog image serves). Scales add well under
# 1 %, inside the headroom.
QUANTIZATION_BYTES: dict[str, float] = {"int8": 1.0}

# Compiled graphs, collective buffers, scratchpad and fragmentation: a share of the model's memory plus a fixed
# amount per NeuronCore the runtime keeps for itself.
HEADROOM_FRACTION = 0.10
RUNTIME_RESERVED_GIB_PER_CORE = 1.0
# Operating system, container and model server on the host, besides the weights being loaded.
HOST_RESERVED_GIB = 2.0


class SizingError(UserError):
    """A model that does not fit, phrased with the numbers and the smallest configuration that would."""


@dataclass(frozen=True)
class Fit:
    """One model replica on `degree` NeuronCores of `instance_type`; all sizes in GiB."""

    instance_type: str
    degree: int
    replicas_per_instance: int  # how many replicas of this degree the instance's cores hold
    weights_gib: float
    kv_cache_gib: float
    headroom_gib: float
    used_gib: float
    available_gib: float  # degree x memory per NeuronCore
    host_required_gib: float = 0.0
    host_memory_gib: float = 0.0

    @property
    def fits(self) -> bool:
        return self.used_gib <= self.available_gib and self.host_required_gib <= self.host_memory_gib

    def describe(self) -> str:
        return (
            f"{self.instance_type} at degree {self.degree} ({self.replicas_per_instance} replica(s) per instance): "
            f"{self.used_gib:.1f} of {self.available_gib:.0f} GiB"
        )


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        raise SizingError(f"dtype {dtype!r} is unknown; known: {', '.join(DTYPE_BYTES)}") from None


def quantization_bytes(quantization: str) -> float:
    try:
        return QUANTIZATION_BYTES[quantization]
    except KeyError:
        raise SizingError(f"quantization {quantization!r} is unknown; known: {', '.join(QUANTIZATION_BYTES)}") from None


def weights_gib(arch: ModelArchitecture, dtype: str, quantization: str | None = None) -> float:
    """Memory of the weights. Quantization applies to the transformer layers; the embedding table keeps the dtype."""
    full = dtype_bytes(dtype)
    if quantization is None:
        return arch.parameters * full / GIB
    embedding = min(arch.vocab_size * arch.hidden_size, arch.parameters)
    return ((arch.parameters - embedding) * quantization_bytes(quantization) + embedding * full) / GIB


def kv_cache_gib(arch: ModelArchitecture, batch_size: int, sequence_length: int, dtype: str) -> float:
    """Keys and values kept for `batch_size` sequences of `sequence_length` tokens.

    A decoder keeps them for every layer; an encoder-decoder also keeps the cross-attention keys and values of the
    encoded input (up to the sequence length) in every decoder layer; an encoder holds one layer's at a time.
    """
    layers = 1 if arch.kind == "encoder" else arch.layers
    per_token_layer = 2 * arch.kv_heads * arch.head_dim * dtype_bytes(dtype)
    cross_attention = 2 if arch.kind == "encoder-decoder" else 1
    return batch_size * sequence_length * layers * per_token_layer * cross_attention / GIB


def _parallelism_problems(arch: ModelArchitecture, spec: InstanceSpec, degree: int) -> list[str]:
    problems = []
    supported = TENSOR_PARALLEL_DEGREES[spec.family]
    if degree not in supported:
        problems.append(
            f"degree {degree} is not a tensor-parallel degree {spec.family} supports ({', '.join(map(str, supported))})"
        )
    if degree > spec.neuron_cores:
        problems.append(f"degree {degree} exceeds the {spec.neuron_cores} NeuronCores of {spec.name}")
    if arch.attention_heads % degree or arch.kv_heads % degree:
        problems.append(
            f"degree {degree} does not divide the {arch.attention_heads} attention heads and {arch.kv_heads} KV heads "
            f"of {arch.name}"
        )
    return problems


@dataclass(frozen=True)
class Workload:
    """What one replica holds: `batch_size` sequences of `sequence_length` tokens, weights in `dtype` or quantized."""

    batch_size: int
    sequence_length: int
    dtype: str
    quantization: str | None = None


def measure(arch: ModelArchitecture, instance_type: str, degree: int, workload: Workload) -> Fit:
    """The memory figures of one replica, whether or not it fits (see `check_fit` for the verdict)."""
    spec = instance(instance_type)
    weights = weights_gib(arch, workload.dtype, workload.quantization)
    kv = kv_cache_gib(arch, workload.batch_size, workload.sequence_length, workload.dtype)
    headroom = HEADROOM_FRACTION * (weights + kv) + RUNTIME_RESERVED_GIB_PER_CORE * degree
    return Fit(
        instance_type=instance_type,
        degree=degree,
        replicas_per_instance=spec.neuron_cores // degree if degree > 0 else 0,
        weights_gib=weights,
        kv_cache_gib=kv,
        headroom_gib=headroom,
        used_gib=weights + kv + headroom,
        available_gib=degree * spec.memory_per_core_gib,
        host_required_gib=weights + HOST_RESERVED_GIB,
        host_memory_gib=spec.host_memory_gib,
    )


def _problems(arch: ModelArchitecture, fit: Fit) -> list[str]:
    spec = instance(fit.instance_type)
    problems = _parallelism_problems(arch, spec, fit.degree)
    if fit.used_gib > fit.available_gib:
        problems.append(
            f"needs {fit.used_gib:.1f} GiB of accelerator memory (weights {fit.weights_gib:.1f} + KV cache "
            f"{fit.kv_cache_gib:.1f} + headroom {fit.headroom_gib:.1f}) but degree {fit.degree} x "
            f"{spec.memory_per_core_gib:.0f} GiB per NeuronCore = {fit.available_gib:.0f} GiB"
        )
    if fit.host_required_gib > fit.host_memory_gib:
        problems.append(
            f"loading needs {fit.host_required_gib:.1f} GiB of host memory (weights {fit.weights_gib:.1f} + "
            f"{HOST_RESERVED_GIB:.0f} reserved) but {spec.name} has {spec.host_memory_gib} GiB"
        )
    return problems


def check_fit(
    arch: ModelArchitecture,
    instance_type: str,
    degree: int,
    *,
    batch_size: int,
    sequence_length: int,
    dtype: str,
    quantization: str | None = None,
) -> Fit:
    """The fit of one replica, or a SizingError naming every problem, the numbers and the smallest fit."""
    if degree < 1:
        raise SizingError(f"degree must be at least 1, got {degree}")
    workload = Workload(batch_size, sequence_length, dtype, quantization)
    fit = measure(arch, instance_type, degree, workload)
    problems = _problems(arch, fit)
    if not problems:
        return fit
    shape = (
        f"{arch.name} ({dtype}{', ' + quantization + ' weights' if quantization else ''}, batch {batch_size}, "
        f"sequence {sequence_length})"
    )
    spec = instance(instance_type)
    smallest = _smallest(arch, workload, (spec.family,))
    if smallest is None and spec.family != "inf1":
        smallest = _smallest(arch, workload, tuple(sorted({"inf2", spec.family})))
    if smallest is not None:
        fix = f"smallest fit: {smallest.describe()}"
    else:
        quantized = None if quantization else _smallest(arch, replace(workload, quantization="int8"), (spec.family,))
        fix = (
            f"nothing in {spec.family} fits this shape; with int8 weights the smallest fit is {quantized.describe()}"
            if quantized is not None
            else f"nothing in {spec.family} fits this shape: lower batch size or sequence length, or quantize"
        )
    raise SizingError(f"{shape} does not fit {instance_type} at degree {degree}: {'; '.join(problems)}; {fix}")


def feasible_configurations(
    arch: ModelArchitecture,
    *,
    batch_size: int,
    sequence_length: int,
    dtype: str,
    quantization: str | None = None,
    families: tuple[str, ...] = ("inf2",),
) -> list[Fit]:
    """Every catalog instance of `families` x supported degree that holds one replica, smallest first."""
    return _feasible(arch, Workload(batch_size, sequence_length, dtype, quantization), families)


def _feasible(arch: ModelArchitecture, workload: Workload, families: tuple[str, ...]) -> list[Fit]:
    fits = []
    for spec in INSTANCES.values():
        if spec.family not in families:
            continue
        for degree in TENSOR_PARALLEL_DEGREES[spec.family]:
            fit = measure(arch, spec.name, degree, workload)
            if not _problems(arch, fit):
                fits.append(fit)
    return sorted(fits, key=_smallness)


def _smallness(fit: Fit) -> tuple[int, int, int]:
    spec = instance(fit.instance_type)
    return (spec.neuron_cores, spec.host_memory_gib, fit.degree)


def smallest_fit(
    arch: ModelArchitecture,
    *,
    batch_size: int,
    sequence_length: int,
    dtype: str,
    quantization: str | None = None,
    families: tuple[str, ...] = ("inf2",),
) -> Fit | None:
    """The smallest instance (fewest NeuronCores, then least host memory) and lowest degree that fit, if any."""
    return _smallest(arch, Workload(batch_size, sequence_length, dtype, quantization), families)


def _smallest(arch: ModelArchitecture, workload: Workload, families: tuple[str, ...]) -> Fit | None:
    fits = _feasible(arch, workload, families)
    return fits[0] if fits else None


# --------------------------------------------------------------------------------------------------------------------
# Start-up: volume, model-data download and container start-up health check, sized from the model
# --------------------------------------------------------------------------------------------------------------------
# Rates are deliberately conservative: a timeout too short fails a deployment after the whole wait, one too long only
# delays the report of a real failure.
S3_DOWNLOAD_MIB_PER_SECOND = 200  # ModelDataSource from S3 in the same region
HUB_DOWNLOAD_MIB_PER_SECOND = 50  # Hugging Face Hub over the internet, inside the container's start-up
LOAD_SECONDS_PER_GIB = 6  # read, shard and copy weights to the NeuronCores
COMPILE_SECONDS_PER_BILLION_PARAMETERS = 110  # neuronx-cc when no compiled artifacts exist (8B: ~15 min)
VOLUME_SCRATCH_GIB = 8  # container layers, logs, tokenizer, compiler work files
MIN_TIMEOUT_SECONDS = 60
MAX_TIMEOUT_SECONDS = 3600  # SageMaker's limit for both timeouts
MIN_VOLUME_GB = 30
MAX_VOLUME_GB = 512  # SageMaker's limit for VolumeSizeInGB


@dataclass(frozen=True)
class Startup:
    """Derived start-up settings of one model (seconds, GB) before clamping to SageMaker's limits."""

    volume_size_gb: int
    model_data_download_seconds: int  # S3 model data, before the container starts (0 for a Hub source)
    container_startup_seconds: int  # server start + Hub download + compile + load + warm-up
    compile_seconds: int

    def clamped(self, seconds: int) -> int:
        return max(MIN_TIMEOUT_SECONDS, min(seconds, MAX_TIMEOUT_SECONDS))


def checkpoint_gib(arch: ModelArchitecture, dtype: str) -> float:
    """Size of the weights as stored (quantization applies when the server loads them)."""
    return weights_gib(arch, dtype)


def startup_budget(
    arch: ModelArchitecture,
    *,
    dtype: str,
    base_seconds: int,
    from_hub: bool,
    compiled: bool,
) -> Startup:
    """Volume and timeouts for a model: download, optional compile, load, and the server's own start-up."""
    stored = checkpoint_gib(arch, dtype)
    transfer = stored * 1024 / (HUB_DOWNLOAD_MIB_PER_SECOND if from_hub else S3_DOWNLOAD_MIB_PER_SECOND)
    compile_seconds = 0 if compiled else round(arch.billions * COMPILE_SECONDS_PER_BILLION_PARAMETERS)
    startup = base_seconds + (transfer if from_hub else 0) + compile_seconds + stored * LOAD_SECONDS_PER_GIB
    # Compiling writes a second copy (the compiled model) next to the downloaded checkpoint.
    volume_gib = stored * (1 if compiled else 2) + VOLUME_SCRATCH_GIB
    return Startup(
        volume_size_gb=max(MIN_VOLUME_GB, -(-int(volume_gib * GIB) // 10**9)),
        model_data_download_seconds=0 if from_hub else round(MIN_TIMEOUT_SECONDS + transfer),
        container_startup_seconds=round(startup),
        compile_seconds=compile_seconds,
    )
