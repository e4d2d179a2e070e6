"""Does a model fit on an instance at a tensor-parallel degree? The memory arithmetic the synth pre-flight and the
operator CLI share.

Accelerator memory used by one replica of a model, as its server lays it out (`SERVER_MEMORY`):

    heads     = the server's split of the attention heads over `degree` cores: query heads padded to a multiple of the
                degree, KV heads kept, replicated or padded (`HeadSplit`; each library and version has its own rule)
    weights   = parameters x bytes per weight (dtype, or the quantization's; embeddings stay in the dtype)
                + the padded and replicated attention weights
    KV cache  = batch x sequence x 2 (K and V) x layers x KV heads as split x head dim x bytes of the dtype
    headroom  = HEADROOM_FRACTION x (weights + KV cache) + RUNTIME_RESERVED_GIB_PER_CORE x degree
    used      = weights + KV cache + headroom  <=  available = degree x memory per NeuronCore

and the host must hold what the server keeps in memory while it loads the weights (`HostLoading`), plus
HOST_RESERVED_GIB. The degree must be one the instance family supports and at most the instance's NeuronCores; the
heads refuse a degree only where the server itself would (`HeadRule.DIVIDE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from neuron.catalog import INSTANCES, TENSOR_PARALLEL_DEGREES, ContainerKind, InstanceSpec, instance
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


# --------------------------------------------------------------------------------------------------------------------
# Heads over NeuronCores, per serving library and version
# --------------------------------------------------------------------------------------------------------------------
class HeadRule(StrEnum):
    """How a serving library splits attention heads over the NeuronCores of one replica."""

    # transformers-neuronx (and optimum-neuron's fork of it, `optimum/neuron/backends/hlo`, in optimum-neuron 0.0.28):
    # Q heads padded to a multiple of the degree (utils.py `get_qkv_padding` L200-262 @v0.0.28, `round_up_to_divisor`
    # L103-104); when the degree does not divide the KV heads, `check_gqa_fallback` (decoder.py L233-262) switches to
    # REPLICATED_HEADS: KV heads replicated up to the degree where it can (partial), else to the Q heads; the KV cache
    # holds the KV heads rounded up to the degree (decoder.py `init_caches` L872-891). No head count is refused.
    TNX_PAD_REPLICATE = "tnx-pad-replicate"
    # NxD Inference, and optimum-neuron >= 0.2's copy of it: Q heads padded (neuronx_distributed `get_number_of_extra_
    # heads`); KV heads kept when the degree divides them, else one per core (REPLICATE_TO_TP_DEGREE) when the KV heads
    # divide the degree, else replicated to the padded Q heads (CONVERT_TO_MHA): optimum-neuron v0.4.5
    # optimum/neuron/models/inference/backend/modules/attention/gqa.py `get_shardable_head_counts` L58-80. No head
    # count is refused on the default path.
    NXD_PAD_REPLICATE = "nxd-pad-replicate"
    # Whole heads per core, nothing padded: the rule for servers whose tracing path has no head padding we could read
    # (torch-neuronx / torch-neuron traced encoders), and for sizing without a server.
    DIVIDE = "divide"


@dataclass(frozen=True)
class HeadSplit:
    """Attention heads of one replica as the server lays them out over `degree` cores (totals over all cores)."""

    heads: int
    kv_heads: int
    padded_heads: int
    padded_kv_heads: int

    @property
    def kv_multiplier(self) -> float:
        """KV-cache size relative to the model's own KV heads (replicated or padded heads cost memory)."""
        return self.padded_kv_heads / self.kv_heads

    @property
    def padded(self) -> bool:
        return (self.padded_heads, self.padded_kv_heads) != (self.heads, self.kv_heads)


def _round_up(value: int, divisor: int) -> int:
    return math.ceil(value / divisor) * divisor


def split_heads(rule: HeadRule, heads: int, kv_heads: int, degree: int) -> HeadSplit | None:
    """The heads after the server's padding and replication at `degree`; None where the server refuses the degree."""
    padded = _round_up(heads, degree)
    if rule is HeadRule.DIVIDE:
        return HeadSplit(heads, kv_heads, heads, kv_heads) if heads % degree == 0 == kv_heads % degree else None
    if heads == kv_heads:  # multi-head attention: K and V are padded like Q
        return HeadSplit(heads, kv_heads, padded, padded)
    if rule is HeadRule.NXD_PAD_REPLICATE:
        if kv_heads >= degree and kv_heads % degree == 0:
            kv = kv_heads
        elif degree % kv_heads == 0:
            kv = degree  # REPLICATE_TO_TP_DEGREE
        else:
            kv = padded  # CONVERT_TO_MHA
        return HeadSplit(heads, kv_heads, padded, kv)
    # transformers-neuronx: SHARD_OVER_HEADS when the degree divides the KV heads, else REPLICATED_HEADS.
    kv = kv_heads
    if kv_heads % degree:
        ratio = heads // kv_heads  # full replication
        if (
            kv_heads < degree
            and degree % kv_heads == 0
            and (heads % degree == 0 or (padded > heads and (padded - heads) % kv_heads == 0))
        ):
            ratio = degree // kv_heads  # partial: one KV head per core
        elif padded / degree == heads / kv_heads:
            ratio = 1
        kv = max(kv_heads * ratio, degree)
        if kv == heads:
            kv = padded
    return HeadSplit(heads, kv_heads, padded, _round_up(kv, degree))


# --------------------------------------------------------------------------------------------------------------------
# Host memory while a server loads the weights
# --------------------------------------------------------------------------------------------------------------------
class HostLoading(StrEnum):
    """What a server holds in host memory at the peak of loading one replica."""

    # The whole checkpoint in its dtype (a Transformers model instantiated on the CPU before it is exported).
    WHOLE_CHECKPOINT = "whole-checkpoint"
    # One decoder layer at a time, in fp32 while it is quantized or cast, next to the embeddings and output head.
    LAYER_BY_LAYER = "layer-by-layer"
    # The whole checkpoint and every core's shard of it (sharded while loading).
    SHARD_ON_LOAD = "shard-on-load"
    # Every core's pre-sharded weights (an export that carries them).
    PRESHARDED = "presharded"


@dataclass(frozen=True)
class ServerMemory:
    """How one serving container, at its pinned version, lays a model out and loads it, with the sources read."""

    library: str
    heads: HeadRule
    loading: HostLoading  # from a checkpoint, compiled at start-up
    loading_compiled: HostLoading  # from compiled artifacts (the server's own export)
    source: str


# Which library each serving container runs at the version `neuron.catalog.CONTAINERS` pins.
SERVER_MEMORY: dict[ContainerKind, ServerMemory] = {
    ContainerKind.TGI_NEURONX: ServerMemory(
        "optimum-neuron 0.0.28 (its transformers-neuronx fork, backends/hlo; transformers-neuronx 0.12.313)",
        HeadRule.TNX_PAD_REPLICATE,
        # modeling_decoder.py `_create_checkpoint` L209-248 @v0.0.28: the Transformers model is instantiated on the CPU
        # (torch_dtype="auto") and saved before export; a compiled export is read tensor by tensor
        # (backends/hlo/module.py `materialize` L40-63, safe_open).
        HostLoading.WHOLE_CHECKPOINT,
        HostLoading.LAYER_BY_LAYER,
        "huggingface/optimum-neuron v0.0.28 setup.py (transformers-neuronx==0.12.313), backends/hlo/{decoder,utils,"
        "module}.py, modeling_decoder.py",
    ),
    ContainerKind.LMI_NEURONX: ServerMemory(
        "DJL LMI 0.30.0 transformers-neuronx engine (Neuron SDK 2.20.1: transformers-neuronx 0.12.313)",
        HeadRule.TNX_PAD_REPLICATE,
        # djl-serving v0.29.0 (the snapshot's nearest tag; 0.30.0 is not in it) neuron_utils/model_loader.py
        # `load_auto_model` L258-264 and `set_neuron_model` L337-347: NeuronAutoModelForCausalLM.from_pretrained, which
        # loads layer by layer (transformers-neuronx module.py `materialize`/`nullify`, quantize.py casts one tensor
        # to fp32 to quantize it: aws-neuron/transformers-neuronx @1ade6d74).
        HostLoading.LAYER_BY_LAYER,
        HostLoading.LAYER_BY_LAYER,
        "deepjavalibrary/djl-serving v0.29.0 engines/python/setup/djl_python/neuron_utils/model_loader.py; "
        "aws-neuron/transformers-neuronx @1ade6d74 src/transformers_neuronx/{decoder,utils,module,quantize}.py",
    ),
    ContainerKind.VLLM_NEURONX: ServerMemory(
        "optimum-neuron 0.4.5 NxD backend (optimum/neuron/models/inference/backend, from NxD Inference)",
        HeadRule.NXD_PAD_REPLICATE,
        # pretrained_model.py @v0.4.5 `_load_weights_from_path` L179-215: without pre-sharded weights the whole state
        # dict is loaded and `shard_checkpoint()` builds every rank's shard; an export saved with its weights
        # (`save(dest, weight_path)` L151-162) is loaded shard by shard with load_file for every local rank. NxD
        # Inference measured 15.3 GB RSS (OOM-killed, so at least 1.3x) loading a 12 GB bf16 checkpoint on inf2.xlarge
        # (neuronx-distributed-inference contrib/models/Trinity/README.md L136, L458-462); the rule takes what the
        # code holds, checkpoint + shards (2x), not the measured lower bound.
        HostLoading.SHARD_ON_LOAD,
        HostLoading.PRESHARDED,
        "huggingface/optimum-neuron v0.4.5 optimum/neuron/models/inference/backend/{modules/attention/gqa.py,"
        "pretrained_model.py}",
    ),
    ContainerKind.HF_INFERENCE_NEURONX: ServerMemory(
        "sagemaker-huggingface-inference-toolkit with optimum-neuron export (torch-neuronx trace)",
        HeadRule.DIVIDE,
        HostLoading.WHOLE_CHECKPOINT,
        HostLoading.WHOLE_CHECKPOINT,
        "not read at the source: traced encoders, whole heads per core (the strict rule) and the whole checkpoint",
    ),
    ContainerKind.NEURON_V1_INFERENCE: ServerMemory(
        "torch-neuron (Neuron SDK v1) traced model",
        HeadRule.DIVIDE,
        HostLoading.WHOLE_CHECKPOINT,
        HostLoading.WHOLE_CHECKPOINT,
        "not read at the source: traced models, whole heads per core (the strict rule) and the whole checkpoint",
    ),
}
# Sizing without a server (a profile's server is always known; this is for the bare arithmetic): the strict rules.
NO_SERVER = ServerMemory(
    "no server named", HeadRule.DIVIDE, HostLoading.WHOLE_CHECKPOINT, HostLoading.WHOLE_CHECKPOINT, "strictest rule"
)


def server_memory(server: ContainerKind | None) -> ServerMemory:
    if server is None:
        return NO_SERVER
    try:
        return SERVER_MEMORY[server]
    except KeyError:
        raise SizingError(f"{server.value} is not a serving container; serving: {', '.join(SERVER_MEMORY)}") from None


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
    heads: HeadSplit | None = None  # None: the degree is one the server refuses for these heads
    padding_gib: float = 0.0  # of weights_gib: padded and replicated attention weights

    @property
    def fits(self) -> bool:
        return (
            self.heads is not None
            and self.used_gib <= self.available_gib
            and self.host_required_gib <= self.host_memory_gib
        )

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


def padding_gib(arch: ModelArchitecture, split: HeadSplit, dtype: str, quantization: str | None = None) -> float:
    """The attention weights the padded Q/O heads and the replicated or padded K/V heads add on the device."""
    per_weight = quantization_bytes(quantization) if quantization else dtype_bytes(dtype)
    extra_heads = 2 * (split.padded_heads - split.heads) + 2 * (split.padded_kv_heads - split.kv_heads)
    return arch.layers * arch.hidden_size * arch.head_dim * extra_heads * per_weight / GIB


def kv_cache_gib(arch: ModelArchitecture, batch_size: int, sequence_length: int, dtype: str) -> float:
    """Keys and values kept for `batch_size` sequences of `sequence_length` tokens, before the server's replication.

    A decoder keeps them for every layer; an encoder-decoder also keeps the cross-attention keys and values of the
    encoded input (up to the sequence length) in every decoder layer; an encoder holds one layer's at a time.
    """
    layers = 1 if arch.kind == "encoder" else arch.layers
    per_token_layer = 2 * arch.kv_heads * arch.head_dim * dtype_bytes(dtype)
    cross_attention = 2 if arch.kind == "encoder-decoder" else 1
    return batch_size * sequence_length * layers * per_token_layer * cross_attention / GIB


def host_required_gib(arch: ModelArchitecture, loading: HostLoading, dtype: str, device_weights_gib: float) -> float:
    """Host memory at the peak of loading one replica the way `loading` says, plus HOST_RESERVED_GIB."""
    checkpoint = weights_gib(arch, dtype)
    if loading is HostLoading.LAYER_BY_LAYER:
        embeddings = 2 * arch.vocab_size * arch.hidden_size  # input embeddings and output head, in the dtype
        layer = max(arch.parameters - embeddings, 0) / max(arch.layers + arch.encoder_layers, 1)
        peak = (embeddings * dtype_bytes(dtype) + layer * DTYPE_BYTES["fp32"]) / GIB
    elif loading is HostLoading.SHARD_ON_LOAD:
        peak = checkpoint + device_weights_gib
    elif loading is HostLoading.PRESHARDED:
        peak = device_weights_gib
    else:
        peak = checkpoint
    return peak + HOST_RESERVED_GIB


def _parallelism_problems(arch: ModelArchitecture, spec: InstanceSpec, degree: int, rules: ServerMemory) -> list[str]:
    problems = []
    supported = TENSOR_PARALLEL_DEGREES[spec.family]
    if degree not in supported:
        problems.append(
            f"degree {degree} is not a tensor-parallel degree {spec.family} supports ({', '.join(map(str, supported))})"
        )
    if degree > spec.neuron_cores:
        problems.append(f"degree {degree} exceeds the {spec.neuron_cores} NeuronCores of {spec.name}")
    if split_heads(rules.heads, arch.attention_heads, arch.kv_heads, degree) is None:
        problems.append(
            f"degree {degree} does not divide the {arch.attention_heads} attention heads and {arch.kv_heads} KV heads "
            f"of {arch.name} ({rules.library} keeps whole heads per core)"
        )
    return problems


@dataclass(frozen=True)
class Workload:
    """What one replica holds: `batch_size` sequences of `sequence_length` tokens, weights in `dtype` or quantized,
    served by `server` (None: the strictest rules) from compiled artifacts or not."""

    batch_size: int
    sequence_length: int
    dtype: str
    quantization: str | None = None
    server: ContainerKind | None = None
    compiled: bool = False


def measure(arch: ModelArchitecture, instance_type: str, degree: int, workload: Workload) -> Fit:
    """The memory figures of one replica, whether or not it fits (see `check_fit` for the verdict)."""
    spec = instance(instance_type)
    rules = server_memory(workload.server)
    split = split_heads(rules.heads, arch.attention_heads, arch.kv_heads, degree) if degree > 0 else None
    padding = 0.0 if split is None else padding_gib(arch, split, workload.dtype, workload.quantization)
    weights = weights_gib(arch, workload.dtype, workload.quantization) + padding
    kv = kv_cache_gib(arch, workload.batch_size, workload.sequence_length, workload.dtype)
    if split is not None:
        kv *= split.kv_multiplier
    headroom = HEADROOM_FRACTION * (weights + kv) + RUNTIME_RESERVED_GIB_PER_CORE * degree
    loading = rules.loading_compiled if workload.compiled else rules.loading
    return Fit(
        instance_type=instance_type,
        degree=degree,
        replicas_per_instance=spec.neuron_cores // degree if degree > 0 else 0,
        weights_gib=weights,
        kv_cache_gib=kv,
        headroom_gib=headroom,
        used_gib=weights + kv + headroom,
        available_gib=degree * spec.memory_per_core_gib,
        host_required_gib=host_required_gib(arch, loading, workload.dtype, weights),
        host_memory_gib=spec.host_memory_gib,
        heads=split,
        padding_gib=padding,
    )


def _problems(arch: ModelArchitecture, fit: Fit, rules: ServerMemory, loading: HostLoading) -> list[str]:
    spec = instance(fit.instance_type)
    problems = _parallelism_problems(arch, spec, fit.degree, rules)
    if fit.used_gib > fit.available_gib:
        padded = f", {fit.padding_gib:.1f} of it padded heads" if fit.padding_gib else ""
        problems.append(
            f"needs {fit.used_gib:.1f} GiB of accelerator memory (weights {fit.weights_gib:.1f}{padded} + KV cache "
            f"{fit.kv_cache_gib:.1f} + headroom {fit.headroom_gib:.1f}) but degree {fit.degree} x "
            f"{spec.memory_per_core_gib:.0f} GiB per NeuronCore = {fit.available_gib:.0f} GiB"
        )
    if fit.host_required_gib > fit.host_memory_gib:
        problems.append(
            f"loading needs {fit.host_required_gib:.1f} GiB of host memory ({loading.value} loading: "
            f"{fit.host_required_gib - HOST_RESERVED_GIB:.1f} + {HOST_RESERVED_GIB:.0f} reserved) but {spec.name} "
            f"has {spec.host_memory_gib} GiB"
        )
    return problems


def _workload_problems(arch: ModelArchitecture, fit: Fit, workload: Workload) -> list[str]:
    rules = server_memory(workload.server)
    return _problems(arch, fit, rules, rules.loading_compiled if workload.compiled else rules.loading)


def check_fit(
    arch: ModelArchitecture,
    instance_type: str,
    degree: int,
    *,
    batch_size: int,
    sequence_length: int,
    dtype: str,
    quantization: str | None = None,
    server: ContainerKind | None = None,
    compiled: bool = False,
) -> Fit:
    """The fit of one replica on `server` (its head split and loading), or a SizingError naming every problem, the
    numbers and the smallest fit."""
    if degree < 1:
        raise SizingError(f"degree must be at least 1, got {degree}")
    workload = Workload(batch_size, sequence_length, dtype, quantization, server, compiled)
    fit = measure(arch, instance_type, degree, workload)
    problems = _workload_problems(arch, fit, workload)
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
    server: ContainerKind | None = None,
    compiled: bool = False,
) -> list[Fit]:
    """Every catalog instance of `families` x supported degree that holds one replica, smallest first."""
    workload = Workload(batch_size, sequence_length, dtype, quantization, server, compiled)
    return _feasible(arch, workload, families)


def _feasible(arch: ModelArchitecture, workload: Workload, families: tuple[str, ...]) -> list[Fit]:
    fits = []
    for spec in INSTANCES.values():
        if spec.family not in families:
            continue
        for degree in TENSOR_PARALLEL_DEGREES[spec.family]:
            fit = measure(arch, spec.name, degree, workload)
            if not _workload_problems(arch, fit, workload):
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
    server: ContainerKind | None = None,
    compiled: bool = False,
) -> Fit | None:
    """The smallest instance (fewest NeuronCores, then least host memory) and lowest degree that fit, if any."""
    return _smallest(arch, Workload(batch_size, sequence_length, dtype, quantization, server, compiled), families)


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
# neuronx-cc at start, only on a server that compiles then (LMI transformers-neuronx; the HF toolkit's encoder export)
# and only without compiled artifacts (8B: ~15 min). TGI-neuronx and vLLM-neuronx never compile at start.
COMPILE_SECONDS_PER_BILLION_PARAMETERS = 110
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
    container_startup_seconds: int  # server start + Hub download + compile (if any) + load + warm-up
    compile_seconds: int  # 0 unless the server compiles at start

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
    """Volume and timeouts for a model: download, compile, load, and the server's own start-up.

    `compiled` is true when nothing compiles at start: the model has compiled artifacts, or its server never compiles
    (`neuron.serving.ServerProfile.compiles_at_start` false: TGI, vLLM, Neuron v1).
    """
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
