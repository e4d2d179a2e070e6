"""Serving profiles: what each Neuron serving container does at start-up, and the environment that sets its shape.

Every container reads its tensor-parallel degree, batch size and sequence lengths from environment variables under its
own names. One typed `ServingShape` is rendered here into each container's names, so no stack spells an env var, and
each variable carries the upstream file, line and tag it was read from (checked 2026-11). What a server does at
start-up decides what a model needs to start on it (`neuron.planning`):

- TGI-neuronx (optimum-neuron v0.0.28) and vLLM-neuronx (optimum-neuron v0.4.5) never compile: they load a Neuron
  export (a model whose config.json has a `neuron` section) or, for a plain checkpoint, look its exact shape up in the
  public Neuron cache on the Hugging Face Hub and raise "No cached version found" when it is not there (v0.0.28
  text-generation-inference/server/text_generation_server/model.py L99-107; v0.4.5 optimum/commands/neuron/serve.py
  L208-225, optimum/neuron/vllm/model_loader.py L110-128). In an isolated VPC the lookup itself cannot happen.
- LMI-neuronx (djl-serving 0.30.0-dlc, transformers-neuronx) compiles a plain checkpoint at load
  (engines/python/setup/djl_python/neuron_utils/model_loader.py L373-398, `to_neuron()` L394) and loads an
  optimum-neuron export without compiling (L347-357, L497-516).
- The HF inference toolkit (sagemaker-huggingface-inference-toolkit 2.6.0 on optimum-neuron 0.4.1) exports (compiles)
  an encoder at start unless `model.neuron` is in the model directory (optimum_utils.py L97-99), in fp32 with
  `--auto-cast none` (optimum-neuron v0.4.1 modeling_traced.py L279-281, exporters/neuron/convert.py L620-621), one
  model copy per NeuronCore (it forces NEURON_RT_NUM_CORES=1, optimum_utils.py L106).
- Neuron SDK v1 (inf1) serves a torch-neuron traced model through code/inference.py; nothing compiles at start.

On-device sampling and weight quantization are written only where the container reads them from its environment:
LMI-neuronx quantizes with OPTION_QUANTIZE=static_int8 (djl-serving 0.30.0-dlc properties_manager/tnx_properties.py
L44-45, L97: its only method). No server here takes on-device sampling from the environment: the vLLM image's
`optimum-cli neuron serve` (SM_ON_X -> `--x`) loads the sampling mode compiled into the exported model's neuron config
and has no override; LMI 0.30 reads `option.on_device_generation` only as a path to a generation-config JSON
(tnx_properties.py L120, L260-263); TGI samples on the host. fp8 weights exist only in NxD Inference, which none of
these images serves.
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
    # Compiles a model that has no Neuron export while it starts (the start-up budget counts the compile and the
    # volume a second, compiled copy).
    compiles_at_start: bool
    # Refuses to start without a Neuron export or an exact public-cache shape (it never compiles).
    needs_export_or_cached_shape: bool
    # The only tensor-parallel degree the server runs, where it fixes one (None: any the hardware supports).
    fixed_degree: int | None = None
    fixed_degree_reason: str = ""
    dtype_reason: str = ""  # why the dtypes are what they are, where the server fixes them

    @property
    def default_task(self) -> str:
        return self.tasks[0]


# optimum-neuron v0.4.1 optimum/neuron/pipelines/transformers/base.py L69-136 `NEURONX_SUPPORTED_TASKS`: the tasks
# the HF inference toolkit's Neuron pipeline accepts (toolkit 2.6.0 optimum_utils.py L91-94 raises "Task ... is not
# supported by optimum neuron and inf2" for any other). No text2text-generation, summarization or translation.
OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS: tuple[str, ...] = (
    "feature-extraction",
    "fill-mask",
    "question-answering",
    "text-classification",
    "token-classification",
    "text-generation",
    "image-classification",
    "image-segmentation",
    "object-detection",
    "automatic-speech-recognition",
    "audio-classification",
)
HF_TOOLKIT_DEGREE_REASON = (
    "the HF inference toolkit sets NEURON_RT_NUM_CORES=1 before loading the model, whatever the endpoint sets "
    "(sagemaker-huggingface-inference-toolkit 2.6.0 optimum_utils.py L105-106), and runs one model copy per worker"
)
# Why an encoder-decoder (seq2seq) model is refused: no catalog server serves one from its environment.
NO_SEQ2SEQ_SERVER = (
    "no catalog server serves encoder-decoder (seq2seq) models: the HF inference toolkit's Neuron pipeline "
    "(optimum-neuron 0.4.1) has no text2text-generation task, TGI-neuronx builds only NeuronModelForCausalLM "
    "(optimum-neuron v0.0.28 text-generation-inference/server/text_generation_server/generator.py L621-632), and "
    "vLLM-neuronx and LMI transformers-neuronx are decoder-only; serve a decoder or an encoder model instead"
)

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
            compiles_at_start=False,
            needs_export_or_cached_shape=True,
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
            compiles_at_start=True,
            needs_export_or_cached_shape=False,
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
            compiles_at_start=False,
            needs_export_or_cached_shape=True,
        ),
        ServerProfile(
            # Exports encoders in fp32 (`--auto-cast none`), one copy per NeuronCore; tasks are those of our config
            # that optimum-neuron 0.4.1's pipeline accepts (OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS).
            ContainerKind.HF_INFERENCE_NEURONX,
            ("encoder",),
            ("feature-extraction", "text-classification"),
            ("fp32",),
            {},
            continuous_batching="none",
            on_device_sampling="none",
            sources=("hub", "s3-prefix", "s3-tarball"),
            base_startup_seconds=180,
            generates_text=False,
            replicates=True,
            compiles_at_start=True,
            needs_export_or_cached_shape=False,
            fixed_degree=1,
            fixed_degree_reason=HF_TOOLKIT_DEGREE_REASON,
            dtype_reason="the toolkit exports with optimum-neuron 0.4.1 defaults: torch_dtype float32 and "
            "`--auto-cast none` (modeling_traced.py L279-281, exporters/neuron/convert.py L620-621)",
        ),
        ServerProfile(
            # Neuron SDK v1: a torch-neuron traced model (batch, sequence fixed at trace time) + code/inference.py.
            ContainerKind.NEURON_V1_INFERENCE,
            ("encoder", "decoder"),
            ("feature-extraction", "text-classification"),
            ("fp32", "bf16", "fp16"),
            {},
            continuous_batching="none",
            on_device_sampling="none",
            sources=("s3-tarball",),
            base_startup_seconds=120,
            generates_text=False,
            replicates=True,
            compiles_at_start=False,
            needs_export_or_cached_shape=False,
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
    """The container environment that makes `kind` serve `shape`; each variable cites where the server reads it."""
    profile = server(kind)
    env: dict[str, str]
    if profile.kind is ContainerKind.TGI_NEURONX:
        # optimum-neuron v0.0.28, the image's `sagemaker` target runs text-generation-inference/sagemaker-entrypoint.sh
        # (Dockerfile L155-160), not tgi_env.py.
        env = {
            # sagemaker-entrypoint.sh L3-7: required ("HF_MODEL_ID must be set"), exported as MODEL_ID; a local
            # directory (MODEL_DIR) is loaded as it is (server/text_generation_server/model.py L88-90).
            "HF_MODEL_ID": shape.model_location,
            # model.py L15-32 get_export_kwargs_from_env: the shape a plain checkpoint is looked up in the public
            # cache with (num_cores, auto_cast_type, batch_size, sequence_length = MAX_TOTAL_TOKENS); an export's own
            # neuron config wins over them (generator.py L630-632).
            "HF_NUM_CORES": str(shape.degree),
            "HF_AUTO_CAST_TYPE": shape.dtype,
            # sagemaker-entrypoint.sh L17-20: required ("MAX_BATCH_SIZE must be set to the model static batch size");
            # generator.py L357-361 refuses a batch above the compiled one.
            "MAX_BATCH_SIZE": str(shape.batch_size),
            # TGI 3.0.0 launcher arguments (Dockerfile L3) read from the environment by the router.
            "MAX_INPUT_TOKENS": str(shape.max_input_tokens),
            "MAX_TOTAL_TOKENS": str(shape.max_total_tokens),
            "MESSAGES_API_ENABLED": "true",
        }
        if shape.revision:
            env["HF_MODEL_REVISION"] = shape.revision  # sagemaker-entrypoint.sh L9-11 -> REVISION
    elif profile.kind is ContainerKind.LMI_NEURONX:
        # djl-serving 0.30.0-dlc: OPTION_<NAME> is option.<name> (engines/python/setup/djl_python/properties_manager).
        env = {
            "OPTION_MODEL_ID": shape.model_location,  # properties.py L47, L95-99 (a Hub id or a local directory)
            # serving/docs/lmi/user_guides/tnx_user_guide.md L71-76
            "OPTION_ENTRYPOINT": "djl_python.transformers_neuronx",
            "OPTION_TENSOR_PARALLEL_DEGREE": str(shape.degree),  # properties.py L52
            "OPTION_N_POSITIONS": str(shape.sequence_length),  # tnx_properties.py L90
            "OPTION_DTYPE": shape.dtype,  # tnx_properties.py L32-35, L89 (default fp16)
            # serving/docs/lmi/deployment_guide/configurations.md L100 (default 1800 s): covers the compile at load.
            "OPTION_MODEL_LOADING_TIMEOUT": str(shape.startup_timeout_seconds),
        }
        if shape.continuous_batching:
            # properties.py L51, L57; tnx_properties.py L152-162
            env |= {"OPTION_ROLLING_BATCH": "auto", "OPTION_MAX_ROLLING_BATCH_SIZE": str(shape.batch_size)}
        else:
            # properties.py L56; tnx_properties.py L164-178 forbids batch_size > 1 with rolling batch
            env |= {"OPTION_ROLLING_BATCH": "disable", "OPTION_BATCH_SIZE": str(shape.batch_size)}
        if shape.quantization:
            env["OPTION_QUANTIZE"] = profile.quantizations[shape.quantization]  # tnx_properties.py L44-45, L97
        if shape.revision:
            env["OPTION_REVISION"] = shape.revision  # properties.py L59
    elif profile.kind is ContainerKind.VLLM_NEURONX:
        # optimum-neuron v0.4.5 docker/vllm/Dockerfile L52-80: every SM_ON_<NAME> becomes `--<name lower-cased>
        # <value>` of `optimum-cli neuron serve` (optimum/commands/neuron/serve.py L66-117); serve.py L148-168
        # refuses batch, sequence or degree that differ from an export's neuron config.
        env = {
            "SM_ON_MODEL": shape.model_location,  # --model (serve.py L66-72, required)
            "SM_ON_TENSOR_PARALLEL_SIZE": str(shape.degree),  # --tensor_parallel_size (L87-92)
            "SM_ON_BATCH_SIZE": str(shape.batch_size),  # --batch_size (L93-98)
            "SM_ON_SEQUENCE_LENGTH": str(shape.sequence_length),  # --sequence_length (L99-104)
            "SM_ON_DTYPE": _VLLM_DTYPES[shape.dtype],  # unknown to serve.py: passed on to vLLM (L54-62, L269-270)
        }
        if shape.revision:
            env["SM_ON_REVISION"] = shape.revision  # passed on to vLLM like --dtype
    elif profile.kind is ContainerKind.HF_INFERENCE_NEURONX:
        # sagemaker-huggingface-inference-toolkit 2.6.0 (the image's toolkit; tests/test_serving_contracts.py runs its
        # start-up decision with this environment).
        env = {
            # handler_service.py L121-133: the task; optimum_utils.py L91-94 refuses one the Neuron pipeline lacks.
            "HF_TASK": shape.task,
            # optimum_utils.py L68-78: the export shape (HF_OPTIMUM_SEQUENCE_LENGTH required; batch default 1),
            # unless an export's config.json carries neuron.static_batch_size / static_sequence_length (L40-46).
            "HF_OPTIMUM_BATCH_SIZE": str(shape.batch_size),
            "HF_OPTIMUM_SEQUENCE_LENGTH": str(shape.sequence_length),
            # mms_model_server.py L88-95: the worker count (unset: 2 x Neuron devices); each worker loads one copy
            # on one NeuronCore, because optimum_utils.py L106 sets NEURON_RT_NUM_CORES=1 (so it is not set here).
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(shape.replicas),
        }
        if shape.model_location != MODEL_DIR:
            # mms_model_server.py L67: the mere presence of HF_MODEL_ID selects the Hub download
            # (_load_model_from_hub, L73-82); without it MMS loads MODEL_DIR (L83-84, L114-115). So it is set only
            # for a Hub model.
            env["HF_MODEL_ID"] = shape.model_location
            if shape.revision:
                env["HF_MODEL_REVISION"] = shape.revision  # transformers_utils.py L102, Hub branch only
    else:  # Neuron SDK v1 on inf1
        env = {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"{MODEL_DIR}/code",
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(shape.replicas),
            "NEURON_RT_NUM_CORES": str(shape.degree),
        }
    return env
