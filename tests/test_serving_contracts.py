"""The serving containers' start-up decisions, run against the containers' own code with the environment our
templates carry.

The HF inference image runs sagemaker-huggingface-inference-toolkit 2.6.0 (the image pins `>=2.4.1,<3`, and 2.6.0 is
the newest release; aws/deep-learning-containers ff5dd4bd huggingface/pytorch/inference/docker/2.8/py3/sdk2.26.0/
Dockerfile.neuronx L178). It is pure Python and a dev dependency (requirements-dev.txt), so these tests import its
modules and run its start-up with the `Environment` of the synthesized `embedding` and `multimodel` models. What
needs the Neuron image is stubbed: the optimum-neuron modules (their task list is the one `neuron.serving` records
from optimum-neuron v0.4.1), the MMS process, and every network connection (a call fails the test).

TGI-neuronx and vLLM-neuronx run code that exists only in their images; the facts their rules rest on are pinned at
the end of this file, next to the upstream file, line and tag they were read from.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sagemaker_huggingface_inference_toolkit import handler_service, mms_model_server, optimum_utils

from config import ConfigError, load_config
from neuron import serving
from neuron.catalog import ContainerKind, instance
from neuron.planning import PreflightError, plan
from neuron.serving import MODEL_DIR, OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS, ServingShape, environment
from tests.support.harness import synth

# A BERT encoder's config.json (bge-base-en-v1.5's architecture), enough for transformers.AutoConfig.
BERT_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 768,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
    "vocab_size": 30522,
}


def template_environment(profile: str, key: str) -> dict[str, str]:
    """The Environment of one model's container, as the synthesized CloudFormation template carries it."""
    models = synth(profile).resources("inference", "AWS::SageMaker::Model")
    (found,) = [r["Properties"] for logical, r in models.items() if logical.startswith(f"Model{key}")]
    env = found["PrimaryContainer"]["Environment"]
    assert all(isinstance(v, str) for v in env.values()), env  # plain values: what the container receives
    return dict(env)


class NetworkCalled(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkCalled(f"network call attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def container(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A process environment holding only what the container would (plus PATH), restored afterwards."""
    environ: dict[str, str] = {"PATH": os.environ.get("PATH", "")}
    monkeypatch.setattr(os, "environ", environ)
    yield environ


class NeuronPipelines:
    """Stand-ins for optimum.neuron's pipeline module (needs torch-neuronx): records what the toolkit asks for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        base = types.ModuleType("optimum.neuron.pipelines.transformers.base")
        base.NEURONX_SUPPORTED_TASKS = {task: {} for task in OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS}  # type: ignore[attr-defined]
        base.pipeline = self.pipeline  # type: ignore[attr-defined]
        utils = types.ModuleType("optimum.neuron.utils")
        utils.NEURON_FILE_NAME = "model.neuron"  # type: ignore[attr-defined]  # optimum-neuron v0.4.1 constant.py L17
        for name in ("optimum", "optimum.neuron", "optimum.neuron.pipelines", "optimum.neuron.pipelines.transformers"):
            monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        monkeypatch.setitem(sys.modules, "optimum.neuron.pipelines.transformers.base", base)
        monkeypatch.setitem(sys.modules, "optimum.neuron.utils", utils)
        # The toolkit decides "optimum-neuron is installed" once, at import (optimum_utils.py L20-23, L28-29).
        monkeypatch.setattr(optimum_utils, "_optimum_neuron", True)

    def pipeline(self, task: str, *, model: str, export: bool, input_shapes: dict[str, int]) -> object:
        self.calls.append(
            {
                "task": task,
                "model": model,
                "export": export,
                "input_shapes": input_shapes,
                "NEURON_RT_NUM_CORES": os.environ.get("NEURON_RT_NUM_CORES"),
            }
        )
        return object()


class ModelServer:
    """Stand-ins for the MMS process (`multi-model-server --start`): records the command and the worker count."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.commands: list[list[str]] = []
        self.workers: list[str | None] = []
        self.hub_downloads: list[dict[str, Any]] = []
        monkeypatch.setattr(mms_model_server.subprocess, "Popen", self.commands.append)
        monkeypatch.setattr(mms_model_server, "_create_model_server_config_file", self.config_file)
        monkeypatch.setattr(mms_model_server, "_load_model_from_hub", self.hub_download)
        monkeypatch.setattr(mms_model_server, "_adapt_to_mms_format", lambda handler, path: None)
        monkeypatch.setattr(mms_model_server, "_retry_retrieve_mms_server_process", lambda timeout: _Process())
        monkeypatch.setattr(mms_model_server, "_add_sigterm_handler", lambda process: None)
        monkeypatch.setattr(mms_model_server, "_add_sigchild_handler", lambda: None)

    def config_file(self, env: Any, handler: str | None) -> None:
        self.workers.append(env.model_server_workers)

    def hub_download(self, **kwargs: Any) -> str:
        self.hub_downloads.append(kwargs)
        return "/tmp/hub-model"


class _Process:
    def wait(self) -> int:
        return 0


def model_dir(tmp_path: Path, *, exported: dict[str, int] | None = None) -> str:
    """A model directory as SageMaker places it: a checkpoint, or an optimum-neuron export (model.neuron + shapes)."""
    config = dict(BERT_CONFIG)
    if exported is not None:
        config["neuron"] = {"static_batch_size": exported["batch"], "static_sequence_length": exported["sequence"]}
        (tmp_path / "model.neuron").write_bytes(b"")
    (tmp_path / "config.json").write_text(json.dumps(config))
    return str(tmp_path)


PROFILES = [("embedding", "embed"), ("multimodel", "embed")]


# --- the model comes from /opt/ml/model, not the Hub ----------------------------------------------------------------
@pytest.mark.parametrize(("profile", "key"), PROFILES)
def test_the_toolkit_serves_our_s3_model_from_the_model_directory(
    profile: str, key: str, container: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = template_environment(profile, key)
    container.update(env)
    NeuronPipelines(monkeypatch)
    server = ModelServer(monkeypatch)
    mms_model_server.start_model_server()
    # mms_model_server.py L67, L83-84, L114-115: no HF_MODEL_ID -> no Hub download, MMS loads /opt/ml/model.
    assert server.hub_downloads == []
    (command,) = server.commands
    assert command[command.index("--models") + 1] == f"model={MODEL_DIR}"
    assert command[command.index("--model-store") + 1] == "/"
    # The worker count is ours (SAGEMAKER_MODEL_SERVER_WORKERS), not 2 x Neuron devices (L88-95).
    assert server.workers == [env["SAGEMAKER_MODEL_SERVER_WORKERS"]]


def test_the_old_environment_would_have_sent_the_toolkit_to_the_hub(
    container: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why HF_MODEL_ID is left out for S3 models: its presence alone selects the Hub download of its value."""
    container.update(template_environment("embedding", "embed") | {"HF_MODEL_ID": MODEL_DIR})
    NeuronPipelines(monkeypatch)
    server = ModelServer(monkeypatch)
    mms_model_server.start_model_server()
    assert [d["model_id"] for d in server.hub_downloads] == [MODEL_DIR]  # HfApi().model_info("/opt/ml/model")
    assert "--models" not in server.commands[0]


def test_a_hub_model_is_downloaded_by_its_id(container: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    shape = ServingShape("BAAI/bge-base-en-v1.5", "feature-extraction", 1, 8, 512, "fp32", replicas=2)
    container.update(environment(ContainerKind.HF_INFERENCE_NEURONX, shape))
    NeuronPipelines(monkeypatch)
    server = ModelServer(monkeypatch)
    mms_model_server.start_model_server()
    assert [d["model_id"] for d in server.hub_downloads] == ["BAAI/bge-base-en-v1.5"]


# --- task, export decision, shapes and cores ------------------------------------------------------------------------
@pytest.mark.parametrize(("profile", "key"), PROFILES)
def test_the_toolkit_exports_our_model_at_our_shape_on_one_core(
    profile: str, key: str, container: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = template_environment(profile, key)
    container.update(env)
    pipelines = NeuronPipelines(monkeypatch)
    directory = model_dir(tmp_path)
    handler_service.HuggingFaceHandlerService().load(directory)
    config = load_config(profile, environ={}).inference
    assert config is not None
    model = config.models[key]
    # optimum_utils.py L91-108: a supported task, export (no model.neuron), the HF_OPTIMUM_* shape, one core.
    assert pipelines.calls == [
        {
            "task": model.effective_task,
            "model": directory,
            "export": True,
            "input_shapes": {"batch_size": model.batch_size, "sequence_length": model.effective_sequence_length},
            "NEURON_RT_NUM_CORES": "1",
        }
    ]
    # Each worker holds one copy on one core: the workers our template asks for are the cores the container gets
    # (all of the instance's for a single model, the component's NeuronCores per copy otherwise).
    given = model.tensor_parallel_degree if config.inference_components else instance(config.instance_type).neuron_cores
    assert int(env["SAGEMAKER_MODEL_SERVER_WORKERS"]) == given


def test_a_compiled_export_is_loaded_at_its_own_shape_without_exporting(
    container: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    container.update(template_environment("embedding", "embed"))
    pipelines = NeuronPipelines(monkeypatch)
    directory = model_dir(tmp_path, exported={"batch": 8, "sequence": 512})
    handler_service.HuggingFaceHandlerService().load(directory)
    (call,) = pipelines.calls
    assert call["export"] is False and call["input_shapes"] == {"batch_size": 8, "sequence_length": 512}


def test_the_toolkit_overrides_any_neuron_rt_num_cores_the_endpoint_sets(
    container: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Why degree > 1 is refused for hf-inference-neuronx and NEURON_RT_NUM_CORES is not written."""
    container.update(template_environment("embedding", "embed") | {"NEURON_RT_NUM_CORES": "2"})
    pipelines = NeuronPipelines(monkeypatch)
    handler_service.HuggingFaceHandlerService().load(model_dir(tmp_path))
    assert pipelines.calls[0]["NEURON_RT_NUM_CORES"] == "1"
    assert "NEURON_RT_NUM_CORES" not in template_environment("embedding", "embed")
    assert serving.SERVERS[ContainerKind.HF_INFERENCE_NEURONX].fixed_degree == 1


def test_the_sequence_length_is_required_and_ours_is_set(container: dict[str, str], tmp_path: Path) -> None:
    # optimum_utils.py L68-72: without HF_OPTIMUM_SEQUENCE_LENGTH the toolkit refuses to export.
    with pytest.raises(ValueError, match="HF_OPTIMUM_SEQUENCE_LENGTH environment variable is not set"):
        optimum_utils.get_input_shapes(model_dir(tmp_path))
    container.update(template_environment("embedding", "embed"))
    assert optimum_utils.get_input_shapes(model_dir(tmp_path)) == {"batch_size": 8, "sequence_length": 512}


def test_the_seq2seq_task_fails_in_the_toolkit_and_is_refused_before_it(
    container: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The flan-t5-large preset as text2text-generation: the toolkit raises at start; our config refuses it first."""
    container.update(template_environment("embedding", "embed") | {"HF_TASK": "text2text-generation"})
    NeuronPipelines(monkeypatch)
    with pytest.raises(ValueError, match="Task text2text-generation is not supported by optimum neuron and inf2"):
        handler_service.HuggingFaceHandlerService().load(model_dir(tmp_path))
    # Without HF_TASK the toolkit infers it from a T5 config (transformers_utils.py L84-98, L211-234): the same task.
    t5 = tmp_path / "t5"
    t5.mkdir()
    (t5 / "config.json").write_text(json.dumps({"architectures": ["T5ForConditionalGeneration"]}))
    from sagemaker_huggingface_inference_toolkit.transformers_utils import infer_task_from_model_architecture

    assert infer_task_from_model_architecture(str(t5 / "config.json")) == "text2text-generation"
    assert "text2text-generation" not in OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS

    seq2seq = {"preset": "flan-t5-large", "source": {"type": "s3-prefix", "prefix": "flan-t5-large/"}}
    with pytest.raises(ConfigError, match="flan-t5-large is an encoder-decoder model: no catalog server serves"):
        load_config("embedding", {"inference": {"models": {"embed": seq2seq}}}, environ={})


def test_every_task_we_offer_on_the_toolkit_is_one_its_neuron_pipeline_accepts() -> None:
    offered = serving.SERVERS[ContainerKind.HF_INFERENCE_NEURONX].tasks
    assert set(offered) <= set(OPTIMUM_NEURON_0_4_1_PIPELINE_TASKS)


# --- TGI-neuronx (optimum-neuron v0.0.28) and vLLM-neuronx (v0.4.5): code only in the images; each fact pinned -------
def tgi_shape(**changes: Any) -> ServingShape:
    base = ServingShape(MODEL_DIR, "text-generation", 2, 4, 4096, "bf16", max_input_tokens=3072, max_total_tokens=4096)
    return ServingShape(**{**base.__dict__, **changes})


def test_tgi_entrypoint_requirements_are_met() -> None:
    # text-generation-inference/sagemaker-entrypoint.sh @ v0.0.28 L3-6 and L17-20 exit unless both are set.
    env = environment(ContainerKind.TGI_NEURONX, tgi_shape())
    assert env["HF_MODEL_ID"] and env["MAX_BATCH_SIZE"] == "4"
    # model.py L15-32 reads the export shape from these (sequence length = MAX_TOTAL_TOKENS).
    assert (env["HF_NUM_CORES"], env["HF_AUTO_CAST_TYPE"], env["MAX_TOTAL_TOKENS"]) == ("2", "bf16", "4096")


def test_vllm_entrypoint_maps_each_variable_to_a_serve_argument() -> None:
    # docker/vllm/Dockerfile @ v0.4.5 L67-76: strip SM_ON_, lower-case, prefix "--"; serve.py L66-117 own arguments.
    env = environment(ContainerKind.VLLM_NEURONX, tgi_shape(sequence_length=8192))
    arguments = {"--" + k.removeprefix("SM_ON_").lower(): v for k, v in env.items()}
    assert arguments == {
        "--model": MODEL_DIR,
        "--tensor_parallel_size": "2",
        "--batch_size": "4",
        "--sequence_length": "8192",
        "--dtype": "bfloat16",
    }
    assert "SM_ON_ALLOW_NON_CACHED_MODEL" not in env  # never compile at start (serve.py L186-206)


@pytest.mark.parametrize("kind", [ContainerKind.TGI_NEURONX, ContainerKind.VLLM_NEURONX])
def test_tgi_and_vllm_never_compile_and_need_an_export_or_a_cached_shape(kind: ContainerKind) -> None:
    profile = serving.SERVERS[kind]
    assert profile.compiles_at_start is False and profile.needs_export_or_cached_shape is True
    assert serving.SERVERS[ContainerKind.LMI_NEURONX].compiles_at_start is True  # model_loader.py L373-398
    key = "llama" if kind is ContainerKind.TGI_NEURONX else "mistral"
    config = load_config("multimodel", {"inference": {"models": {key: {"compiled_artifacts": None}}}}, environ={})
    assert config.inference is not None
    with pytest.raises(PreflightError, match=f"server = {kind.value} never compiles"):
        plan(config.inference)
