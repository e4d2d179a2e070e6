"""Memory and parallelism arithmetic: the numbers the pre-flight and the operator CLI show, and the fixes they name."""

import pytest

from neuron import sizing
from neuron.models import preset
from neuron.sizing import GIB, SizingError, check_fit, feasible_configurations, kv_cache_gib, smallest_fit, weights_gib

LLAMA_8B, LLAMA_70B, MISTRAL = preset("llama-3.1-8b"), preset("llama-3.1-70b"), preset("mistral-7b")
SHAPE = {"batch_size": 4, "sequence_length": 4096, "dtype": "bf16"}


def test_weights_are_parameters_times_bytes_and_quantization_keeps_embeddings_in_dtype() -> None:
    assert weights_gib(LLAMA_8B, "bf16") == pytest.approx(8_030_261_248 * 2 / GIB)
    assert weights_gib(LLAMA_8B, "fp32") == pytest.approx(8_030_261_248 * 4 / GIB)
    embedding = 128_256 * 8192
    assert weights_gib(LLAMA_70B, "bf16", "int8") == pytest.approx(
        ((70_553_706_496 - embedding) * 1 + embedding * 2) / GIB
    )
    with pytest.raises(SizingError, match=r"quantization 'fp8' is unknown; known: int8$"):
        weights_gib(LLAMA_8B, "bf16", "fp8")  # no serving container offers fp8 weights
    with pytest.raises(SizingError, match="dtype 'fp64' is unknown; known: bf16, fp16, fp32"):
        weights_gib(LLAMA_8B, "fp64")


def test_kv_cache_is_batch_sequence_two_layers_kv_heads_head_dim_bytes() -> None:
    assert kv_cache_gib(LLAMA_8B, 4, 4096, "bf16") == 4 * 4096 * 2 * 32 * 8 * 128 * 2 / GIB == 2.0
    assert kv_cache_gib(LLAMA_70B, 4, 4096, "bf16") == 5.0
    t5, bge = preset("flan-t5-large"), preset("bge-base-en-v1.5")
    assert kv_cache_gib(t5, 8, 512, "bf16") == 8 * 512 * 2 * 24 * 16 * 64 * 2 * 2 / GIB  # + cross-attention
    assert kv_cache_gib(bge, 8, 512, "bf16") == 8 * 512 * 2 * 1 * 12 * 64 * 2 / GIB  # one layer at a time


def test_fit_of_the_default_model_on_one_inferentia2_chip() -> None:
    fit = check_fit(LLAMA_8B, "ml.inf2.8xlarge", 2, **SHAPE)
    headroom = 0.10 * (fit.weights_gib + 2.0) + 1.0 * 2
    assert (fit.degree, fit.replicas_per_instance, fit.available_gib) == (2, 1, 32.0)
    assert fit.headroom_gib == pytest.approx(headroom)
    assert fit.used_gib == pytest.approx(fit.weights_gib + 2.0 + headroom) == pytest.approx(20.653, abs=1e-3)
    assert check_fit(LLAMA_8B, "ml.inf2.48xlarge", 8, **SHAPE).replicas_per_instance == 3


def test_host_memory_refuses_the_8b_model_on_inf2_xlarge_and_names_the_smallest_fit() -> None:
    with pytest.raises(SizingError) as err:
        check_fit(LLAMA_8B, "ml.inf2.xlarge", 2, **SHAPE)
    assert str(err.value) == (
        "llama-3.1-8b (bf16, batch 4, sequence 4096) does not fit ml.inf2.xlarge at degree 2: loading needs 17.0 GiB "
        "of host memory (weights 15.0 + 2 reserved) but ml.inf2.xlarge has 16 GiB; smallest fit: ml.inf2.8xlarge at "
        "degree 2 (1 replica(s) per instance): 20.7 of 32 GiB"
    )


def test_degree_must_be_supported_within_the_cores_and_divide_the_heads() -> None:
    with pytest.raises(SizingError) as err:
        check_fit(LLAMA_8B, "ml.inf2.xlarge", 3, **SHAPE)
    message = str(err.value)
    assert "degree 3 is not a tensor-parallel degree inf2 supports (1, 2, 4, 8, 12, 24)" in message
    assert "degree 3 exceeds the 2 NeuronCores of ml.inf2.xlarge" in message
    assert "degree 3 does not divide the 32 attention heads and 8 KV heads of llama-3.1-8b" in message
    with pytest.raises(
        SizingError,
        match="degree 12 does not divide the 32 attention heads and 8 KV heads of "
        r"mistral-7b; smallest fit: ml.inf2.xlarge at degree 2",
    ):
        check_fit(MISTRAL, "ml.inf2.24xlarge", 12, **SHAPE)
    with pytest.raises(SizingError, match="degree must be at least 1, got 0"):
        check_fit(MISTRAL, "ml.inf2.24xlarge", 0, **SHAPE)


def test_70b_in_bf16_overflows_hbm_and_the_fix_is_int8() -> None:
    with pytest.raises(SizingError) as err:
        check_fit(LLAMA_70B, "ml.inf2.24xlarge", 8, **SHAPE)
    assert (
        "needs 158.1 GiB of accelerator memory (weights 131.4 + KV cache 5.0 + headroom 21.6) but degree 8 x "
        "16 GiB per NeuronCore = 128 GiB; nothing in inf2 fits this shape; with int8 weights the smallest fit is "
        "ml.inf2.24xlarge at degree 8 (1 replica(s) per instance): 86.9 of 128 GiB"
    ) in str(err.value)
    assert smallest_fit(LLAMA_70B, **SHAPE) is None


def test_feasible_configurations_list_every_instance_and_degree_smallest_first() -> None:
    found = [(f.instance_type, f.degree) for f in feasible_configurations(LLAMA_8B, **SHAPE)]
    assert found == [
        ("ml.inf2.8xlarge", 2),
        ("ml.inf2.24xlarge", 2),
        ("ml.inf2.24xlarge", 4),
        ("ml.inf2.24xlarge", 8),
        ("ml.inf2.48xlarge", 2),
        ("ml.inf2.48xlarge", 4),
        ("ml.inf2.48xlarge", 8),
    ]
    int8 = feasible_configurations(LLAMA_70B, quantization="int8", **SHAPE)
    assert [(f.instance_type, f.degree, f.replicas_per_instance) for f in int8] == [
        ("ml.inf2.24xlarge", 8, 1),
        ("ml.inf2.48xlarge", 8, 3),
    ]
    inf1 = smallest_fit(preset("distilbert-sst2"), batch_size=1, sequence_length=128, dtype="fp32", families=("inf1",))
    assert inf1 is not None and (inf1.instance_type, inf1.degree, inf1.available_gib) == ("ml.inf1.xlarge", 1, 2.0)


def test_startup_budget_grows_with_model_size_download_and_compile() -> None:
    hub = sizing.startup_budget(LLAMA_8B, dtype="bf16", base_seconds=300, from_hub=True, compiled=False)
    stored = 8_030_261_248 * 2 / GIB
    assert hub.compile_seconds == round(8.030261248 * 110) == 883
    assert hub.container_startup_seconds == round(300 + stored * 1024 / 50 + 883 + stored * 6) == 1579
    assert hub.model_data_download_seconds == 0  # the Hub download happens inside the container's start-up
    assert hub.volume_size_gb == 41  # checkpoint + compiled copy + scratch, in GB
    s3 = sizing.startup_budget(LLAMA_70B, dtype="bf16", base_seconds=300, from_hub=False, compiled=True)
    assert (s3.model_data_download_seconds, s3.container_startup_seconds, s3.volume_size_gb) == (733, 1088, 150)
    assert s3.clamped(5) == 60 and s3.clamped(9000) == 3600
