"""The Neuron compile (export) stage: the exact command each serving image runs to turn a model into the compiled
artifacts that same image loads, and the size of the job that runs it.

Why a stage at all: TGI-neuronx and vLLM-neuronx never compile at start-up. A model without a Neuron config is looked
up in the public cache on the Hugging Face Hub and refused ("No cached version found") when its shape is not there, and
in an isolated VPC the lookup itself cannot happen (optimum-neuron v0.0.28
`text-generation-inference/server/text_generation_server/model.py` L99-107; v0.4.5 `optimum/commands/neuron/serve.py`
L208-225). LMI-neuronx compiles at load, which for a large model exceeds SageMaker's 3600 s start-up limit, and it
ships an ahead-of-time path. So the export runs before the endpoint, in the serving image itself (same optimum-neuron,
transformers-neuronx and neuronx-cc as the endpoint), with the served shape.

Where it runs: a SageMaker training job on ml.trn1 (processing jobs offer no Trainium or Inferentia instance types;
CreateTrainingJob's `AlgorithmSpecification.ContainerEntrypoint` / `ContainerArguments` run any image's own command).
Trainium1 and Inferentia2 are both NeuronCore-v2: torch-neuronx artifacts are "*only* compatible with NeuronCore-v2",
for "Inf2 & Trn1" alike (aws-neuron/aws-neuron-sdk v2.20.0
`frameworks/torch/guide-torch-neuron-vs-torch-neuronx-inference.rst` L75-80), and optimum-neuron itself compiles
every inf2 model for the trn1 target (v0.4.5 `optimum/neuron/utils/instance.py` L24-30: `"inf2": "trn1"`), which
is what the public inf2 cache holds and what its serve check compares (`serve.py` L144-147).

Each command is one module-level constant per server with its upstream citations; `compile_plan` renders it for a
`ServingShape` and checks that the shape it compiles is the shape the endpoint's environment serves (`served_shape`
reads the environment the way the server does, `compiled_shape` reads the command the way the exporter does).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from neuron import sizing
from neuron.catalog import INSTANCES, TENSOR_PARALLEL_DEGREES, ContainerKind, InstanceSpec, instance
from neuron.errors import UserError
from neuron.models import ModelArchitecture
from neuron.serving import ServingShape, environment

MODEL_CHANNEL = "model"  # the training job's input channel holding the uncompressed model
MODEL_INPUT_DIR = f"/opt/ml/input/data/{MODEL_CHANNEL}"
# Two places an export can write, by where its artifacts must land:
# - OUTPUT_DIR: SageMaker uploads it at the end of the job to <S3OutputPath>/<job name>/output/model/ (uncompressed
#   with OutputDataConfig.CompressionType NONE): a new prefix per job (the lifecycle's candidates).
# - CHECKPOINT_DIR: SageMaker keeps it in sync with CheckpointConfig.S3Uri, an exact prefix of our choosing (the
#   profile's `compiled_artifacts`): "SageMaker automatically syncs the checkpoints in that directory with Amazon
#   S3 ... If a checkpoint is deleted in the SageMaker container, it will also be deleted in the S3 folder"
#   (SageMaker developer guide, model-checkpoints.html). What is already there is copied in at the job's start.
OUTPUT_DIR = "/opt/ml/model"
CHECKPOINT_DIR = "/opt/ml/checkpoints"
COMPILE_FAMILY = "trn1"  # NeuronCore-v2, the family inf2 artifacts are compiled for (see the module docstring)
SERVING_FAMILY = "inf2"

# --------------------------------------------------------------------------------------------------------------------
# Which servers need the stage, and why the others do not
# --------------------------------------------------------------------------------------------------------------------
NO_STAGE: dict[ContainerKind, str] = {
    ContainerKind.HF_INFERENCE_NEURONX: (
        "the HF inference toolkit exports the model at start-up when /opt/ml/model holds no model.neuron "
        "(aws/sagemaker-huggingface-inference-toolkit v2.6.0 src/sagemaker_huggingface_inference_toolkit/"
        "optimum_utils.py L97-99, L108)"
    ),
    ContainerKind.NEURON_V1_INFERENCE: "its source is the torch-neuron traced model itself (compiled before upload)",
}


@dataclass(frozen=True)
class CompiledShape:
    """The shape Neuron artifacts are compiled to, as a server reads it: equal on both sides or the model fails."""

    degree: int
    batch_size: int
    sequence_length: int
    dtype: str  # bf16 | fp16 | fp32
    quantization: str | None  # our name (int8) or None


@dataclass(frozen=True)
class ExportCommand:
    """What the training job runs: ContainerEntrypoint + ContainerArguments with Environment, in the serving image."""

    kind: ContainerKind
    entrypoint: tuple[str, ...]
    arguments: tuple[str, ...]
    environment: dict[str, str]
    output_dir: str  # where the export writes (OUTPUT_DIR or CHECKPOINT_DIR)

    @property
    def shell(self) -> str:
        """The command line, for documentation and logs."""
        return shlex.join([*self.entrypoint, *self.arguments])


class CompileError(UserError):
    """A model whose compile stage cannot produce the shape its endpoint serves."""


# --------------------------------------------------------------------------------------------------------------------
# The commands, one per server, each flag with the line it was read from
# --------------------------------------------------------------------------------------------------------------------
_DTYPE_NAMES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
_DTYPE_SHORT = {v: k for k, v in _DTYPE_NAMES.items()}

# huggingface/optimum-neuron v0.0.28 (the TGI-neuronx 0.0.28 image: text-generation-inference/Dockerfile L137-139
# installs optimum-neuron, whose dependency `optimum` provides the `optimum-cli` console script):
#   optimum/commands/export/neuronx.py L55 `optimum-cli export neuron`; L39-41 `-m/--model`; L42-46 positional output
#   dir; L49-56 `--task`; L109-115 `--auto_cast_type {bf16,fp16,tf32}`; L134-139 `--num_cores`; L197-201
#   `--batch_size`; L212-216 `--sequence_length`.
#   optimum/exporters/neuron/__main__.py L731-748: for a transformers-neuronx decoder the CLI calls `decoder_export`
#   with exactly auto_cast_type, num_cores and the input shapes; L691-711 exports with NeuronModelForCausalLM
#   (export=True), saves the model and the tokenizer to the output dir (config.json with its `neuron` section,
#   checkpoint/, compiled/: the layout the server loads, model.py L88-90, generator.py L630-632).
TGI_ENTRYPOINT = ("optimum-cli",)

# huggingface/optimum-neuron v0.4.5 (the vLLM-neuronx image, docker/vllm/Dockerfile L41 installs `.[neuronx,vllm]`):
#   optimum/commands/export/neuronx.py L31 `--model`, L34 output dir, L41 `--task`, L50-56 `--instance_type
#   {trn1,inf2,trn1n,trn2}`, L124-128 `--tensor_parallel_size`, L234 `--batch_size`, L249 `--sequence_length`.
#   optimum/exporters/neuron/__main__.py L792-794 align the compilation target to --instance_type; L719-781 export a
#   decoder through its NxD model class with batch, sequence and tensor-parallel size; `--auto_cast_type` is dropped
#   (L739) and `--torch_dtype` ends in kwargs the NxD export ignores (optimum/neuron/models/inference/backend/
#   pretrained_model.py L329-330): the compiled dtype is the checkpoint's own (models/inference/modeling_utils.py L141
#   `dtype=DTYPE_MAPPER.pt(config.dtype)`). The job therefore checks the checkpoint's dtype before exporting: a
#   checkpoint in another dtype than the endpoint serves fails the job instead of compiling a different model.
# (ContainerEntrypoint strings are limited to 256 characters, environment values to 512: the check is a value.)
VLLM_DTYPE_CHECK = "\n".join(
    (
        "import json, os, sys",
        'path = os.path.join(os.environ["COMPILE_MODEL_DIR"], "config.json")',
        "config = json.load(open(path))",
        'found = config.get("torch_dtype") or config.get("dtype")',
        'wanted = os.environ["COMPILE_CHECKPOINT_DTYPE"]',
        'sys.exit(0 if found == wanted else f"{path}: torch_dtype {found}, but the endpoint serves {wanted} '
        "(SM_ON_DTYPE): the vLLM exporter compiles the checkpoint dtype; convert the checkpoint or change the "
        'dtype of the model")',
    )
)
VLLM_ENTRYPOINT = ("/bin/bash", "-c", 'python3 -c "$COMPILE_DTYPE_CHECK" && exec "$0" "$@"', "optimum-cli")

# deepjavalibrary/djl-serving branch 0.30.0-dlc (fefd40ec; the djl-inference:0.30.0-neuronx image):
#   serving/docker/pytorch-inf2.Dockerfile L60 ENTRYPOINT /usr/local/bin/dockerd-entrypoint.sh, L72 copies partition/;
#   serving/docker/dockerd-entrypoint.sh L20-23: `partition` (and `train`) run /opt/djl/partition/partition.py "$@".
#   serving/docker/partition/partition.py L372-377 `--model-dir` (the properties/model dir), L384-388
#   `--save-mp-checkpoint-path`; without `--skip-copy` (L397-401) the config and tokenizer files are copied next to the
#   compiled model (L128-139; a local OPTION_MODEL_ID is used as-is, L113-115). properties_manager.py L31-35 +
#   utils.py L106-116: every OPTION_* environment variable becomes an `option.*` property, so the partition reads
#   the very OPTION_* environment the endpoint runs with (degree, n_positions, batch, dtype, static_int8, which is a
#   weight-only quantization partitioned in place, partition.py L38, L422-425).
#   engines/python/setup/djl_python/neuron_utils/model_loader.py L467-495: partition compiles and saves weights as
#   safetensors + compiled/ with a `neuron` config; L347-357 the server loads exactly that layout without compiling.
LMI_ENTRYPOINT = ("/usr/local/bin/dockerd-entrypoint.sh",)

# Environment of the optimum-based exports: the job runs with network isolation, so the exporter must not try the
# Hugging Face Hub (its compile-cache proxy falls back to the local cache on an error, optimum-neuron v0.4.5
# optimum/neuron/cache/hub_cache.py L280-285); offline mode makes every Hub call fail at once instead of timing out.
OFFLINE = {"HF_HUB_OFFLINE": "1"}

# Exports that load the compiled model onto NeuronCores while exporting (transformers-neuronx `to_neuron()`): the
# compile instance must have the cores and support the degree. NxD (vLLM 0.4.5) compiles without loading.
LOADS_ON_DEVICE = frozenset({ContainerKind.TGI_NEURONX, ContainerKind.LMI_NEURONX})


def needs_compile_stage(kind: ContainerKind) -> bool:
    return kind in (ContainerKind.TGI_NEURONX, ContainerKind.VLLM_NEURONX, ContainerKind.LMI_NEURONX)


def export_command(kind: ContainerKind, shape: ServingShape, *, output_dir: str = OUTPUT_DIR) -> ExportCommand:
    """The export the serving image of `kind` runs to compile `shape`, reading MODEL_INPUT_DIR, writing `output_dir`."""
    if output_dir not in (OUTPUT_DIR, CHECKPOINT_DIR):
        raise ValueError(f"an export writes to {OUTPUT_DIR} or {CHECKPOINT_DIR}, not {output_dir}")
    if not needs_compile_stage(kind):
        raise CompileError(f"{kind.value} has no compile stage: {NO_STAGE[kind]}")
    if kind is ContainerKind.TGI_NEURONX:
        return ExportCommand(
            kind,
            TGI_ENTRYPOINT,
            (
                "export",
                "neuron",
                "--model",
                MODEL_INPUT_DIR,
                "--task",
                "text-generation",
                "--num_cores",
                str(shape.degree),
                "--batch_size",
                str(shape.batch_size),
                "--sequence_length",
                str(shape.sequence_length),
                "--auto_cast_type",
                shape.dtype,
                output_dir,
            ),
            dict(OFFLINE),
            output_dir,
        )
    if kind is ContainerKind.VLLM_NEURONX:
        return ExportCommand(
            kind,
            VLLM_ENTRYPOINT,
            (
                "export",
                "neuron",
                "--model",
                MODEL_INPUT_DIR,
                "--task",
                "text-generation",
                "--instance_type",
                SERVING_FAMILY,
                "--tensor_parallel_size",
                str(shape.degree),
                "--batch_size",
                str(shape.batch_size),
                "--sequence_length",
                str(shape.sequence_length),
                output_dir,
            ),
            {
                **OFFLINE,
                "COMPILE_MODEL_DIR": MODEL_INPUT_DIR,
                "COMPILE_CHECKPOINT_DTYPE": _DTYPE_NAMES[shape.dtype],
                "COMPILE_DTYPE_CHECK": VLLM_DTYPE_CHECK,
            },
            output_dir,
        )
    # LMI: the partition reads the endpoint's own OPTION_* environment; only the model location differs.
    env = environment(kind, replace(shape, model_location=MODEL_INPUT_DIR))
    return ExportCommand(
        kind,
        LMI_ENTRYPOINT,
        ("partition", "--model-dir", MODEL_INPUT_DIR, "--save-mp-checkpoint-path", output_dir),
        env,
        output_dir,
    )


# --------------------------------------------------------------------------------------------------------------------
# Reading a shape back: from the serving environment (as the server does) and from the command (as the exporter does)
# --------------------------------------------------------------------------------------------------------------------
def _int(values: Mapping[str, str], key: str, where: str) -> int:
    try:
        return int(values[key])
    except (KeyError, ValueError):
        raise CompileError(f"{where} has no integer {key} (found {values.get(key)!r})") from None


def served_shape(kind: ContainerKind, env: Mapping[str, str]) -> CompiledShape:
    """The compiled shape a server expects, read from its container environment the way the server reads it."""
    where = f"the {kind.value} environment"
    if kind is ContainerKind.TGI_NEURONX:
        # optimum-neuron v0.0.28 text-generation-inference/server/text_generation_server/model.py L15-32.
        return CompiledShape(
            _int(env, "HF_NUM_CORES", where),
            _int(env, "MAX_BATCH_SIZE", where),
            _int(env, "MAX_TOTAL_TOKENS", where),
            env.get("HF_AUTO_CAST_TYPE", ""),
            None,
        )
    if kind is ContainerKind.VLLM_NEURONX:
        # optimum-neuron v0.4.5 docker/vllm/Dockerfile L67-76 (SM_ON_X -> --x), optimum/commands/neuron/serve.py
        # L148-168 (batch, sequence and tensor-parallel size must equal the exported neuron config).
        return CompiledShape(
            _int(env, "SM_ON_TENSOR_PARALLEL_SIZE", where),
            _int(env, "SM_ON_BATCH_SIZE", where),
            _int(env, "SM_ON_SEQUENCE_LENGTH", where),
            _DTYPE_SHORT.get(env.get("SM_ON_DTYPE", ""), env.get("SM_ON_DTYPE", "")),
            None,
        )
    if kind is ContainerKind.LMI_NEURONX:
        return _lmi_shape(env, where)
    raise CompileError(f"{kind.value} has no compile stage: {NO_STAGE[kind]}")


def _lmi_shape(env: Mapping[str, str], where: str) -> CompiledShape:
    # djl-serving 0.30.0-dlc engines/python/setup/djl_python/properties_manager/tnx_properties.py L89-90 (dtype,
    # n_positions), properties.py L52-57 (tensor_parallel_degree, batch_size, max_rolling_batch_size), L97 quantize.
    rolling = env.get("OPTION_ROLLING_BATCH", "disable") != "disable"
    batch_key = "OPTION_MAX_ROLLING_BATCH_SIZE" if rolling else "OPTION_BATCH_SIZE"
    quantize = env.get("OPTION_QUANTIZE")
    return CompiledShape(
        _int(env, "OPTION_TENSOR_PARALLEL_DEGREE", where),
        _int(env, batch_key, where),
        _int(env, "OPTION_N_POSITIONS", where),
        env.get("OPTION_DTYPE", "fp16"),  # tnx_properties.py L89: fp16 when unset
        {"static_int8": "int8"}.get(quantize, quantize) if quantize else None,
    )


def _flags(arguments: Sequence[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    items = list(arguments)
    for i, item in enumerate(items[:-1]):
        if item.startswith("--") and not items[i + 1].startswith("--"):
            flags[item] = items[i + 1]
    return flags


def compiled_shape(kind: ContainerKind, arguments: Sequence[str], env: Mapping[str, str]) -> CompiledShape:
    """The shape an export command compiles, read from its arguments and environment the way the exporter reads them."""
    flags = _flags(arguments)
    where = f"the {kind.value} export command"
    if kind is ContainerKind.TGI_NEURONX:
        return CompiledShape(
            _int(flags, "--num_cores", where),
            _int(flags, "--batch_size", where),
            _int(flags, "--sequence_length", where),
            flags.get("--auto_cast_type", "bf16"),  # neuronx.py L112: default bf16
            None,
        )
    if kind is ContainerKind.VLLM_NEURONX:
        return CompiledShape(
            _int(flags, "--tensor_parallel_size", where),
            _int(flags, "--batch_size", where),
            _int(flags, "--sequence_length", where),
            _DTYPE_SHORT.get(env.get("COMPILE_CHECKPOINT_DTYPE", ""), ""),  # the checkpoint dtype the job enforces
            None,
        )
    if kind is ContainerKind.LMI_NEURONX:
        return _lmi_shape(env, where)
    raise CompileError(f"{kind.value} has no compile stage: {NO_STAGE[kind]}")


# --------------------------------------------------------------------------------------------------------------------
# Sizing the job from the model
# --------------------------------------------------------------------------------------------------------------------
# Host memory: the exporter holds the checkpoint and its converted/sharded copy at once, plus the compiler's own
# working set (neuronx-cc compiles several graphs in parallel).
HOST_COPIES = 2
COMPILER_HOST_GIB = 16
# Volume (File-mode input): the checkpoint, the exported copy of the weights next to the NEFFs, the compiler work dir.
VOLUME_COPIES = 2.2
VOLUME_SCRATCH_GIB = 32
MIN_VOLUME_GB = 50
MAX_VOLUME_GB = 16384  # CreateTrainingJob's VolumeSizeInGB limit
# Runtime: download + compile + save, doubled (a compile that takes twice the estimate is slow, not stuck), plus the
# time SageMaker takes to provision the instance and pull the image.
RUNTIME_SAFETY = 2
PROVISION_SECONDS = 1800
MIN_RUNTIME_SECONDS = 3600


@dataclass(frozen=True)
class CompilePlan:
    """One compile job: the command, what it compiles, and the job size derived from the model."""

    command: ExportCommand
    shape: CompiledShape
    instance_type: str
    volume_size_gb: int
    max_runtime_seconds: int
    host_memory_gib: float  # what the export needs on the host (the instance has at least this much)
    expected_seconds: int  # the estimate the runtime limit is derived from

    @property
    def spec(self) -> InstanceSpec:
        return instance(self.instance_type)


def compile_plan(
    kind: ContainerKind,
    shape: ServingShape,
    arch: ModelArchitecture,
    *,
    where: str,
    output_dir: str = OUTPUT_DIR,
) -> CompilePlan:
    """The compile job for one served model; raises CompileError (naming `where`) when no job can compile it."""
    command = export_command(kind, shape, output_dir=output_dir)
    compiled = compiled_shape(kind, command.arguments, command.environment)
    served = served_shape(kind, environment(kind, shape))
    if compiled != served:
        raise CompileError(
            f"{where}: the compile stage would build {compiled} but {kind.value} serves {served}; "
            + (
                f"{kind.value} compiles and serves at max_total_tokens: set {where}.sequence_length to "
                f"max_total_tokens ({shape.max_total_tokens}) or remove it"
                if kind is ContainerKind.TGI_NEURONX and compiled.sequence_length != served.sequence_length
                else "the served environment and the export command disagree"
            )
        )
    stored = sizing.checkpoint_gib(arch, shape.dtype)
    host = stored * HOST_COPIES + COMPILER_HOST_GIB
    candidates = sorted(
        (s for s in INSTANCES.values() if s.family == COMPILE_FAMILY), key=lambda s: (s.host_memory_gib, s.neuron_cores)
    )
    degrees = TENSOR_PARALLEL_DEGREES[COMPILE_FAMILY]
    if kind in LOADS_ON_DEVICE and shape.degree not in degrees:
        raise CompileError(
            f"{where}.tensor_parallel_degree = {shape.degree}: {kind.value}'s export loads the model onto "
            f"{shape.degree} NeuronCores of the {COMPILE_FAMILY} compile instance, which runs degrees "
            f"{', '.join(map(str, degrees))}; choose one of those that the serving instance also supports"
        )
    fitting = [
        s
        for s in candidates
        if s.host_memory_gib >= host and (kind not in LOADS_ON_DEVICE or s.neuron_cores >= shape.degree)
    ]
    if not fitting:
        largest = candidates[-1]
        raise CompileError(
            f"{where}: exporting {arch.name} ({arch.billions:.1f}B parameters, {stored:.0f} GiB as {shape.dtype}) "
            f"needs about {host:.0f} GiB of host memory ({HOST_COPIES} copies + {COMPILER_HOST_GIB} GiB for the "
            f"compiler) but the largest {COMPILE_FAMILY} instance, {largest.name}, has {largest.host_memory_gib} GiB"
        )
    chosen = fitting[0]
    volume = max(MIN_VOLUME_GB, math.ceil((stored * VOLUME_COPIES + VOLUME_SCRATCH_GIB) * sizing.GIB / 10**9))
    if volume > MAX_VOLUME_GB:
        raise CompileError(f"{where}: the compile job needs a {volume} GB volume, over the {MAX_VOLUME_GB} GB limit")
    transfer = stored * 1024 / sizing.S3_DOWNLOAD_MIB_PER_SECOND
    compile_seconds = arch.billions * sizing.COMPILE_SECONDS_PER_BILLION_PARAMETERS
    save = stored * sizing.LOAD_SECONDS_PER_GIB
    expected = round(transfer + compile_seconds + save)
    runtime = max(MIN_RUNTIME_SECONDS, RUNTIME_SAFETY * expected + PROVISION_SECONDS)
    return CompilePlan(
        command=command,
        shape=compiled,
        instance_type=chosen.name,
        volume_size_gb=volume,
        max_runtime_seconds=runtime,
        host_memory_gib=host,
        expected_seconds=expected,
    )
