"""Settings of the inference endpoint: models, serving shape, scaling, deployments, alarms, generation defaults.

Rules that need only a model's own settings sit on the models here and fail when the profile loads. Rules that need
the instance and the hardware catalog (image family, tensor-parallel degree, memory, NeuronCores per copy, start-up
limits) are the synth pre-flight, `plan()`, which the inference stack runs and which raises `PreflightError`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from config.base import StrictModel, setting_errors
from neuron import sizing
from neuron.catalog import INSTANCES, ContainerKind, instance
from neuron.models import PRESETS, ModelArchitecture, ModelConfigError, ModelKind, load_hf_config, preset
from neuron.serving import NO_SEQ2SEQ_SERVER, SERVERS, ServerProfile, server

# --------------------------------------------------------------------------------------------------------------------
# Generation defaults (the operator CLI validates `invoke` parameters with the same model)
# --------------------------------------------------------------------------------------------------------------------
NEUTRAL_TEMPERATURE = 1.0
NEUTRAL_TOP_P = 1.0
MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences, and the OpenAI API's limit


class GenerationSettings(StrictModel):
    """Sampling defaults of an LLM, and the one place their ranges and the temperature/top_p rule live.

    Reuse: `GenerationSettings.model_validate(defaults).merged(request_overrides)` validates a request against the
    same rules; `parameters()` is the request body's `parameters` object.
    """

    temperature: float = Field(NEUTRAL_TEMPERATURE, ge=0.0, le=2.0, description="0 = greedy; 1 = neutral.")
    top_p: float = Field(NEUTRAL_TOP_P, gt=0.0, le=1.0, description="Nucleus sampling mass; 1 = neutral.")
    max_new_tokens: int = Field(512, ge=1, le=131_072)
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    stop: tuple[str, ...] = Field((), max_length=MAX_STOP_SEQUENCES)
    allow_temperature_and_top_p: bool = Field(
        False, description="Permit changing both temperature and top_p (sampling gets hard to reason about)."
    )

    @field_validator("stop")
    @classmethod
    def _stop_sequences(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not s for s in value):
            raise ValueError("stop sequences must not be empty strings")
        if len(set(value)) != len(value):
            raise ValueError("stop sequences must be distinct")
        return value

    @model_validator(mode="after")
    def _temperature_or_top_p(self) -> GenerationSettings:
        if (
            self.temperature != NEUTRAL_TEMPERATURE
            and self.top_p != NEUTRAL_TOP_P
            and not self.allow_temperature_and_top_p
        ):
            raise ValueError(
                f"temperature = {self.temperature} and top_p = {self.top_p} both differ from neutral "
                f"({NEUTRAL_TEMPERATURE}, {NEUTRAL_TOP_P}): alter temperature or top_p, not both; set one of them "
                "back to 1.0, or set allow_temperature_and_top_p: true"
            )
        return self

    def merged(self, overrides: Mapping[str, Any]) -> GenerationSettings:
        """These defaults with a request's overrides applied, validated by the same rules."""
        return GenerationSettings.model_validate({**self.model_dump(), **overrides})

    def parameters(self) -> dict[str, Any]:
        """The request `parameters` (Hugging Face / LMI style); the override flag is not a server parameter."""
        body = self.model_dump(exclude={"allow_temperature_and_top_p"})
        body["stop"] = list(self.stop)
        return body


# --------------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------------
_S3_KEY = r"^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*$"  # a key, not a URI: no leading '/', no 's3://'


COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


def pin_revision_fix(model_id: str) -> str:
    """How to find the commit a Hub model is pinned to (the revision error's fix, also quoted in the docs)."""
    return (
        f"set revision to the full 40-character commit SHA (lowercase hex) of the snapshot to serve: "
        f"`hf models info {model_id}` (huggingface_hub's CLI, formerly huggingface-cli) prints it as `sha`, "
        f"as does `HfApi().model_info('{model_id}').sha` in Python, and the Hub page "
        f"https://huggingface.co/{model_id}/commits/main lists every commit"
    )


class HubSnapshot(StrictModel):
    """One pinned commit of a Hugging Face Hub model repository, and the secret of the token that may read it.

    The revision must be a commit SHA: a branch (`main`) or a tag moves, so the same template would serve different
    weights after any push to the repository, and a short SHA is refused by the Hub's resolver for some tools and
    ambiguous for others. A commit is what makes a deployment (or a staged copy) reproducible.
    """

    model_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$")
    revision: str | None = Field(
        None, description="The full 40-character commit SHA (lowercase hex) to serve; required (None is refused)."
    )
    token_secret: str | None = Field(
        None,
        pattern=r"^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:)?[A-Za-z0-9/_+=.@-]{1,512}$",
        description="Secrets Manager secret (name or ARN) holding the Hub token (for gated or private models).",
    )
    token_secret_field: str | None = Field(None, description="JSON key inside the secret, if it is a JSON object.")

    @model_validator(mode="after")
    def _pinned_commit(self) -> HubSnapshot:
        if self.revision is None or not COMMIT_SHA.match(self.revision):
            shown = "unset" if self.revision is None else repr(self.revision)
            raise ValueError(
                f"revision of {self.model_id} is {shown}, not a pinned commit: a branch, a tag or a short SHA "
                f"serves whatever the repository holds at deploy time; {pin_revision_fix(self.model_id)}"
            )
        return self

    @property
    def pinned_revision(self) -> str:
        """The commit (the validator guarantees it is set)."""
        assert self.revision is not None
        return self.revision


class HubSource(HubSnapshot):
    """A Hugging Face Hub model, downloaded by the container at start-up (needs internet egress).

    The token secret, if any, is resolved by CloudFormation at deploy time into the model's environment (`HF_TOKEN`):
    the template never holds it, but `DescribeModel` returns it to anyone allowed that call, and it is never refreshed
    (a rotated token takes effect only when the model is replaced). Staging the snapshot into S3 (`s3-prefix` with
    `from_hub`) avoids both: docs/security.md.
    """

    type: Literal["hub"]


class HubStaging(HubSnapshot):
    """Where an `s3-prefix` source's files come from: a pinned Hub snapshot that the staging job (stacks/
    hub_staging.py, `neuronctl run start stage`) downloads with internet egress and writes under the prefix. The model
    then loads from S3, network-isolated in the VPC, and the token (if any) is read by the job at run time and never
    reaches the model or any Describe call (docs/security.md).
    """

    ignore_patterns: tuple[str, ...] = Field(
        (),
        max_length=20,
        description="Repository files not to copy (huggingface_hub patterns, e.g. 'original/*' for Meta's "
        "consolidated checkpoints, '*.pth', '*.gguf').",
    )
    instance_type: str = Field(
        "ml.m5.xlarge", pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$", description="The staging job's processing instance."
    )
    volume_size_gb: int | None = Field(
        None, ge=1, le=16_384, description="The job's volume; default twice the bf16 weights plus 10 GB."
    )
    max_runtime_seconds: int = Field(14_400, ge=600, le=432_000)

    @field_validator("ignore_patterns")
    @classmethod
    def _patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p or p.strip() != p for p in value):
            raise ValueError("ignore_patterns must be non-empty patterns without surrounding spaces")
        return value


class S3PrefixSource(StrictModel):
    """An uncompressed model (a Hub-layout folder) under a prefix of the platform's models bucket."""

    type: Literal["s3-prefix"]
    prefix: str = Field(pattern=_S3_KEY)
    from_hub: HubStaging | None = Field(
        None, description="Fill the prefix from a pinned Hub snapshot with the staging job (docs/inference.md)."
    )

    @field_validator("prefix")
    @classmethod
    def _folder(cls, value: str) -> str:
        if not value.endswith("/"):
            raise ValueError(f"an S3 prefix source must end with '/', e.g. {value}/")
        return value


class TarballSource(StrictModel):
    """A model.tar.gz in the platform's models bucket (SageMaker extracts it to /opt/ml/model)."""

    type: Literal["s3-tarball"]
    key: str = Field(pattern=_S3_KEY)

    @field_validator("key")
    @classmethod
    def _tarball(cls, value: str) -> str:
        if not value.endswith(".tar.gz"):
            raise ValueError("a tarball source key must end with .tar.gz")
        return value


ModelSource = Annotated[HubSource | S3PrefixSource | TarballSource, Field(discriminator="type")]


@functools.cache
def _config_json(path: str) -> ModelArchitecture:
    """A model's facts from its config.json, read once per process (the profile names the file)."""
    return load_hf_config(path)


class ArchitectureSpec(StrictModel):
    """A custom model's architecture facts (the same facts the presets carry)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    kind: ModelKind
    parameters: int = Field(ge=1_000_000)
    layers: int = Field(ge=1)
    hidden_size: int = Field(ge=1)
    attention_heads: int = Field(ge=1)
    kv_heads: int = Field(ge=1)
    head_dim: int = Field(ge=1)
    max_positions: int = Field(ge=1)
    vocab_size: int = Field(ge=1)
    encoder_layers: int = Field(0, ge=0)
    source: str = "custom (profile)"

    def to_architecture(self) -> ModelArchitecture:
        return ModelArchitecture(**self.model_dump())

    @model_validator(mode="after")
    def _consistent(self) -> ArchitectureSpec:
        self.to_architecture()  # raises naming the inconsistent facts
        return self


class StartupOverrides(StrictModel):
    """Replace a derived start-up setting (the derived values are in the README and the pre-flight)."""

    volume_size_gb: int | None = Field(None, ge=1, le=sizing.MAX_VOLUME_GB)
    model_data_download_timeout_seconds: int | None = Field(
        None, ge=sizing.MIN_TIMEOUT_SECONDS, le=sizing.MAX_TIMEOUT_SECONDS
    )
    container_startup_health_check_timeout_seconds: int | None = Field(
        None, ge=sizing.MIN_TIMEOUT_SECONDS, le=sizing.MAX_TIMEOUT_SECONDS
    )


class ScalingConfig(StrictModel):
    """Application Auto Scaling target tracking: instances of a variant, or copies of an inference component."""

    min_capacity: int = Field(1, ge=0)
    max_capacity: int = Field(2, ge=1, le=100)
    target_concurrent_requests: float | None = Field(
        4.0, gt=0, description="Per instance (ConcurrentRequestsPerModel) or per copy, high-resolution metric."
    )
    target_invocations_per_minute: float | None = Field(
        None, gt=0, description="Per instance (InvocationsPerInstance) or per copy (InvocationsPerCopy)."
    )
    scale_in_cooldown_seconds: int = Field(600, ge=0, le=3600)
    scale_out_cooldown_seconds: int = Field(120, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds_and_target(self) -> ScalingConfig:
        if self.min_capacity > self.max_capacity:
            raise ValueError(f"min_capacity ({self.min_capacity}) must not exceed max_capacity ({self.max_capacity})")
        if self.target_concurrent_requests is None and self.target_invocations_per_minute is None:
            raise ValueError(
                "set target_concurrent_requests or target_invocations_per_minute (or both): scaling needs a target"
            )
        return self


# Why a setting no serving container reads from its environment is refused rather than silently dropped.
_NO_SERVER_HAS = {
    "on_device_sampling": "none of the serving containers sets it from its environment (vllm-neuronx samples as "
    "the exported model was compiled: export it with on-device sampling and set compiled_artifacts)",
}

# No text2text-generation: no catalog server serves a seq2seq model (neuron.serving.NO_SEQ2SEQ_SERVER).
TASKS = ("text-generation", "feature-extraction", "text-classification")
Task = Literal["text-generation", "feature-extraction", "text-classification"]
SERVING_KINDS = tuple(k.value for k in SERVERS)


class ModelConfig(StrictModel):
    """One model on the endpoint: where it comes from, what it is, how its server is shaped."""

    preset: str | None = Field(None, description=f"One of: {', '.join(PRESETS)}.")
    architecture: ArchitectureSpec | str | None = Field(
        None,
        description="A custom model's architecture facts, or the path of its Hugging Face config.json (absolute, or "
        "relative to the working directory) from which the facts and the parameter count are derived.",
    )
    source: ModelSource
    compiled_artifacts: str | None = Field(
        None,
        pattern=_S3_KEY,
        description="Prefix in the models bucket of this model exported for its server (Neuron-compiled, same "
        "degree/batch/sequence/dtype): loaded instead of the source, so the endpoint never compiles.",
    )
    server: ContainerKind = ContainerKind.TGI_NEURONX
    task: Task | None = None
    tensor_parallel_degree: int = Field(2, ge=1, le=64)
    batch_size: int = Field(4, ge=1, le=256)
    max_input_tokens: int | None = Field(None, ge=1)
    max_total_tokens: int | None = Field(None, ge=2)
    sequence_length: int | None = Field(None, ge=1, description="Compiled length; defaults to max_total_tokens.")
    dtype: Literal["bf16", "fp16", "fp32"] = "bf16"
    quantization: Literal["int8"] | None = Field(None, description="Weight quantization; LMI-neuronx only.")
    continuous_batching: bool | None = Field(None, description="None = the server's default.")
    on_device_sampling: bool | None = Field(
        None, description="None = the server's default; true is refused where the container has no setting for it."
    )
    copies: int = Field(1, ge=1, le=100, description="Initial copies (inference components only).")
    memory_mib_per_copy: int | None = Field(None, ge=128, description="Host memory per copy; derived if unset.")
    scaling: ScalingConfig | None = Field(None, description="Copy-count scaling (inference components only).")
    startup: StartupOverrides = StartupOverrides()
    generation: GenerationSettings | None = None
    latency_alarm_p99_ms: int | None = Field(None, ge=10, le=600_000)

    @field_validator("server")
    @classmethod
    def _serving_container(cls, value: ContainerKind) -> ContainerKind:
        if value not in SERVERS:
            raise ValueError(f"{value.value} is a training container; serving containers: {', '.join(SERVING_KINDS)}")
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None:
            preset(value)
        return value

    @field_validator("architecture")
    @classmethod
    def _readable_config_json(cls, value: ArchitectureSpec | str | None) -> ArchitectureSpec | str | None:
        if isinstance(value, str):
            try:
                _config_json(value)
            except ModelConfigError as err:
                raise ValueError(str(err)) from None
        return value

    @field_validator("compiled_artifacts")
    @classmethod
    def _compiled_folder(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith("/"):
            raise ValueError(f"compiled artifacts are a prefix and must end with '/', e.g. {value}/")
        return value

    @model_validator(mode="after")
    def _architecture(self) -> ModelConfig:
        if (self.preset is None) == (self.architecture is None):
            raise ValueError("set exactly one of preset (a known model) or architecture (a custom model's facts)")
        return self

    @model_validator(mode="after")
    def _server_supports_model(self) -> ModelConfig:
        profile, arch = self.profile, self.arch
        problems = []
        if arch.kind == "encoder-decoder":
            problems.append(f"{arch.name} is an encoder-decoder model: {NO_SEQ2SEQ_SERVER}")
        elif arch.kind not in profile.model_kinds:
            problems.append(
                f"server = {profile.kind.value} serves {', '.join(profile.model_kinds)} models, not "
                f"{arch.kind} models ({arch.name}); use a server for {arch.kind} models"
            )
        if self.task is not None and self.task not in profile.tasks:
            problems.append(f"task = {self.task} is not one {profile.kind.value} serves ({', '.join(profile.tasks)})")
        if profile.fixed_degree is not None and self.tensor_parallel_degree != profile.fixed_degree:
            problems.append(
                f"tensor_parallel_degree = {self.tensor_parallel_degree} but {profile.kind.value} runs degree "
                f"{profile.fixed_degree} only: {profile.fixed_degree_reason}; set tensor_parallel_degree: "
                f"{profile.fixed_degree} (a larger model needs a server that shards it)"
            )
        if self.dtype not in profile.dtypes:
            why = f": {profile.dtype_reason}" if profile.dtype_reason else ""
            problems.append(
                f"dtype = {self.dtype} is not one {profile.kind.value} runs ({', '.join(profile.dtypes)}){why}"
            )
        if self.quantization is not None and self.quantization not in profile.quantizations:
            offered = ", ".join(f"{k} ({s.kind.value})" for s in SERVERS.values() for k in s.quantizations)
            problems.append(
                f"quantization = {self.quantization} is not offered by {profile.kind.value}; "
                f"offered: {offered or 'none'}"
            )
        for name, support in (
            ("continuous_batching", profile.continuous_batching),
            ("on_device_sampling", profile.on_device_sampling),
        ):
            value = getattr(self, name)
            if value is True and support == "none":
                having = [s.kind.value for s in SERVERS.values() if getattr(s, name) != "none"]
                problems.append(
                    f"{name} = true but {profile.kind.value} has no {name.replace('_', ' ')}; servers "
                    f"with it: {', '.join(having) or _NO_SERVER_HAS[name]}"
                )
            if value is False and support == "always":
                problems.append(f"{name} = false but {profile.kind.value} always uses it")
        if self.source.type not in profile.sources:
            problems.append(
                f"source.type = {self.source.type} cannot be loaded by {profile.kind.value} "
                f"(it loads: {', '.join(profile.sources)})"
            )
        if self.compiled_artifacts is not None and profile.kind is ContainerKind.NEURON_V1_INFERENCE:
            problems.append(
                "compiled_artifacts is set but does not apply to neuron-v1-inference: its source is "
                "the compiled (traced) model itself"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _token_lengths(self) -> ModelConfig:
        arch, generates = self.arch, self.profile.generates_text
        if generates:
            if self.max_input_tokens is None or self.max_total_tokens is None:
                raise ValueError(f"{self.profile.kind.value} needs max_input_tokens and max_total_tokens")
            length = self.sequence_length if self.sequence_length is not None else self.max_total_tokens
            if not self.max_input_tokens < self.max_total_tokens <= length:
                raise ValueError(
                    f"max_input_tokens ({self.max_input_tokens}) < max_total_tokens ({self.max_total_tokens}) <= "
                    f"sequence_length ({length}) must hold: a request needs room for at least one new token and "
                    "the server cannot go past its compiled length"
                )
        else:
            if self.max_input_tokens is not None or self.max_total_tokens is not None:
                raise ValueError(
                    f"max_input_tokens / max_total_tokens apply to text generation; "
                    f"{self.profile.kind.value} takes sequence_length"
                )
            if self.sequence_length is None:
                raise ValueError(f"{self.profile.kind.value} needs sequence_length (the compiled input length)")
        if self.effective_sequence_length > arch.max_positions:
            raise ValueError(
                f"sequence_length / max_total_tokens ({self.effective_sequence_length}) exceeds the "
                f"{arch.max_positions} positions of {arch.name}"
            )
        return self

    @model_validator(mode="after")
    def _generation_defaults(self) -> ModelConfig:
        if not self.profile.generates_text:
            if self.generation is not None:
                raise ValueError(f"generation applies to text-generating servers, not {self.profile.kind.value}")
            return self
        assert self.max_total_tokens is not None and self.max_input_tokens is not None
        budget = self.max_total_tokens - self.max_input_tokens
        if self.generation_settings.max_new_tokens > budget:
            raise ValueError(
                f"generation.max_new_tokens ({self.generation_settings.max_new_tokens}) exceeds max_total_tokens "
                f"({self.max_total_tokens}) - max_input_tokens ({self.max_input_tokens}) = {budget}: a prompt of "
                "max_input_tokens could not use the default; lower max_new_tokens or max_input_tokens"
            )
        return self

    # Derived facts ---------------------------------------------------------------------------------------------
    @property
    def arch(self) -> ModelArchitecture:
        if isinstance(self.architecture, str):
            return _config_json(self.architecture)
        if self.architecture is not None:
            return self.architecture.to_architecture()
        assert self.preset is not None
        return preset(self.preset)

    @property
    def profile(self) -> ServerProfile:
        return server(self.server)

    @property
    def effective_task(self) -> str:
        return self.task if self.task is not None else self.profile.default_task

    @property
    def effective_sequence_length(self) -> int:
        length = self.sequence_length if self.sequence_length is not None else self.max_total_tokens
        assert length is not None
        return length

    @property
    def generation_settings(self) -> GenerationSettings:
        return (
            self.generation
            if self.generation is not None
            else GenerationSettings(
                max_new_tokens=min(512, (self.max_total_tokens or 2) - (self.max_input_tokens or 1))
            )
        )

    @property
    def continuous(self) -> bool:
        if self.continuous_batching is not None:
            return self.continuous_batching
        return self.profile.continuous_batching != "none"

    @property
    def hub_model_id(self) -> str | None:
        """The Hugging Face Hub id of a Hub source (None for S3 sources)."""
        return self.source.model_id if isinstance(self.source, HubSource) else None

    @property
    def needs_hub_egress(self) -> bool:
        """Downloads from the Hugging Face Hub at start-up (nothing in S3 to load instead)."""
        return self.source.type == "hub" and self.compiled_artifacts is None


# --------------------------------------------------------------------------------------------------------------------
# Endpoint
# --------------------------------------------------------------------------------------------------------------------
class DataCaptureConfig(StrictModel):
    enabled: bool = True
    sampling_percent: int = Field(20, ge=0, le=100)
    capture_requests: bool = True
    capture_responses: bool = True

    @model_validator(mode="after")
    def _something_captured(self) -> DataCaptureConfig:
        if self.enabled and not (self.capture_requests or self.capture_responses):
            raise ValueError("enabled = true but capture_requests and capture_responses are both false")
        return self


class CapacityReservationConfig(StrictModel):
    """Run the endpoint on a SageMaker ML capacity reservation (training plan / reserved capacity)."""

    ml_reservation_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:[a-z-]+/[A-Za-z0-9-]+$")


class InstanceScalingConfig(StrictModel):
    """SageMaker managed instance scaling of an inference-component endpoint (0 instances = scale to zero)."""

    min_instances: int = Field(1, ge=0, le=100)
    max_instances: int = Field(2, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> InstanceScalingConfig:
        if self.min_instances > self.max_instances:
            raise ValueError(
                f"min_instances ({self.min_instances}) must not exceed max_instances ({self.max_instances})"
            )
        return self


class DeploymentConfig(StrictModel):
    """Blue/green updates: shift traffic all at once, canary first, or in linear steps; roll back on the alarms."""

    strategy: Literal["all-at-once", "canary", "linear"] = "canary"
    canary_percent: int = Field(10, ge=1, le=50)
    linear_step_percent: int = Field(25, ge=5, le=50)
    wait_interval_seconds: int = Field(600, ge=0, le=3600)
    termination_wait_seconds: int = Field(300, ge=0, le=3600)
    maximum_execution_timeout_seconds: int = Field(7200, ge=600, le=28_800)

    @property
    def steps(self) -> int:
        return {"all-at-once": 1, "canary": 2, "linear": math.ceil(100 / self.linear_step_percent)}[self.strategy]

    @model_validator(mode="after")
    def _timeout_covers_the_shift(self) -> DeploymentConfig:
        baking = self.steps * self.wait_interval_seconds + self.termination_wait_seconds
        if self.maximum_execution_timeout_seconds < baking:
            raise ValueError(
                f"maximum_execution_timeout_seconds ({self.maximum_execution_timeout_seconds}) is shorter than the "
                f"{self.strategy} shift: {self.steps} step(s) x wait_interval_seconds ({self.wait_interval_seconds})"
                f" + termination_wait_seconds ({self.termination_wait_seconds}) = {baking}; raise the timeout or "
                "shorten the waits"
            )
        return self


class AlarmConfig(StrictModel):
    """Alarms that roll a deployment back (and page someone); they exist whatever the strategy."""

    errors_5xx_per_minute: int = Field(5, ge=1)
    evaluation_periods: int = Field(3, ge=1, le=60)
    datapoints_to_alarm: int = Field(2, ge=1, le=60)

    @model_validator(mode="after")
    def _datapoints(self) -> AlarmConfig:
        if self.datapoints_to_alarm > self.evaluation_periods:
            raise ValueError(
                f"datapoints_to_alarm ({self.datapoints_to_alarm}) must not exceed evaluation_periods "
                f"({self.evaluation_periods})"
            )
        return self


SERVING_FAMILIES = ("inf1", "inf2")
_MODEL_KEY = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


class InferenceConfig(StrictModel):
    instance_type: str = "ml.inf2.8xlarge"
    instance_count: int = Field(1, ge=1, le=100, description="Initial instances of the endpoint's variant.")
    models: dict[str, ModelConfig] = Field(min_length=1)
    inference_components: bool = Field(False, description="Host the models as inference components.")
    instance_scaling: InstanceScalingConfig | None = Field(
        None, description="Managed instance scaling (inference components only); min 0 scales to zero."
    )
    scaling: ScalingConfig | None = Field(None, description="Instance-count scaling of a single-model endpoint.")
    routing: Literal["LEAST_OUTSTANDING_REQUESTS", "RANDOM"] = "LEAST_OUTSTANDING_REQUESTS"
    capacity_reservation: CapacityReservationConfig | None = None
    data_capture: DataCaptureConfig = DataCaptureConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    alarms: AlarmConfig = AlarmConfig()

    @field_validator("instance_type")
    @classmethod
    def _serving_instance(cls, value: str) -> str:
        spec = instance(value)
        if spec.family not in SERVING_FAMILIES:
            raise ValueError(
                f"{value} is a {spec.family} instance; the endpoint serves on "
                f"{', '.join(n for n, s in INSTANCES.items() if s.family in SERVING_FAMILIES)}"
            )
        return value

    @field_validator("models")
    @classmethod
    def _model_keys(cls, value: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        bad = [k for k in value if not _MODEL_KEY.match(k)]
        if bad:
            raise ValueError(f"model keys {bad} must be lower-case letters, digits and '-', starting with a letter")
        return value

    @model_validator(mode="after")
    def _hosting_mode(self) -> InferenceConfig:
        problems = []
        if len(self.models) > 1 and not self.inference_components:
            problems.append(
                f"models has {len(self.models)} entries ({', '.join(self.models)}) but "
                "inference_components is false: several models share an endpoint only as components"
            )
        if self.inference_components:
            if self.scaling is not None:
                problems.append(
                    "scaling applies to a single-model endpoint; with inference_components scale copies "
                    "with models.<key>.scaling and instances with instance_scaling"
                )
            hub = sorted(k for k, m in self.models.items() if m.needs_hub_egress)
            if hub and len(hub) < len(self.models):
                isolated = sorted(set(self.models) - set(hub))
                problems.append(
                    f"models {hub} download from the Hugging Face Hub (internet egress, outside the VPC) and models "
                    f"{isolated} load from S3: inference components share the endpoint's network settings and "
                    "execution role, so the Hub models would turn network isolation and the VPC off for all of them; "
                    "give the Hub models compiled_artifacts or an S3 source, or serve them from another profile"
                )
        else:
            if self.instance_scaling is not None:
                problems.append("instance_scaling (managed, scale to zero) needs inference_components: true")
            per_model = [k for k, m in self.models.items() if m.scaling is not None or m.copies != 1]
            if per_model:
                problems.append(
                    f"models {per_model} set scaling/copies, which apply to inference components; "
                    "set inference_components: true or use inference.scaling"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _no_guardrails_on_inf1(self) -> InferenceConfig:
        # SageMaker deployment guardrails exclude Inf1 endpoints: the update falls back to blue/green all at once
        # without a baking period (docs: deployment-guardrails-exclusions, checked 2026-11).
        strategy = self.deployment.strategy
        if instance(self.instance_type).family == "inf1" and strategy in ("canary", "linear"):
            raise setting_errors(
                type(self).__name__,
                [
                    (
                        ("deployment", "strategy"),
                        strategy,
                        (
                            f"{strategy} traffic shifting on inference.instance_type = {self.instance_type}: SageMaker "
                            "deployment guardrails (canary and linear shifting, baking, alarm rollback) do not "
                            "support Inf1 "
                            "instances, so the update would shift all traffic at once; set "
                            "inference.deployment.strategy: "
                            "all-at-once, or serve on ml.inf2 for a canary or linear roll-out"
                        ),
                    )
                ],
            )
        return self
