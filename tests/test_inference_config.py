"""Inference settings and the synth pre-flight: every rule rejects a bad value with a message naming the setting,
the value, the numbers and the fix. Nothing here synthesizes."""

from typing import Any

import pytest
from pydantic import ValidationError

from config import ConfigError, load_config
from config.inference import GenerationSettings, HubSource, InferenceConfig
from neuron.catalog import ContainerKind
from neuron.planning import PreflightError, plan
from neuron.sizing import MAX_TIMEOUT_SECONDS, MAX_VOLUME_GB, MIN_TIMEOUT_SECONDS
from tests.support.state_machines import sagemaker_model


def error_of(profile: str = "dev", **overrides: Any) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(profile, overrides, environ={})
    return str(err.value)


def chat(**settings: Any) -> dict[str, Any]:
    """Overrides of the dev profile's one model."""
    return {"inference": {"models": {"chat": settings}}}


PINNED = "0123456789abcdef0123456789abcdef01234567"  # any 40-hex commit SHA
HUB_LLAMA = {"type": "hub", "model_id": "meta-llama/Llama-3.1-8B-Instruct", "revision": PINNED}


def hub_dev(**settings: Any) -> InferenceConfig:
    """The dev endpoint with its model from the Hugging Face Hub instead of S3 (the profile overrides cannot replace
    a source of another type: they merge into it)."""
    inference = load_config("dev", environ={}).inference
    assert inference is not None
    data = inference.model_dump()
    data["models"]["chat"] |= {"source": HUB_LLAMA, "compiled_artifacts": None, **settings}
    return InferenceConfig.model_validate(data)


def preflight_error(profile: str = "dev", **overrides: Any) -> str:
    config = load_config(profile, overrides, environ={})
    assert config.inference is not None
    with pytest.raises(PreflightError) as err:
        plan(config.inference)
    return str(err.value)


# --- generation settings ---------------------------------------------------------------------------------------------
def test_changing_temperature_and_top_p_is_refused_citing_the_rule() -> None:
    message = error_of(**chat(generation={"top_p": 0.9}))  # dev already sets temperature 0.6
    assert (
        "inference.models.chat.generation = {'temperature': 0.6, 'max_new_tokens': 1024, 'stop': ['<|eot_id|>'], "
        "'top_p': 0.9}: temperature = 0.6 and top_p = 0.9 both differ from neutral (1.0, 1.0): alter temperature "
        "or top_p, not both; set one of them back to 1.0, or set allow_temperature_and_top_p: true"
    ) in message
    allowed = load_config("dev", chat(generation={"top_p": 0.9, "allow_temperature_and_top_p": True}), environ={})
    assert allowed.inference is not None and allowed.inference.models["chat"].generation_settings.top_p == 0.9


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"temperature": 2.5}, "temperature\n  Input should be less than or equal to 2"),
        ({"temperature": -0.1}, "temperature\n  Input should be greater than or equal to 0"),
        ({"top_p": 0.0}, "top_p\n  Input should be greater than 0"),
        ({"top_p": 1.5}, "top_p\n  Input should be less than or equal to 1"),
        ({"max_new_tokens": 0}, "max_new_tokens\n  Input should be greater than or equal to 1"),
        ({"frequency_penalty": 2.5}, "frequency_penalty\n  Input should be less than or equal to 2"),
        ({"presence_penalty": -2.5}, "presence_penalty\n  Input should be greater than or equal to -2"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop\n  Tuple should have at most 4 items after validation, not 5"),
        ({"stop": [""]}, "stop\n  Value error, stop sequences must not be empty strings"),
        ({"stop": ["x", "x"]}, "stop\n  Value error, stop sequences must be distinct"),
    ],
)
def test_generation_ranges(settings: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        GenerationSettings.model_validate(settings)
    assert expected in str(err.value)


def test_request_overrides_are_checked_against_the_same_rules() -> None:
    defaults = GenerationSettings(temperature=0.6, max_new_tokens=256, stop=("</s>",))
    assert defaults.merged({"temperature": 1.0, "top_p": 0.8}).parameters() == {
        "temperature": 1.0,
        "top_p": 0.8,
        "max_new_tokens": 256,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "stop": ["</s>"],
    }
    with pytest.raises(ValidationError, match="alter temperature or top_p, not both"):
        defaults.merged({"top_p": 0.8})


# --- model rules -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"max_input_tokens": 4096},
            "max_input_tokens (4096) < max_total_tokens (4096) <= sequence_length (4096) must hold",
        ),
        ({"sequence_length": 2048}, "max_input_tokens (3072) < max_total_tokens (4096) <= sequence_length (2048)"),
        (
            {"max_total_tokens": 200_000, "sequence_length": 200_000},
            "sequence_length / max_total_tokens (200000) exceeds the 131072 positions of llama-3.1-8b",
        ),
        (
            {"generation": {"max_new_tokens": 2048}},
            "generation.max_new_tokens (2048) exceeds max_total_tokens (4096) - max_input_tokens (3072) = 1024",
        ),
        ({"quantization": "int8"}, "quantization = int8 is not offered by tgi-neuronx; offered: int8 (lmi-neuronx)"),
        ({"continuous_batching": False}, "continuous_batching = false but tgi-neuronx always uses it"),
        (
            {"on_device_sampling": True},
            "on_device_sampling = true but tgi-neuronx has no on device sampling; servers "
            "with it: none of the serving containers sets it from its environment "
            "(vllm-neuronx samples as the exported model was compiled: export it with "
            "on-device sampling and set compiled_artifacts)",
        ),
        ({"dtype": "fp32"}, "dtype = fp32 is not one tgi-neuronx runs (bf16, fp16)"),
        (
            {"server": "hf-inference-neuronx"},
            "server = hf-inference-neuronx serves encoder models, not decoder models (llama-3.1-8b)",
        ),
        (
            {"server": "neuron-v1-inference", "compiled_artifacts": None},
            "source.type = s3-prefix cannot be loaded by neuron-v1-inference (it loads: s3-tarball)",
        ),
        ({"task": "text2text-generation"}, "Input should be 'text-generation', 'feature-extraction' or 'text-"),
        (
            {"server": "pytorch-training-neuronx"},
            "pytorch-training-neuronx is a training container; serving containers: tgi-neuronx, lmi-neuronx",
        ),
        ({"preset": "gpt-j"}, "model preset 'gpt-j' is unknown; known presets: llama-3.1-8b"),
        (
            {
                "architecture": {
                    "name": "x",
                    "kind": "decoder",
                    "parameters": 10**9,
                    "layers": 8,
                    "hidden_size": 1024,
                    "attention_heads": 8,
                    "kv_heads": 8,
                    "head_dim": 128,
                    "max_positions": 4096,
                    "vocab_size": 32000,
                }
            },
            "set exactly one of preset (a known model) or architecture (a custom model's facts)",
        ),
        (
            {"compiled_artifacts": "compiled/llama"},
            "compiled artifacts are a prefix and must end with '/', e.g. compiled/llama/",
        ),
        ({"source": {"type": "s3-prefix", "prefix": "llama"}}, "an S3 prefix source must end with '/', e.g. llama/"),
        ({"source": {"type": "s3-prefix", "prefix": "s3://bucket/llama/"}}, "String should match pattern"),
        ({"source": {"type": "s3-tarball", "key": "llama/model.zip"}}, "a tarball source key must end with .tar.gz"),
        (
            {"source": {"type": "hub", "model_id": "no-org", "revision": PINNED}},
            "source.hub.model_id = 'no-org': String should match",
        ),
        (
            {"copies": 2},
            "models ['chat'] set scaling/copies, which apply to inference components; set "
            "inference_components: true or use inference.scaling",
        ),
    ],
)
def test_model_rules(settings: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**chat(**settings))


@pytest.mark.parametrize(
    ("revision", "shown"),
    [
        (None, "unset"),
        ("main", "'main'"),  # a branch moves with every push
        ("v1.0", "'v1.0'"),  # so can a tag
        ("0123456", "'0123456'"),  # a short SHA
        ("0123456789ABCDEF0123456789ABCDEF01234567", "'0123456789ABCDEF0123456789ABCDEF01234567'"),  # upper case
        (PINNED + "0", f"'{PINNED}0'"),  # 41 characters
    ],
)
def test_a_hub_source_must_pin_a_full_commit(revision: str | None, shown: str) -> None:
    source = {k: v for k, v in HUB_LLAMA.items() if k != "revision"} | ({"revision": revision} if revision else {})
    with pytest.raises(ValidationError) as err:
        hub_dev(source=source)
    message = str(err.value)
    model = "meta-llama/Llama-3.1-8B-Instruct"
    assert f"revision of {model} is {shown}, not a pinned commit" in message
    assert "set revision to the full 40-character commit SHA (lowercase hex)" in message
    assert f"`hf models info {model}`" in message and f"HfApi().model_info('{model}').sha" in message
    assert f"https://huggingface.co/{model}/commits/main" in message


def test_a_pinned_commit_reaches_the_container() -> None:
    model = hub_dev(server="lmi-neuronx").models["chat"]
    assert isinstance(model.source, HubSource) and model.source.revision == PINNED


@pytest.mark.parametrize(
    ("server", "settings", "expected"),
    [
        (
            "tgi-neuronx",
            {"quantization": "int8"},
            "quantization = int8 is not offered by tgi-neuronx; offered: int8 (lmi-neuronx)",
        ),
        (
            "vllm-neuronx",
            {"quantization": "int8"},
            "quantization = int8 is not offered by vllm-neuronx; offered: int8 (lmi-neuronx)",
        ),
        ("lmi-neuronx", {"quantization": "fp8"}, "inference.models.chat.quantization = 'fp8': Input should be 'int8'"),
        (
            "vllm-neuronx",
            {"on_device_sampling": True},
            "on_device_sampling = true but vllm-neuronx has no on device "
            "sampling; servers with it: none of the serving containers",
        ),
        (
            "lmi-neuronx",
            {"on_device_sampling": True},
            "on_device_sampling = true but lmi-neuronx has no on device "
            "sampling; servers with it: none of the serving containers",
        ),
    ],
)
def test_quantization_and_on_device_sampling_per_server(server: str, settings: dict[str, Any], expected: str) -> None:
    assert expected in error_of(**chat(server=server, **settings))


def test_what_lmi_accepts_reaches_its_plan() -> None:
    config = load_config("dev", chat(server="lmi-neuronx", quantization="int8", on_device_sampling=False), environ={})
    assert config.inference is not None
    model = plan(config.inference)["chat"].config
    assert (model.quantization, model.on_device_sampling, model.profile.quantizations) == (
        "int8",
        False,
        {"int8": "static_int8"},
    )


def test_encoder_models_take_a_sequence_length_and_no_generation_defaults() -> None:
    message = error_of("embedding", inference={"models": {"embed": {"sequence_length": None}}})
    assert "hf-inference-neuronx needs sequence_length (the compiled input length)" in message
    message = error_of("embedding", inference={"models": {"embed": {"generation": {"temperature": 0.5}}}})
    assert "generation applies to text-generating servers, not hf-inference-neuronx" in message
    message = error_of("embedding", inference={"models": {"embed": {"max_total_tokens": 512}}})
    assert (
        "max_input_tokens / max_total_tokens apply to text generation; hf-inference-neuronx takes sequence_length"
        in message
    )


def test_custom_architecture_is_checked_like_a_preset() -> None:
    bad = {
        "preset": None,
        "architecture": {
            "name": "mine",
            "kind": "decoder",
            "parameters": 3_000_000_000,
            "layers": 26,
            "hidden_size": 3072,
            "attention_heads": 24,
            "kv_heads": 5,
            "head_dim": 128,
            "max_positions": 8192,
            "vocab_size": 32000,
        },
    }
    assert "attention_heads (24) must be a multiple of kv_heads (5)" in error_of(**chat(**bad))


# --- endpoint rules --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("inference", "expected"),
    [
        (
            {"instance_type": "ml.trn1.2xlarge"},
            "inference.instance_type = 'ml.trn1.2xlarge': ml.trn1.2xlarge is a trn1 "
            "instance; the endpoint serves on ml.inf1.xlarge",
        ),
        ({"instance_type": "ml.g5.xlarge"}, "instance type 'ml.g5.xlarge' is not in the Neuron catalog"),
        (
            {
                "models": {
                    "Chat": {
                        "preset": "llama-3.1-8b",
                        "source": {"type": "hub", "model_id": "a/b", "revision": PINNED},
                        "max_input_tokens": 10,
                        "max_total_tokens": 20,
                    }
                }
            },
            "model keys ['Chat'] must be lower-case letters",
        ),
        (
            {"instance_scaling": {"min_instances": 0, "max_instances": 2}},
            "instance_scaling (managed, scale to zero) needs inference_components: true",
        ),
        (
            {"inference_components": True},
            "scaling applies to a single-model endpoint; with inference_components "
            "scale copies with models.<key>.scaling",
        ),
        ({"scaling": {"min_capacity": 3, "max_capacity": 2}}, "min_capacity (3) must not exceed max_capacity (2)"),
        (
            {"scaling": {"target_concurrent_requests": None}},
            "set target_concurrent_requests or target_invocations_per_minute (or both)",
        ),
        (
            {"routing": "ROUND_ROBIN"},
            "inference.routing = 'ROUND_ROBIN': Input should be 'LEAST_OUTSTANDING_REQUESTS' or 'RANDOM'",
        ),
        (
            {"data_capture": {"capture_requests": False, "capture_responses": False}},
            "enabled = true but capture_requests and capture_responses are both false",
        ),
        (
            {"data_capture": {"sampling_percent": 101}},
            "sampling_percent = 101: Input should be less than or equal to 100",
        ),
        (
            {"capacity_reservation": {"ml_reservation_arn": "arn:aws:ec2:us-east-1:123456789012:reservation/x"}},
            "capacity_reservation.ml_reservation_arn",
        ),
        (
            {
                "deployment": {
                    "strategy": "linear",
                    "linear_step_percent": 10,
                    "wait_interval_seconds": 900,
                    "maximum_execution_timeout_seconds": 3600,
                }
            },
            "maximum_execution_timeout_seconds (3600) is shorter than the linear shift: 10 step(s) x "
            "wait_interval_seconds (900) + termination_wait_seconds (0) = 9000; raise the timeout or shorten the waits",
        ),
        ({"alarms": {"evaluation_periods": 1}}, "datapoints_to_alarm (2) must not exceed evaluation_periods (1)"),
    ],
)
def test_endpoint_rules(inference: dict[str, Any], expected: str) -> None:
    assert expected in error_of(inference=inference)


@pytest.mark.parametrize("strategy", ["canary", "linear"])
def test_guardrail_strategies_are_refused_on_inf1(strategy: str) -> None:
    message = error_of("inf1", inference={"deployment": {"strategy": strategy}})
    assert message == (
        "invalid configuration in inf1.yaml (profile 'inf1'):\n"
        f"  - inference.deployment.strategy = '{strategy}': {strategy} traffic shifting on inference.instance_type = "
        "ml.inf1.xlarge: SageMaker deployment guardrails (canary and linear shifting, baking, alarm rollback) do not "
        "support Inf1 instances, so the update would shift all traffic at once; set inference.deployment.strategy: "
        "all-at-once, or serve on ml.inf2 for a canary or linear roll-out"
    )
    assert load_config("inf1", environ={}).inference.deployment.strategy == "all-at-once"  # type: ignore[union-attr]


def test_several_models_need_inference_components() -> None:
    message = error_of("multimodel", inference={"inference_components": False, "instance_scaling": None})
    assert (
        "models has 3 entries (llama, mistral, embed) but inference_components is false: several models share an "
        "endpoint only as components"
    ) in message


# --- pre-flight (instance-dependent) ---------------------------------------------------------------------------------
def test_preflight_refuses_a_neuronx_image_on_inf1() -> None:
    message = preflight_error(inference={"instance_type": "ml.inf1.6xlarge"})
    assert (
        "inference.models.chat.server = tgi-neuronx is a neuronx image but inference.instance_type = "
        "ml.inf1.6xlarge is inf1, which needs a neuron image; use neuron-v1-inference or an ml.inf2 instance"
    ) in message
    message = preflight_error("inf1", inference={"instance_type": "ml.inf2.xlarge"})
    assert (
        "server = neuron-v1-inference is a neuron image but inference.instance_type = ml.inf2.xlarge is inf2" in message
    )


def test_preflight_names_the_setting_the_numbers_and_the_smallest_fit() -> None:
    # Without compiled artifacts (refused for that too: TGI never compiles) the host holds the whole checkpoint.
    message = preflight_error(
        inference={"instance_type": "ml.inf2.xlarge", "models": {"chat": {"compiled_artifacts": None}}}
    )
    assert "inference.models.chat.server = tgi-neuronx never compiles" in message
    assert message.endswith(
        "\n  - inference.models.chat: tensor_parallel_degree = 2, batch_size = 4, sequence "
        "length = 4096, dtype = bf16, quantization = None on inference.instance_type = ml.inf2.xlarge: llama-3.1-8b "
        "(bf16, batch 4, sequence 4096) does not fit ml.inf2.xlarge at degree 2: loading needs 17.0 GiB of host memory "
        "(whole-checkpoint loading: 15.0 + 2 reserved) but ml.inf2.xlarge has 16 GiB; smallest fit: ml.inf2.8xlarge "
        "at degree 2 "
        "(1 replica(s) per instance): 20.7 of 32 GiB"
    )
    message = preflight_error(**chat(tensor_parallel_degree=4))
    assert "degree 4 exceeds the 2 NeuronCores of ml.inf2.8xlarge" in message
    message = preflight_error(**chat(batch_size=16, max_input_tokens=15_360, max_total_tokens=16_384))
    assert (
        "needs 53.7 GiB of accelerator memory (weights 15.0 + KV cache 32.0 + headroom 6.7) but degree 2 x 16 GiB "
        "per NeuronCore = 32 GiB; smallest fit: ml.inf2.24xlarge at degree 4"
    ) in message


def test_preflight_refuses_a_start_up_longer_than_sagemaker_allows() -> None:
    message = preflight_error("llama70b", inference={"models": {"chat": {"compiled_artifacts": None}}})
    assert (
        "inference.models.chat: start-up needs about 8849 s (compile 7761 s for 70.6B parameters + download + "
        "load), over SageMaker's 3600 s limit; set inference.models.chat.compiled_artifacts to a pre-compiled "
        "export, or set inference.models.chat.startup.container_startup_health_check_timeout_seconds"
    ) in message
    overridden = load_config(
        "llama70b",
        {
            "inference": {
                "models": {
                    "chat": {
                        "compiled_artifacts": None,
                        "startup": {"container_startup_health_check_timeout_seconds": 3600},
                    }
                }
            }
        },
        environ={},
    )
    assert overridden.inference is not None
    assert plan(overridden.inference)["chat"].container_startup_timeout_seconds == 3600


def test_preflight_checks_component_cores_host_memory_and_peak_copies() -> None:
    message = preflight_error("multimodel", inference={"models": {"llama": {"copies": 5}}})
    assert (
        "inference.models: component copies need 14 NeuronCores (llama: copies 5 x tensor_parallel_degree 2 + "
        "mistral: copies 1 x tensor_parallel_degree 2 + embed: copies 2 x tensor_parallel_degree 1) but "
        "inference.instance_count = 1 x 12 NeuronCores of ml.inf2.24xlarge = 12"
    ) in message
    assert "copies at their maximum" not in message  # 2 instances x 12 cores hold llama 4x2 + mistral 2x2 + embed 4
    message = preflight_error("multimodel", inference={"models": {"embed": {"memory_mib_per_copy": 200_000}}})
    assert (
        "component copies need 425643 MiB of host memory (copies x memory_mib_per_copy) but 1 x ml.inf2.24xlarge "
        "has 393216 MiB" in message
    )
    message = preflight_error(
        "multimodel",
        inference={"instance_scaling": {"max_instances": 1}, "models": {"llama": {"scaling": {"max_capacity": 5}}}},
    )
    assert (
        "inference.models.*.scaling.max_capacity: copies at their maximum need 18 NeuronCores but "
        "inference.instance_scaling.max_instances = 1 x 12 = 12; raise max_instances or lower max_capacity"
    ) in message


def test_plan_derives_start_up_memory_and_replicas_from_the_model() -> None:
    dev = load_config("dev", environ={}).inference
    assert isinstance(dev, InferenceConfig)
    chat_plan = plan(dev)["chat"]
    # TGI loading its export from S3: 60 + 15 GiB at 200 MiB/s before start; 300 s + 15 GiB x 6 s/GiB to load.
    assert (
        chat_plan.model_data_download_timeout_seconds,
        chat_plan.container_startup_timeout_seconds,
        chat_plan.volume_size_gb,
        chat_plan.replicas_per_container,
    ) == (137, 390, 30, 1)
    # LMI compiles a Hub checkpoint at load: nothing to download before the start; Hub download (15 GiB at 50 MiB/s)
    # + compile (8.03B x 110 s) + load inside it, and room for the compiled copy on the volume.
    lmi_plan = plan(hub_dev(server="lmi-neuronx"))["chat"]
    assert (
        lmi_plan.model_data_download_timeout_seconds,
        lmi_plan.container_startup_timeout_seconds,
        lmi_plan.volume_size_gb,
    ) == (None, 1579, 41)
    multi = load_config("multimodel", environ={}).inference
    assert multi is not None
    plans = plan(multi)
    # TGI reads a compiled export layer by layer: embeddings and output head in bf16 + one layer in fp32 + 2 GiB.
    assert plans["llama"].memory_mib_per_copy == 4885
    # vLLM loading its compiled export (compiled/mistral/): the weights once + 2 GiB.
    assert plans["mistral"].memory_mib_per_copy == 15873
    assert plans["llama"].model_data_download_timeout_seconds == 137  # 60 + 15 GiB at 200 MiB/s
    embedding = load_config("embedding", environ={}).inference
    assert embedding is not None and plan(embedding)["embed"].replicas_per_container == 2  # a worker per core


# --- volume limit and start-up overrides -----------------------------------------------------------------------------
_BIG = {
    "name": "big-130b",
    "kind": "decoder",
    "parameters": 130_000_000_000,
    "layers": 96,
    "hidden_size": 12288,
    "attention_heads": 96,
    "kv_heads": 24,
    "head_dim": 128,
    "max_positions": 8192,
    "vocab_size": 128256,
}


def limits(shape: str, member: str) -> tuple[int | None, int | None]:
    """A member's (min, max) in the installed botocore's SageMaker service model (botocore/data/sagemaker/
    2017-07-24/service-2.json): the limits the service enforces, which the planner's must equal."""
    metadata = sagemaker_model().shape_for(shape).members[member].metadata
    return metadata.get("min"), metadata.get("max")


def test_a_model_over_the_volume_limit_is_refused_unless_the_volume_is_set() -> None:
    # SageMaker's 512 GB: ProductionVariant.VolumeSizeInGB (shape ProductionVariantVolumeSizeInGB, 1-512).
    assert limits("ProductionVariant", "VolumeSizeInGB") == (1, MAX_VOLUME_GB) == (1, 512)
    # 130B bf16 compiled at start-up: 2 x 242.1 GiB (checkpoint + compiled copy) + 8 GiB scratch = 529 GB > 512 GB
    big: dict[str, Any] = {
        "inference": {
            "instance_type": "ml.inf2.48xlarge",
            "models": {
                "chat": {
                    "preset": None,
                    "architecture": _BIG,
                    "server": "lmi-neuronx",  # compiles at load: a second, compiled copy on the volume
                    "compiled_artifacts": None,
                    "tensor_parallel_degree": 24,
                    "batch_size": 1,
                    "startup": {"container_startup_health_check_timeout_seconds": 3600},
                }
            },
        }
    }
    assert preflight_error(**big) == (
        "inference pre-flight failed:\n  - inference.models.chat: needs a 529 GB volume, over SageMaker's 512 GB "
        "limit; set inference.models.chat.compiled_artifacts (no second, compiled copy on the volume)"
    )
    big["inference"]["models"]["chat"]["startup"]["volume_size_gb"] = 512
    config = load_config("dev", big, environ={})
    assert config.inference is not None and plan(config.inference)["chat"].volume_size_gb == 512
    assert "inference.models.chat.startup.volume_size_gb = 513: Input should be less than or equal to 512" in error_of(
        **chat(startup={"volume_size_gb": 513})
    )


def test_components_over_the_volume_limit_together_are_refused() -> None:
    models = {k: {"startup": {"volume_size_gb": 300}} for k in ("llama", "mistral")}
    assert preflight_error("multimodel", inference={"models": models}) == (
        "inference pre-flight failed:\n  - inference.models: the components need a 630 GB volume together, over "
        "SageMaker's 512 GB limit"
    )


def test_start_up_overrides_replace_the_derived_values() -> None:
    startup = {
        "volume_size_gb": 100,
        "model_data_download_timeout_seconds": 900,
        "container_startup_health_check_timeout_seconds": 1200,
    }
    config = load_config("embedding", {"inference": {"models": {"embed": {"startup": startup}}}}, environ={})
    assert config.inference is not None
    p = plan(config.inference)["embed"]
    assert (p.volume_size_gb, p.model_data_download_timeout_seconds, p.container_startup_timeout_seconds) == (
        100,
        900,
        1200,
    )
    # Both timeouts are 60-3600 s in the service model (ProductionVariantModelDataDownloadTimeoutInSeconds,
    # ProductionVariantContainerStartupHealthCheckTimeoutInSeconds).
    for member in ("ModelDataDownloadTimeoutInSeconds", "ContainerStartupHealthCheckTimeoutInSeconds"):
        assert limits("ProductionVariant", member) == (MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS) == (60, 3600)
    for name, bad, message in (
        ("model_data_download_timeout_seconds", 59, "greater than or equal to 60"),
        ("container_startup_health_check_timeout_seconds", 3601, "less than or equal to 3600"),
    ):
        assert f"inference.models.chat.startup.{name} = {bad}: Input should be {message}" in error_of(
            **chat(startup={name: bad})
        )


# --- start paths: TGI and vLLM never compile; the HF toolkit runs degree 1 in fp32; no server serves seq2seq --------
TGI_NEVER_COMPILES = (
    "inference.models.chat.server = tgi-neuronx never compiles: it starts only from a Neuron export or an exact "
    "public-cache shape and otherwise fails with 'No cached version found'; "
)
FIX = (
    "Fix: run the compile workflow (`neuronctl run start compile`) and set inference.models.chat.compiled_artifacts "
    "to the prefix it writes (compiled/chat/), or choose a cached shape, or serve the model with lmi-neuronx, which "
    "compiles at load"
)


def test_tgi_without_compiled_artifacts_is_refused_naming_the_fix() -> None:
    message = preflight_error(**chat(compiled_artifacts=None))
    assert message == (
        "inference pre-flight failed:\n  - "
        + TGI_NEVER_COMPILES
        + "a checkpoint from S3 has neither, and the public cache is on the Hugging Face Hub, which an isolated model "
        "cannot reach. " + FIX
    )
    with pytest.raises(PreflightError) as err:
        plan(hub_dev())
    assert (
        TGI_NEVER_COMPILES + "the Hub model meta-llama/Llama-3.1-8B-Instruct at degree 2, batch 4, sequence 4096, bf16 "
        "is not a public Neuron cache shape the catalog records (0 recorded, neuron.catalog.PUBLIC_CACHE_ENTRIES). "
        + FIX
    ) in str(err.value)


def test_a_hub_model_at_a_recorded_public_cache_shape_starts_without_an_export(monkeypatch: pytest.MonkeyPatch) -> None:
    from neuron import catalog, planning

    entry = catalog.PublicCacheEntry(
        ContainerKind.TGI_NEURONX, "meta-llama/Llama-3.1-8B-Instruct", 4, 4096, 2, "bf16", "test entry"
    )
    monkeypatch.setattr(catalog, "PUBLIC_CACHE_ENTRIES", (entry,))
    monkeypatch.setattr(planning, "PUBLIC_CACHE_ENTRIES", (entry,))
    cached = plan(hub_dev())["chat"]
    # Fetched from the cache, not compiled: Hub download (15 GiB at 50 MiB/s) + load, no compile, one copy on disk.
    assert (cached.container_startup_timeout_seconds, cached.volume_size_gb) == (696, 30)
    # Any other shape is not the cached one.
    with pytest.raises(PreflightError, match="at degree 2, batch 8, sequence 4096, bf16 is not a public Neuron cache"):
        plan(hub_dev(batch_size=8))


def test_vllm_without_compiled_artifacts_is_refused_and_its_start_up_has_no_compile() -> None:
    message = preflight_error("multimodel", inference={"models": {"mistral": {"compiled_artifacts": None}}})
    assert "inference.models.mistral.server = vllm-neuronx never compiles" in message
    assert "set inference.models.mistral.compiled_artifacts to the prefix it writes (compiled/mistral/)" in message
    multi = load_config("multimodel", environ={}).inference
    assert multi is not None
    mistral = plan(multi)["mistral"]
    # 13.5 GiB from S3 before start (60 + 69 s); start = 300 s + 13.5 GiB x 6 s/GiB to load, nothing compiled.
    assert (mistral.model_data_download_timeout_seconds, mistral.container_startup_timeout_seconds) == (129, 381)
    assert mistral.volume_size_gb == 30


def test_the_hf_toolkit_runs_degree_1_in_fp32_and_no_server_takes_a_seq2seq_model() -> None:
    message = error_of("embedding", inference={"models": {"embed": {"tensor_parallel_degree": 2}}})
    assert (
        "tensor_parallel_degree = 2 but hf-inference-neuronx runs degree 1 only: the HF inference toolkit sets "
        "NEURON_RT_NUM_CORES=1 before loading the model, whatever the endpoint sets (sagemaker-huggingface-inference-"
        "toolkit 2.6.0 optimum_utils.py L105-106), and runs one model copy per worker; set tensor_parallel_degree: 1"
    ) in message
    message = error_of("embedding", inference={"models": {"embed": {"dtype": "bf16"}}})
    assert (
        "dtype = bf16 is not one hf-inference-neuronx runs (fp32): the toolkit exports with optimum-neuron " in message
    )
    seq2seq = {"preset": "flan-t5-large", "source": {"type": "s3-prefix", "prefix": "flan-t5-large/"}}
    message = error_of("embedding", inference={"models": {"embed": seq2seq}})
    assert (
        "flan-t5-large is an encoder-decoder model: no catalog server serves encoder-decoder (seq2seq) models: the HF "
        "inference toolkit's Neuron pipeline (optimum-neuron 0.4.1) has no text2text-generation task"
    ) in message
    for server in ("tgi-neuronx", "neuron-v1-inference"):
        assert "is an encoder-decoder model" in error_of(
            "embedding", inference={"models": {"embed": {**seq2seq, "server": server}}}
        )
