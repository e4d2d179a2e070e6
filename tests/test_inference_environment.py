"""Each serving container's environment, rendered from a model's settings by `neuron/serving.py` (through the same
`serving_shape` the stack uses). Only the multimodel component reads a synthesized template, shared with the stack
tests; the other cases need no synth because the stack copies the environment unchanged."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cdk_constructs.served_model import serving_shape
from config import load_config
from neuron.planning import plan
from neuron.serving import MODEL_DIR, ServingShape, environment
from tests.support.harness import synth


def rendered(profile: str, key: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    config = load_config(profile, overrides or {}, environ={})
    assert config.inference is not None
    model_plan = plan(config.inference)[key]
    return environment(model_plan.config.server, serving_shape(model_plan, model_location=MODEL_DIR))


def test_the_multimodel_vllm_component_gets_its_optimum_serve_arguments() -> None:
    s = synth("multimodel")
    (mistral,) = [
        r["Properties"] for k, r in s.resources("inference", "AWS::SageMaker::Model").items() if "mistral" in k.lower()
    ]
    # SM_ON_<NAME> becomes `optimum-cli neuron serve --<name> <value>` in the image's entrypoint: huggingface/
    # optimum-neuron v0.4.5 docker/vllm/Dockerfile L52-80, optimum/commands/neuron/serve.py L66-117 (--model,
    # --tensor_parallel_size, --batch_size, --sequence_length; --dtype passed on to vLLM, L54-62, L269-270).
    assert mistral["PrimaryContainer"]["Environment"] == {
        "SM_ON_MODEL": "/opt/ml/model",
        "SM_ON_TENSOR_PARALLEL_SIZE": "2",
        "SM_ON_BATCH_SIZE": "8",
        "SM_ON_SEQUENCE_LENGTH": "8192",
        "SM_ON_DTYPE": "bfloat16",
    }


def test_lmi_without_continuous_batching_compiles_a_static_batch() -> None:
    env = rendered("llama70b", "chat", {"inference": {"models": {"chat": {"continuous_batching": False}}}})
    # deepjavalibrary/djl-serving 0.30.0-dlc engines/python/setup/djl_python/properties_manager: OPTION_<NAME> is
    # option.<name>; model_id properties.py L47, tensor_parallel_degree L52, rolling_batch + batch_size L56;
    # tnx_properties.py n_positions L90, dtype L32-35/L89, quantize static_int8 L44-45/L97, rolling batch off with a
    # batch above 1 L164-178; entrypoint serving/docs/lmi/user_guides/tnx_user_guide.md L71-76; model_loading_timeout
    # serving/docs/lmi/deployment_guide/configurations.md L100.
    assert env == {
        "OPTION_MODEL_ID": "/opt/ml/model",
        "OPTION_ENTRYPOINT": "djl_python.transformers_neuronx",
        "OPTION_TENSOR_PARALLEL_DEGREE": "8",
        "OPTION_N_POSITIONS": "4096",
        "OPTION_DTYPE": "bf16",
        "OPTION_MODEL_LOADING_TIMEOUT": "1088",
        "OPTION_ROLLING_BATCH": "disable",
        "OPTION_BATCH_SIZE": "4",
        "OPTION_QUANTIZE": "static_int8",
    }


def test_the_hf_toolkit_gets_hf_model_id_only_for_a_hub_model() -> None:
    # aws/sagemaker-huggingface-inference-toolkit 2.6.0 (src/sagemaker_huggingface_inference_toolkit/): S3 model data
    # gets no HF_MODEL_ID (its presence alone selects the Hub download, mms_model_server.py L67), no
    # NEURON_RT_NUM_CORES (optimum_utils.py L106 sets it to 1 itself); HF_TASK handler_service.py L121-133;
    # HF_OPTIMUM_BATCH_SIZE / HF_OPTIMUM_SEQUENCE_LENGTH optimum_utils.py L68-78; SAGEMAKER_MODEL_SERVER_WORKERS
    # mms_model_server.py L88-95: a worker per NeuronCore of ml.inf2.xlarge.
    env = rendered(
        "embedding", "embed", {"inference": {"models": {"embed": {"batch_size": 4, "sequence_length": 256}}}}
    )
    assert env == {
        "HF_TASK": "feature-extraction",
        "HF_OPTIMUM_BATCH_SIZE": "4",
        "HF_OPTIMUM_SEQUENCE_LENGTH": "256",
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    }
    shape = replace(SHAPE, model_location="BAAI/bge-base-en-v1.5", revision="a5beb1e")
    hub = environment("hf-inference-neuronx", shape)
    assert (hub["HF_MODEL_ID"], hub["HF_MODEL_REVISION"]) == ("BAAI/bge-base-en-v1.5", "a5beb1e")


def test_tgi_takes_the_revision_under_the_sagemaker_entrypoint_name() -> None:
    # huggingface/optimum-neuron v0.0.28 text-generation-inference/sagemaker-entrypoint.sh L9-11: HF_MODEL_REVISION
    # -> REVISION; L3-7 HF_MODEL_ID and L17-20 MAX_BATCH_SIZE are required.
    env = environment("tgi-neuronx", replace(SHAPE, model_location="org/model", revision="v1", task="text-generation"))
    assert env["HF_MODEL_REVISION"] == "v1" and "REVISION" not in env
    assert env["HF_MODEL_ID"] == "org/model" and env["MAX_BATCH_SIZE"] == "4"  # both required by the entrypoint


SHAPE = ServingShape(
    model_location=MODEL_DIR,
    task="feature-extraction",
    degree=1,
    batch_size=4,
    sequence_length=256,
    dtype="fp32",
    replicas=2,
    max_input_tokens=100,
    max_total_tokens=200,
)
