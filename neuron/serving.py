"""Serving profiles: what each Neuron serving container can do, and the environment that sets its compiled shape.

Every container reads its tensor-parallel degree, batch size and sequence lengths from environment variables under its
own names; the shape must match a compiled (or cached) artifact or the server compiles at start-up (or refuses to
start). One typed `ServingShape` is rendered here into each container's names, so no stack spells an env var.

Sources (checked 2026-11): TGI-neuronx — optimum-neuron "Deploy with TGI" docs (HF_NUM_CORES, HF_AUTO_CAST_TYPE,
MAX_BATCH_SIZE, MAX_INPUT_TOKENS, MAX_TOTAL_TOKENS); LMI-neuronx — DJL "Transformers-NeuronX Engine in LMI" user guide
(OPTION_* variables, OPTION_QUANTIZE=static_int8, OPTION_ROLLING_BATCH, OPTION_MODEL_LOADING_TIMEOUT); vLLM-neuronx —
optimum-neuron vLLM SageMaker image (SM_ON_* variables mapped to `vllm serve` arguments); HF inference neuronx —
sagemaker-huggingface-inference-toolkit (HF_TASK, HF_OPTIMUM_BATCH_SIZE, HF_OPTIMUM_SEQUENCE_LENGTH); Neuron v1 —
SageMaker PyTorch serving toolkit (SAGEMAKER_PROGRAM, SAGEMAKER_MODEL_SERVER_WORKERS) and the Neuron runtime
(NEURON_RT_NUM_CORES).

On-device sampling and weight quantization are written only where the container reads them from its environment
(checked 2026-11): LMI-neuronx quantizes with OPTION_QUANTIZE=static_int8 (DJL `TnXQuantizeMethods`, its only method).
No server here takes on-device sampling from the environment: the vLLM image's `optimum-cli neuron serve` (SM_ON_X ->
`--x`) loads the sampling mode compiled into the exported model's neuron_config.json (optimum-neuron
`NxDNeuronConfig.on_device_sampling`) and has no neuron-config override; LMI 0.30 (Neuron SDK 2.20) reads
`option.on_device_generation` only as a path to a generation-config JSON, and SDK 2.20 lists it as a known issue for
Llama; TGI samples on the host. fp8 weights exist only in NxD Inference, which none of these images serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neuron.catalog import ContainerKind
from neuron.errors import UserError

Support = Literal["always", "optional", "none"]
MODEL_DIR = "/opt/ml/model"  # where SageMaker places ModelDataSource / ModelDataUrl content


@dataclass(frozen=True)
class ServerProfile:
    kind: ContainerKind
    model_kinds: tuple[str, ...]  # architecture kinds it serves
    tasks: tuple[str, ...]  # first = default task
    dtypes: tuple[str, ...]
    quantizations: dict[str, str]  # our name -> the server's value
    continuous_batching: Support
    on_device_sampling: Support
    sources: tuple[str, ...]  # model source types it can load
    base_startup_seconds: int  # server start, warm-up and health before the model is loaded
    generates_text: bool
    # One container runs a replica on every group of `degree` cores (LMI and the SageMaker toolkits start a worker
    # per group); TGI and vLLM serve one replica per container.
    replicates: bool

    @property
    def default_task(self) -> str:
        return self.tasks[0]


SERVERS: dict[ContainerKind, ServerProfile] = {
    p.kind: p
    for p in (
        ServerProfile(
            ContainerKind.TGI_NEURONX,
            ("decoder",),
            ("text-generation",),
            ("bf16", "fp16"),
            {},
            continuous_batching="always",
            on_device_sampling="none",
            sources=("hub", "s3-prefix", "s3-tarball"),
            base_startup_seconds=300,
            generates_text=True,
            replicates=False,
        ),
        ServerProfile(
            ContainerKind.LMI_NEURONX,
            ("decoder",),
            ("text-generation",),
            ("bf16", "fp16"),
            {"int8": "static_int8"},
            continuous_batching="optional",
            on_device_sampling="none",
            sources=("hub", "s3-prefix", "s3-tarball"),
            base_startup_seconds=300,
            generates_text=True,
            replicates=True,
        ),
        ServerProfile(
            # vLLM schedules continuously; sampling runs where the exported model was compiled to run it.
            ContainerKind.VLLM_NEURONX,
            ("decoder",),
            ("text-generation",),
            ("bf16", "fp16"),
            {},
            continuous_batching="always",
            on_device_sampling="none",
            sources=("hub", "s3-prefix", "s3-tarball"),
            base_startup_seconds=300,
            generates_text=True,
            replicates=False,
        ),
        ServerProfile(
            # The toolkit compiles encoders with matmuls auto-cast to bf16; the cast is not an environment setting.
            ContainerKind.HF_INFERENCE_NEURONX,
            ("encoder", "encoder-decoder"),
            ("feature-extraction", "text-classification", "text2text-generation"),
            ("bf16",),
            {},
            continuous_batching="none",
            on_device_sampling="none",
            sources=("hub", "s3-prefix", "s3-tarball"),
            base_startup_seconds=180,
            generates_text=False,
            replicates=True,
        ),
        ServerProfile(
            # Neuron SDK v1: a torch-neuron traced model (batch, sequence fixed at trace time) + code/inference.py.
            ContainerKind.NEURON_V1_INFERENCE,
            ("encoder", "decoder", "encoder-decoder"),
            ("feature-extraction", "text-classification"),
            ("fp32", "bf16", "fp16"),
            {},
            continuous_batching="none",
            on_device_sampling="none",
            sources=("s3-tarball",),
            base_startup_seconds=120,
            generates_text=False,
            replicates=True,
        ),
    )
}


class UnknownServerError(UserError):
    pass


def server(kind: ContainerKind | str) -> ServerProfile:
    try:
        return SERVERS[ContainerKind(kind)]
    except (ValueError, KeyError):
        raise UnknownServerError(
            f"serving container {kind!r} is unknown; serving containers: {', '.join(k.value for k in SERVERS)}"
        ) from None


@dataclass(frozen=True)
class ServingShape:
    """The compiled shape and start-up settings one container runs with."""

    model_location: str  # a Hugging Face Hub id, or MODEL_DIR for S3 model data
    task: str
    degree: int  # tensor-parallel degree = NeuronCores per replica
    batch_size: int
    sequence_length: int  # compiled length (n_positions)
    dtype: str
    replicas: int = 1  # replicas of the model this container runs on its cores (worker processes)
    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    quantization: str | None = None
    continuous_batching: bool = True
    revision: str | None = None
    startup_timeout_seconds: int = 600


_VLLM_DTYPES = {"bf16": "bfloat16", "fp16": "float16"}


def environment(kind: ContainerKind | str, shape: ServingShape) -> dict[str, str]:
    """The container environment that makes `kind` serve `shape`."""
    profile = server(kind)
    env: dict[str, str]
    if profile.kind is ContainerKind.TGI_NEURONX:
        env = {
            "HF_MODEL_ID": shape.model_location,
            "HF_NUM_CORES": str(shape.degree),
            "HF_AUTO_CAST_TYPE": shape.dtype,
            "MAX_BATCH_SIZE": str(shape.batch_size),
            "MAX_INPUT_TOKENS": str(shape.max_input_tokens),
            "MAX_TOTAL_TOKENS": str(shape.max_total_tokens),
            "MESSAGES_API_ENABLED": "true",
        }
        if shape.revision:
            env["REVISION"] = shape.revision
    elif profile.kind is ContainerKind.LMI_NEURONX:
        env = {
            "OPTION_MODEL_ID": shape.model_location,
            "OPTION_ENTRYPOINT": "djl_python.transformers_neuronx",
            "OPTION_TENSOR_PARALLEL_DEGREE": str(shape.degree),
            "OPTION_N_POSITIONS": str(shape.sequence_length),
            "OPTION_DTYPE": shape.dtype,
            "OPTION_MODEL_LOADING_TIMEOUT": str(shape.startup_timeout_seconds),
        }
        if shape.continuous_batching:
            env |= {"OPTION_ROLLING_BATCH": "auto", "OPTION_MAX_ROLLING_BATCH_SIZE": str(shape.batch_size)}
        else:
            env |= {"OPTION_ROLLING_BATCH": "disable", "OPTION_BATCH_SIZE": str(shape.batch_size)}
        if shape.quantization:
            env["OPTION_QUANTIZE"] = profile.quantizations[shape.quantization]
        if shape.revision:
            env["OPTION_REVISION"] = shape.revision
    elif profile.kind is ContainerKind.VLLM_NEURONX:
        env = {
            "SM_ON_MODEL": shape.model_location,
            "SM_ON_TENSOR_PARALLEL_SIZE": str(shape.degree),
            "SM_ON_BATCH_SIZE": str(shape.batch_size),
            "SM_ON_SEQUENCE_LENGTH": str(shape.sequence_length),
            "SM_ON_DTYPE": _VLLM_DTYPES[shape.dtype],
        }
        if shape.revision:
            env["SM_ON_REVISION"] = shape.revision
    elif profile.kind is ContainerKind.HF_INFERENCE_NEURONX:
        env = {
            "HF_MODEL_ID": shape.model_location,
            "HF_TASK": shape.task,
            "HF_OPTIMUM_BATCH_SIZE": str(shape.batch_size),
            "HF_OPTIMUM_SEQUENCE_LENGTH": str(shape.sequence_length),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(shape.replicas),
            "NEURON_RT_NUM_CORES": str(shape.degree),
        }
        if shape.revision:
            env["HF_MODEL_REVISION"] = shape.revision
    else:  # Neuron SDK v1 on inf1
        env = {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"{MODEL_DIR}/code",
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(shape.replicas),
            "NEURON_RT_NUM_CORES": str(shape.degree),
        }
    return env
