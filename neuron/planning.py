"""The synth pre-flight: does every model of an endpoint fit its instance, and can it start on its server?

`plan()` checks each model against the instance and the hardware catalog (image family, tensor-parallel degree,
memory, NeuronCores per copy, start-up limits), checks that it has a way to start on its server (TGI-neuronx and
vLLM-neuronx never compile: a Neuron export or a public-cache shape, see `neuron.serving`), and sizes its start-up
from what the server does at start; it raises one `PreflightError` that lists every problem with the setting to
change. The inference stack runs it before any resource exists, and the operator CLI
shows the same arithmetic (`neuron.sizing`).

It reads a profile's settings through the protocols below, which `config.inference` satisfies, so the facts layer
never imports the configuration that uses it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from neuron import sizing
from neuron.catalog import CONTAINERS, PUBLIC_CACHE_ENTRIES, ContainerKind, InstanceSpec, instance, public_cache_entry
from neuron.errors import UserError
from neuron.models import ModelArchitecture
from neuron.serving import ServerProfile


class StartupSettings(Protocol):
    """Start-up values a profile may set instead of the derived ones."""

    @property
    def volume_size_gb(self) -> int | None: ...
    @property
    def model_data_download_timeout_seconds(self) -> int | None: ...
    @property
    def container_startup_health_check_timeout_seconds(self) -> int | None: ...


class CopyScaling(Protocol):
    @property
    def max_capacity(self) -> int: ...


class InstanceScaling(Protocol):
    @property
    def min_instances(self) -> int: ...
    @property
    def max_instances(self) -> int: ...


class ModelSettings(Protocol):
    """What the planner reads of one model's settings."""

    @property
    def server(self) -> ContainerKind: ...
    @property
    def arch(self) -> ModelArchitecture: ...
    @property
    def profile(self) -> ServerProfile: ...
    @property
    def tensor_parallel_degree(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def effective_sequence_length(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def quantization(self) -> str | None: ...
    @property
    def compiled_artifacts(self) -> str | None: ...
    @property
    def needs_hub_egress(self) -> bool: ...
    @property
    def hub_model_id(self) -> str | None: ...
    @property
    def startup(self) -> StartupSettings: ...
    @property
    def memory_mib_per_copy(self) -> int | None: ...
    @property
    def copies(self) -> int: ...
    @property
    def scaling(self) -> CopyScaling | None: ...


M = TypeVar("M", bound=ModelSettings)
M_co = TypeVar("M_co", bound=ModelSettings, covariant=True)


class EndpointSettings(Protocol[M_co]):
    """What the planner reads of an endpoint's settings."""

    @property
    def instance_type(self) -> str: ...
    @property
    def instance_count(self) -> int: ...
    @property
    def inference_components(self) -> bool: ...
    @property
    def instance_scaling(self) -> InstanceScaling | None: ...
    @property
    def models(self) -> Mapping[str, M_co]: ...


class PreflightError(UserError):
    """Settings that would fail a deployment, found before anything is deployed."""


@dataclass(frozen=True)
class ModelPlan(Generic[M]):
    """What the stack builds for one model: its settings, facts, fit on the instance and start-up budget."""

    key: str
    config: M
    arch: ModelArchitecture
    fit: sizing.Fit
    replicas_per_container: int
    memory_mib_per_copy: int
    volume_size_gb: int
    model_data_download_timeout_seconds: int | None  # None for a Hub source (nothing to download before start)
    container_startup_timeout_seconds: int


def plan(inference: EndpointSettings[M]) -> dict[str, ModelPlan[M]]:
    """Check every model against the instance and size its start-up; raise one PreflightError listing every problem.

    Uses `neuron.sizing` — the same arithmetic the operator CLI shows — for memory and parallelism.
    """
    spec = instance(inference.instance_type)
    problems: list[str] = []
    plans: dict[str, ModelPlan[M]] = {}
    for key, model in inference.models.items():
        where = f"inference.models.{key}"
        image_family = CONTAINERS[model.server].family
        if image_family != spec.container_family:
            problems.append(
                f"{where}.server = {model.server.value} is a {image_family} image but inference.instance_type = "
                f"{spec.name} is {spec.family}, which needs a {spec.container_family} image; use "
                + ("neuron-v1-inference" if spec.family == "inf1" else "a neuronx server")
                + f" or an {'ml.inf2' if image_family == 'neuronx' else 'ml.inf1'} instance"
            )
            continue
        start_problem = _start_path_problem(where, key, model)
        if start_problem is not None:
            problems.append(start_problem)
        arch = model.arch
        try:
            fit = sizing.check_fit(
                arch,
                spec.name,
                model.tensor_parallel_degree,
                batch_size=model.batch_size,
                sequence_length=model.effective_sequence_length,
                dtype=model.dtype,
                quantization=model.quantization,
                server=model.server,
                compiled=_compiled(model),
            )
        except sizing.SizingError as err:
            problems.append(
                f"{where}: tensor_parallel_degree = {model.tensor_parallel_degree}, batch_size = {model.batch_size}, "
                f"sequence length = {model.effective_sequence_length}, dtype = {model.dtype}, quantization = "
                f"{model.quantization} on inference.instance_type = {spec.name}: {err}"
            )
            continue
        plans[key] = _sized(key, model, arch, fit, spec, inference, problems)
    if inference.inference_components:
        problems += _component_capacity(inference, spec, plans)
    else:
        volume = sum(p.volume_size_gb for p in plans.values())
        if volume > sizing.MAX_VOLUME_GB:
            problems.append(
                f"inference: the models need a {volume} GB volume, over SageMaker's {sizing.MAX_VOLUME_GB} GB limit"
            )
    if problems:
        raise PreflightError("inference pre-flight failed:\n  - " + "\n  - ".join(problems))
    return plans


def _compiled(model: ModelSettings) -> bool:
    """Loaded from a compiled export (never compiled at start-up): compiled_artifacts, or a Neuron v1 traced model."""
    return model.compiled_artifacts is not None or model.server is ContainerKind.NEURON_V1_INFERENCE


def _compiles_at_start(model: ModelSettings) -> bool:
    """Spends start-up compiling: only a server that compiles at start (LMI transformers-neuronx, the HF toolkit's
    encoder export) and only without compiled artifacts; TGI and vLLM load an export or a public-cache shape, or
    refuse to start (`_start_path_problem`)."""
    return model.compiled_artifacts is None and model.profile.compiles_at_start


def _start_path_problem(where: str, key: str, model: ModelSettings) -> str | None:
    """Why a model has no way to start on its server, or None: TGI-neuronx and vLLM-neuronx need a Neuron export
    (`compiled_artifacts`) or a Hub model at an exact public-cache shape (`neuron.serving` cites the upstream code)."""
    profile = model.profile
    if not profile.needs_export_or_cached_shape or model.compiled_artifacts is not None:
        return None
    hub_id = model.hub_model_id
    if hub_id is not None and public_cache_entry(
        model.server,
        hub_id,
        batch_size=model.batch_size,
        sequence_length=model.effective_sequence_length,
        degree=model.tensor_parallel_degree,
        dtype=model.dtype,
    ):
        return None
    shape = (
        f"degree {model.tensor_parallel_degree}, batch {model.batch_size}, sequence {model.effective_sequence_length}, "
        f"{model.dtype}"
    )
    what = (
        f"the Hub model {hub_id} at {shape} is not a public Neuron cache shape the catalog records "
        f"({len(PUBLIC_CACHE_ENTRIES)} recorded, neuron.catalog.PUBLIC_CACHE_ENTRIES)"
        if hub_id is not None
        else "a checkpoint from S3 has neither, and the public cache is on the Hugging Face Hub, which an isolated "
        "model cannot reach"
    )
    return (
        f"{where}.server = {profile.kind.value} never compiles: it starts only from a Neuron export or an exact "
        f"public-cache shape and otherwise fails with 'No cached version found'; {what}. Fix: run the compile "
        f"workflow (`neuronctl run start compile`) and set {where}.compiled_artifacts to the prefix it writes "
        f"(compiled/{key}/), or choose a cached shape, or serve the model with lmi-neuronx, which compiles at load"
    )


def _sized(
    key: str,
    model: M,
    arch: ModelArchitecture,
    fit: sizing.Fit,
    spec: InstanceSpec,
    inference: EndpointSettings[M],
    problems: list[str],
) -> ModelPlan[M]:
    where = f"inference.models.{key}"
    budget = sizing.startup_budget(
        arch,
        dtype=model.dtype,
        base_seconds=model.profile.base_startup_seconds,
        from_hub=model.needs_hub_egress,
        compiled=not _compiles_at_start(model),
    )
    overrides = model.startup
    startup = overrides.container_startup_health_check_timeout_seconds
    if startup is None:
        startup = budget.container_startup_seconds
        if startup > sizing.MAX_TIMEOUT_SECONDS:
            problems.append(
                f"{where}: start-up needs about {startup} s (compile {budget.compile_seconds} s for "
                f"{arch.billions:.1f}B parameters + download + load), over SageMaker's {sizing.MAX_TIMEOUT_SECONDS} s "
                f"limit; set {where}.compiled_artifacts to a pre-compiled export, or set "
                f"{where}.startup.container_startup_health_check_timeout_seconds if you know it starts sooner"
            )
        startup = budget.clamped(startup)
    download: int | None = None
    if not model.needs_hub_egress:
        download = overrides.model_data_download_timeout_seconds or budget.clamped(budget.model_data_download_seconds)
    volume = overrides.volume_size_gb or budget.volume_size_gb
    if overrides.volume_size_gb is None and volume > sizing.MAX_VOLUME_GB:
        problems.append(
            f"{where}: needs a {volume} GB volume, over SageMaker's {sizing.MAX_VOLUME_GB} GB limit; "
            f"set {where}.compiled_artifacts (no second, compiled copy on the volume)"
        )
    # Components hold their own replicas; a single-model container runs as many replicas as its server can.
    replicas = fit.replicas_per_instance if model.profile.replicates and not inference.inference_components else 1
    memory = model.memory_mib_per_copy or math.ceil(fit.host_required_gib * 1024)
    return ModelPlan(
        key=key,
        config=model,
        arch=arch,
        fit=fit,
        replicas_per_container=replicas,
        memory_mib_per_copy=memory,
        volume_size_gb=min(volume, sizing.MAX_VOLUME_GB),
        model_data_download_timeout_seconds=download,
        container_startup_timeout_seconds=startup,
    )


def _component_capacity(
    inference: EndpointSettings[M], spec: InstanceSpec, plans: Mapping[str, ModelPlan[M]]
) -> list[str]:
    problems = []
    count = inference.instance_count
    cores = sum(p.config.copies * p.config.tensor_parallel_degree for p in plans.values())
    if cores > spec.neuron_cores * count:
        detail = " + ".join(
            f"{k}: copies {p.config.copies} x tensor_parallel_degree {p.config.tensor_parallel_degree}"
            for k, p in plans.items()
        )
        problems.append(
            f"inference.models: component copies need {cores} NeuronCores ({detail}) but inference.instance_count = "
            f"{count} x {spec.neuron_cores} NeuronCores of {spec.name} = {spec.neuron_cores * count}; lower copies "
            "or degree, raise instance_count, or choose a larger instance"
        )
    memory = sum(p.config.copies * p.memory_mib_per_copy for p in plans.values())
    if memory > spec.host_memory_gib * 1024 * count:
        problems.append(
            f"inference.models: component copies need {memory} MiB of host memory (copies x memory_mib_per_copy) but "
            f"{count} x {spec.name} has {spec.host_memory_gib * 1024 * count} MiB"
        )
    if inference.instance_scaling is not None:
        most = inference.instance_scaling.max_instances
        peak = sum(
            (p.config.scaling.max_capacity if p.config.scaling else p.config.copies) * p.config.tensor_parallel_degree
            for p in plans.values()
        )
        if peak > spec.neuron_cores * most:
            problems.append(
                f"inference.models.*.scaling.max_capacity: copies at their maximum need {peak} NeuronCores but "
                f"inference.instance_scaling.max_instances = {most} x {spec.neuron_cores} = "
                f"{spec.neuron_cores * most}; raise max_instances or lower max_capacity"
            )
        if inference.instance_scaling.min_instances > 0 and count < inference.instance_scaling.min_instances:
            problems.append(
                f"inference.instance_count = {count} is below inference.instance_scaling.min_instances = "
                f"{inference.instance_scaling.min_instances}"
            )
    volume = sum(p.volume_size_gb for p in plans.values())
    if volume > sizing.MAX_VOLUME_GB:
        problems.append(
            f"inference.models: the components need a {volume} GB volume together, over SageMaker's "
            f"{sizing.MAX_VOLUME_GB} GB limit"
        )
    return problems
