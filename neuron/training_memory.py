"""Does a training job fit in the NeuronCores' memory? The arithmetic the synth pre-flight (`config.training`) and
`neuronctl plan --train` share, per NeuronCore, for one tensor/pipeline/data-parallel split.

What one NeuronCore holds (P = the parameters its tensor-parallel rank of its pipeline stage owns; DP = data-parallel
ranks = all cores / (TP x PP)):

    weights      P x 2 B                        bf16 (`--bf16`, the layout optimum-neuron trains in)
    gradients    P_trainable x 4 B              fp32 gradient accumulation (optimum-neuron's default with ZeRO-1)
                 P_trainable x 2 B              bf16 gradients without ZeRO-1
    optimizer    P_trainable x 12 B / DP        fp32 master weights + AdamW m and v, sharded over DP by ZeRO-1
                 P_trainable x 8 B              AdamW m and v in fp32 on every rank without ZeRO-1
    activations  per layer s·b·h·(34 + 5·a·s/h) / TP bytes            (no checkpointing, TP with sequence parallel)
                 per layer 2·s·b·h / TP + one layer recomputed         (full activation checkpointing)
                 x the pipeline's micro-batches in flight (PP on the first stage, 1F1B schedule)
                 + the fp32 logits of the micro-batch, vocab-parallel (b·s·V/TP x 4 B; x3 with a distillation teacher:
                 the teacher's logits and the two softmaxes)
    teacher      teacher parameters / TP x 2 B (frozen, bf16) when distilling
    headroom     10 % of the above + 1 GiB the runtime keeps per core (the inference pre-flight's constants)

Sources: activation formulas — aws-neuron/aws-neuron-sdk `libraries/neuronx-distributed/
activation_memory_reduction.rst` (HEAD 81ce03ae, L14-36, L74-99); bytes per parameter — optimum-neuron v0.4.1
`optimum/neuron/trainers/training_args.py` L327-353 (zero_1=True, optimizer_use_master_weights=True,
optimizer_use_fp32_grad_acc=True; both switched off without ZeRO-1, L621-625) and aws-neuron-sdk
`libraries/neuronx-distributed/standard_mixed_precision.rst` L8-29; "ZeRO-1 reduces optimizer memory by
1/data_parallel_size, TP reduces parameter memory by 1/tensor_parallel_size" — optimum-neuron v0.4.1
`docs/source/guides/distributed_training.mdx` L27, L36. LoRA: only the adapter matrices are trained (peft 0.17.0,
the version optimum-neuron[training] 0.4.1 pins), on q/k/v/o/gate/up/down projections as in optimum-neuron's
`examples/training/llama/finetune_llama.py` (v0.4.1).

This is an estimate: it refuses what cannot fit, it does not promise that what passes compiles. Neuron hardware is
needed to prove a fit; docs/training.md lists the published configurations the estimate agrees with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from neuron.catalog import INSTANCES, TENSOR_PARALLEL_DEGREES, InstanceSpec, instance
from neuron.errors import UserError
from neuron.models import ModelArchitecture
from neuron.sizing import GIB, HEADROOM_FRACTION, HOST_RESERVED_GIB, RUNTIME_RESERVED_GIB_PER_CORE

Method = Literal["full", "lora"]
METHODS: tuple[Method, ...] = ("full", "lora")

WEIGHT_BYTES = 2  # bf16
GRADIENT_BYTES_ZERO1 = 4  # fp32 gradient accumulation
GRADIENT_BYTES_NO_ZERO1 = 2
OPTIMIZER_BYTES_ZERO1 = 12  # fp32 master weight + Adam m + v, sharded over data-parallel ranks
OPTIMIZER_BYTES_NO_ZERO1 = 8  # Adam m + v, on every rank
LOGIT_BYTES = 4  # the loss is computed on fp32 logits
ACTIVATION_CONSTANT = 34  # s·b·h·34 bytes per layer besides attention scores (16-bit activations)
ACTIVATION_ATTENTION = 5  # + 5·a·s²·b bytes per layer (attention scores, softmax, dropout mask)
CHECKPOINT_BYTES = 2  # full checkpointing keeps each layer's bf16 input: 2·s·b·h bytes
# Multi-node pipeline stages: refused (see `topology_problems`); the search for a fit goes up to this many nodes.
MAX_SEARCH_NODES = 16
NODE_COUNTS = (1, 2, 4, 8, 16)  # the node counts the search tries
PIPELINE_DEGREES = (1, 2, 4, 8)
Families = tuple[str, ...] | None  # instance families a search may use (the training image's); None = every Trainium


class TrainingMemoryError(UserError):
    """A training job that does not fit, with the numbers and the smallest configuration that would."""


@dataclass(frozen=True)
class TrainingShape:
    """Everything the memory of one training job depends on."""

    model: ModelArchitecture
    method: Method
    instance_type: str
    instance_count: int
    tensor_parallel: int
    pipeline_parallel: int
    micro_batch: int
    sequence_length: int
    gradient_checkpointing: bool
    zero_1: bool = True
    lora_rank: int = 16
    teacher: ModelArchitecture | None = None

    @property
    def spec(self) -> InstanceSpec:
        return instance(self.instance_type)

    @property
    def cores(self) -> int:
        return self.spec.neuron_cores * self.instance_count

    @property
    def data_parallel(self) -> int:
        return max(1, self.cores // (self.tensor_parallel * self.pipeline_parallel))

    def describe(self) -> str:
        method = f"LoRA r={self.lora_rank}" if self.method == "lora" else "full"
        return (
            f"{self.model.name} {method} on {self.instance_count} x {self.instance_type}, TP {self.tensor_parallel} "
            f"x PP {self.pipeline_parallel} x DP {self.data_parallel}, micro-batch {self.micro_batch} x "
            f"{self.sequence_length} tokens, gradient checkpointing {'on' if self.gradient_checkpointing else 'off'}"
            f"{'' if self.zero_1 else ', ZeRO-1 off'}"
        )


@dataclass(frozen=True)
class TrainingFit:
    """Per-NeuronCore memory of one shape, in GiB; `rows` in the order `neuronctl plan --train` prints them."""

    shape: TrainingShape
    weights_gib: float
    gradients_gib: float
    optimizer_gib: float
    activations_gib: float
    teacher_gib: float
    headroom_gib: float
    available_gib: float
    host_required_gib: float
    host_memory_gib: float
    trainable_parameters: int

    @property
    def used_gib(self) -> float:
        return (
            self.weights_gib
            + self.gradients_gib
            + self.optimizer_gib
            + self.activations_gib
            + self.teacher_gib
            + self.headroom_gib
        )

    @property
    def fits(self) -> bool:
        return self.used_gib <= self.available_gib and self.host_required_gib <= self.host_memory_gib

    @property
    def rows(self) -> tuple[tuple[str, float], ...]:
        return (
            ("weights", self.weights_gib),
            ("gradients", self.gradients_gib),
            ("optimizer state", self.optimizer_gib),
            ("activations", self.activations_gib),
            ("teacher weights", self.teacher_gib),
            ("headroom", self.headroom_gib),
            ("used per NeuronCore", self.used_gib),
            ("HBM per NeuronCore", self.available_gib),
        )

    def breakdown(self) -> str:
        parts = ", ".join(f"{name} {gib:.1f}" for name, gib in self.rows[:6] if gib or name != "teacher weights")
        return f"{self.used_gib:.1f} of {self.available_gib:.0f} GiB per NeuronCore ({parts})"


# ---------------------------------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------------------------------
def embedding_parameters(arch: ModelArchitecture) -> int:
    return arch.vocab_size * arch.hidden_size


def layer_parameters(arch: ModelArchitecture) -> float:
    """Parameters of one transformer layer: all but the input embedding and the output head (counted untied)."""
    return max(arch.parameters - 2 * embedding_parameters(arch), 0) / arch.layers


def intermediate_size(arch: ModelArchitecture) -> int:
    """The MLP width, from the layer's parameter count: attention is 2·h² (q, o) + 2·h·kv·d (k, v), the gated MLP
    3·h·I (gate, up, down). Llama 3.1 8B: 14337 (config.json: 14336); a model with tied embeddings comes out
    smaller than it is, which undercounts only its LoRA adapters."""
    h = arch.hidden_size
    attention = 2 * h * h + 2 * h * arch.kv_heads * arch.head_dim
    return max(round((layer_parameters(arch) - attention) / (3 * h)), 1)


def lora_parameters(arch: ModelArchitecture, rank: int) -> int:
    """Adapter parameters: r x (in + out) for each of q, k, v, o, gate, up, down in every layer."""
    h, kv, inter = arch.hidden_size, arch.kv_heads * arch.head_dim, intermediate_size(arch)
    per_layer = (h + h) * 2 + (h + kv) * 2 + (h + inter) * 2 + (inter + h)
    return rank * per_layer * arch.layers


def stage_parameters(arch: ModelArchitecture, pipeline_parallel: int) -> float:
    """Parameters of the largest pipeline stage: its share of the layers (rounded up) plus the embedding or the head
    (both without pipeline parallelism)."""
    layers = math.ceil(arch.layers / pipeline_parallel)
    ends = 2 if pipeline_parallel == 1 else 1
    return layer_parameters(arch) * layers + ends * embedding_parameters(arch)


# ---------------------------------------------------------------------------------------------------------------------
# Memory of one shape
# ---------------------------------------------------------------------------------------------------------------------
def activation_bytes(shape: TrainingShape) -> float:
    arch, tp, pp = shape.model, shape.tensor_parallel, shape.pipeline_parallel
    s, b, h, a = shape.sequence_length, shape.micro_batch, arch.hidden_size, arch.attention_heads
    layers = math.ceil(arch.layers / pp)
    full_layer = s * b * h * (ACTIVATION_CONSTANT + ACTIVATION_ATTENTION * a * s / h) / tp
    if shape.gradient_checkpointing:
        per_stage = layers * CHECKPOINT_BYTES * s * b * h / tp + full_layer
    else:
        per_stage = layers * full_layer
    in_flight = pp  # 1F1B: the first stage keeps the activations of PP micro-batches
    logits = b * s * arch.vocab_size / tp * LOGIT_BYTES * (3 if shape.teacher else 1)
    return per_stage * in_flight + logits


def measure(shape: TrainingShape) -> TrainingFit:
    arch, tp, pp, dp = shape.model, shape.tensor_parallel, shape.pipeline_parallel, shape.data_parallel
    held = stage_parameters(arch, pp) / tp
    if shape.method == "lora":
        trainable = lora_parameters(arch, shape.lora_rank)
        trainable_held = trainable / (tp * pp)
        weights = held * WEIGHT_BYTES + trainable_held * WEIGHT_BYTES
    else:
        trainable = arch.parameters
        trainable_held = held
        weights = held * WEIGHT_BYTES
    if shape.zero_1:
        gradients = trainable_held * GRADIENT_BYTES_ZERO1
        optimizer = trainable_held * OPTIMIZER_BYTES_ZERO1 / dp
    else:
        gradients = trainable_held * GRADIENT_BYTES_NO_ZERO1
        optimizer = trainable_held * OPTIMIZER_BYTES_NO_ZERO1
    activations = activation_bytes(shape)
    teacher = shape.teacher.parameters / tp * WEIGHT_BYTES if shape.teacher else 0.0
    subtotal = (weights + gradients + optimizer + activations + teacher) / GIB
    spec = shape.spec
    return TrainingFit(
        shape=shape,
        weights_gib=weights / GIB,
        gradients_gib=gradients / GIB,
        optimizer_gib=optimizer / GIB,
        activations_gib=activations / GIB,
        teacher_gib=teacher / GIB,
        headroom_gib=HEADROOM_FRACTION * subtotal + RUNTIME_RESERVED_GIB_PER_CORE,
        available_gib=spec.memory_per_core_gib,
        # The first node consolidates the final model on its host (full weights; LoRA: the merged base) in bf16.
        host_required_gib=arch.parameters * WEIGHT_BYTES / GIB + HOST_RESERVED_GIB,
        host_memory_gib=spec.host_memory_gib,
        trainable_parameters=trainable,
    )


# ---------------------------------------------------------------------------------------------------------------------
# Rules about the split itself, and the search for the smallest fit
# ---------------------------------------------------------------------------------------------------------------------
def topology_problems(shape: TrainingShape) -> list[str]:
    """Splits the training library cannot run, or whose final model the job cannot consolidate."""
    spec, tp, pp = shape.spec, shape.tensor_parallel, shape.pipeline_parallel
    problems = []
    degrees = TENSOR_PARALLEL_DEGREES[spec.family]
    if tp not in degrees or tp > spec.neuron_cores:
        fitting = ", ".join(str(d) for d in degrees if d <= spec.neuron_cores)
        problems.append(f"tensor-parallel degree {tp} is not one of {fitting} on {spec.name}")
    if shape.model.attention_heads % tp:
        problems.append(
            f"tensor-parallel degree {tp} does not divide the {shape.model.attention_heads} attention heads"
        )
    if shape.cores % (tp * pp):
        problems.append(f"TP {tp} x PP {pp} does not divide the {shape.cores} NeuronCores")
    if pp > 1 and shape.model.layers < pp:
        problems.append(f"pipeline degree {pp} exceeds the {shape.model.layers} layers")
    if pp > 1 and shape.instance_count > 1:
        # neuronx-distributed lays ranks out as [pp, dp, tp] (parallel_state.py, v2.26.0 L595-625): stage k lives on
        # the k-th slice of the nodes, so its shards never reach the first node, which consolidates the final model.
        problems.append("pipeline parallelism across nodes (the final model's stages would stay on different nodes)")
    if shape.teacher and pp > 1:
        problems.append("distillation with pipeline parallelism (the teacher runs unpipelined)")
    if shape.instance_count > 1 and not spec.efa_gbps:
        problems.append(f"{shape.instance_count} nodes of {spec.name}, which has no EFA")
    return problems


def candidates(base: TrainingShape, methods: tuple[Method, ...], families: Families = None) -> list[TrainingShape]:
    """Every split of every Trainium instance type up to MAX_SEARCH_NODES nodes, fewest NeuronCores first (then the
    smaller instance, fewer nodes, no pipeline before a pipeline, lower TP, checkpointing off before on)."""
    shapes = []
    for method in methods:
        for spec in INSTANCES.values():
            if spec.accelerator != "trainium" or (families is not None and spec.family not in families):
                continue
            for count in NODE_COUNTS:
                if count > 1 and not spec.efa_gbps:
                    break
                for tp in TENSOR_PARALLEL_DEGREES[spec.family]:
                    for pp in PIPELINE_DEGREES:
                        for checkpointing in (False, True):
                            shapes.append(
                                replace(
                                    base,
                                    method=method,
                                    instance_type=spec.name,
                                    instance_count=count,
                                    tensor_parallel=tp,
                                    pipeline_parallel=pp,
                                    gradient_checkpointing=checkpointing,
                                )
                            )
    return sorted(
        shapes,
        key=lambda s: (
            s.cores,
            s.spec.neuron_cores,
            s.instance_count,
            s.pipeline_parallel,
            s.tensor_parallel,
            s.gradient_checkpointing,
        ),
    )


def smallest_fit(base: TrainingShape, method: Method | None = None, families: Families = None) -> TrainingFit | None:
    """The fitting split with the fewest NeuronCores, for `method` (default: the shape's own)."""
    for shape in candidates(base, (method or base.method,), families):
        if topology_problems(shape):
            continue
        fit = measure(shape)
        if fit.fits:
            return fit
    return None


def feasible(base: TrainingShape, families: Families = None) -> list[TrainingFit]:
    """For each instance type and node count, the fitting split with the fewest NeuronCores per model replica
    (lowest TP x PP), checkpointing only where needed: the rows of `neuronctl plan --train`."""
    found: dict[tuple[str, int], TrainingFit] = {}
    for shape in candidates(base, (base.method,), families):
        key = (shape.instance_type, shape.instance_count)
        if key in found or topology_problems(shape):
            continue
        fit = measure(shape)
        if fit.fits:
            found[key] = fit
    return list(found.values())


def check(shape: TrainingShape, setting: str = "training", families: Families = None) -> TrainingFit:
    """The shape's fit, or a TrainingMemoryError with the numbers and the smallest fits (same method; LoRA)."""
    problems = topology_problems(shape)
    if problems:
        raise TrainingMemoryError(f"{setting}: {shape.describe()}: " + "; ".join(problems))
    fit = measure(shape)
    if fit.fits:
        return fit
    reasons = []
    if fit.used_gib > fit.available_gib:
        reasons.append(fit.breakdown())
    if fit.host_required_gib > fit.host_memory_gib:
        reasons.append(
            f"the first node's host needs {fit.host_required_gib:.1f} GiB to consolidate the final model and has "
            f"{fit.host_memory_gib:.0f}"
        )
    raise TrainingMemoryError(
        f"{setting}: {shape.describe()} does not fit: {'; '.join(reasons)}. {suggestion(shape, families)}"
    )


def suggestion(shape: TrainingShape, families: Families = None) -> str:
    """The smallest fit keeping the method, and for a full fine-tune also the smallest LoRA fit."""
    options = []
    same = smallest_fit(shape, families=families)
    if same is not None:
        options.append(option(same))
    if shape.method == "full":
        lora = smallest_fit(shape, "lora", families)
        if lora is not None:
            options.append(option(lora))
    missing = (
        ""
        if same is not None
        else f"No {shape.method} split of up to {MAX_SEARCH_NODES} nodes fits (pipeline stages stay within one node). "
    )
    if not options:
        return f"{missing}Lower micro_batch_size or sequence_length, or train a smaller model"
    return f"{missing}Smallest fit: " + "; or ".join(options)


def option(fit: TrainingFit) -> str:
    s = fit.shape
    method = "LoRA (method: lora)" if s.method == "lora" else f"method: {s.method}"
    return (
        f"{method}, instance_type {s.instance_type}, instance_count {s.instance_count}, tensor_parallel_degree "
        f"{s.tensor_parallel}, pipeline_parallel_degree {s.pipeline_parallel}, gradient_checkpointing "
        f"{str(s.gradient_checkpointing).lower()} ({fit.used_gib:.1f} of {fit.available_gib:.0f} GiB per NeuronCore)"
    )
