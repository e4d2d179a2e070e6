"""Memory and parallelism arithmetic: the numbers the pre-flight and the operator CLI show, and the fixes they name."""

from typing import TypedDict

import pytest

from neuron import sizing
from neuron.benchmarks import model_config
from neuron.catalog import ContainerKind
from neuron.models import preset
from neuron.sizing import (
    GIB,
    HeadRule,
    SizingError,
    check_fit,
    feasible_configurations,
    kv_cache_gib,
    smallest_fit,
    split_heads,
    weights_gib,
)

LLAMA_8B, LLAMA_70B, MISTRAL = preset("llama-3.1-8b"), preset("llama-3.1-70b"), preset("mistral-7b")


class Shape(TypedDict):
    """The serving shape `check_fit` and `feasible_configurations` take as keywords."""

    batch_size: int
    sequence_length: int
    dtype: str


SHAPE: Shape = {"batch_size": 4, "sequence_length": 4096, "dtype": "bf16"}
TGI, LMI, VLLM = ContainerKind.TGI_NEURONX, ContainerKind.LMI_NEURONX, ContainerKind.VLLM_NEURONX


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
        "of host memory (whole-checkpoint loading: 15.0 + 2 reserved) but ml.inf2.xlarge has 16 GiB; smallest fit: "
        "ml.inf2.8xlarge at degree 2 (1 replica(s) per instance): 20.7 of 32 GiB"
    )


def test_host_memory_follows_how_each_server_loads() -> None:
    """TGI (optimum-neuron 0.0.28) instantiates the whole checkpoint to export it, but reads a compiled export layer by
    layer; vLLM (optimum-neuron 0.4.5) holds the checkpoint and its shards unless the export carries them sharded."""
    checkpoint = 8_030_261_248 * 2 / GIB
    embeddings = 2 * 128_256 * 4096
    layer = (8_030_261_248 - embeddings) / 32
    tgi = check_fit(LLAMA_8B, "ml.inf2.8xlarge", 2, server=TGI, **SHAPE)
    assert tgi.host_required_gib == pytest.approx(checkpoint + 2)
    compiled = check_fit(LLAMA_8B, "ml.inf2.xlarge", 2, server=TGI, compiled=True, **SHAPE)
    assert (
        compiled.host_required_gib == pytest.approx((embeddings * 2 + layer * 4) / GIB + 2) == pytest.approx(4.77, 0.01)
    )
    assert compiled.fits  # on the 16 GiB of inf2.xlarge
    lmi = check_fit(LLAMA_8B, "ml.inf2.xlarge", 2, server=LMI, **SHAPE)  # layer by layer with or without an export
    assert lmi.host_required_gib == compiled.host_required_gib
    vllm = check_fit(LLAMA_8B, "ml.inf2.8xlarge", 2, server=VLLM, **SHAPE)
    assert vllm.host_required_gib == pytest.approx(2 * checkpoint + 2)
    with pytest.raises(SizingError, match=r"loading needs 17\.0 GiB of host memory \(presharded loading: 15\.0 \+ 2"):
        check_fit(LLAMA_8B, "ml.inf2.xlarge", 2, server=VLLM, compiled=True, **SHAPE)


def test_published_oom_and_presharded_load_of_trinity_nano_on_inf2_xlarge() -> None:
    """NxD Inference loading a ~12 GB bf16 checkpoint was OOM-killed on inf2.xlarge (16 GiB) and loaded from pre-sharded
    weights (neuronx-distributed-inference contrib/models/Trinity/README.md L136, L458-462): both verdicts hold."""
    trinity = model_config("trinity-nano-preview")
    shape: Shape = {"batch_size": 1, "sequence_length": 2048, "dtype": "bf16"}
    with pytest.raises(SizingError, match="shard-on-load loading"):
        check_fit(trinity, "ml.inf2.xlarge", 1, server=VLLM, **shape)
    assert check_fit(trinity, "ml.inf2.xlarge", 1, server=VLLM, compiled=True, **shape).fits


@pytest.mark.parametrize(
    ("rule", "heads", "kv", "degree", "expected"),
    [
        # transformers-neuronx (optimum-neuron 0.0.28 backends/hlo/utils.py get_qkv_padding)
        (HeadRule.TNX_PAD_REPLICATE, 64, 8, 24, (72, 24)),  # Llama-3-70B on inf2.48xlarge: partial replication
        (HeadRule.TNX_PAD_REPLICATE, 32, 8, 32, (32, 32)),  # Llama-3-8B on trn1.32xlarge
        (HeadRule.TNX_PAD_REPLICATE, 28, 4, 8, (32, 8)),  # Qwen2.5-7B, TGI at degree 8
        (HeadRule.TNX_PAD_REPLICATE, 32, 32, 24, (48, 48)),  # Llama-2-7b (MHA): K/V padded like Q
        (HeadRule.TNX_PAD_REPLICATE, 40, 40, 24, (48, 48)),  # Llama-2-13b
        (HeadRule.TNX_PAD_REPLICATE, 64, 8, 12, (72, 72)),  # 12 % 8 != 0: full replication, then padded
        (HeadRule.TNX_PAD_REPLICATE, 72, 24, 32, (96, 32)),  # the "ratio = 1" case of the source's comment
        (HeadRule.TNX_PAD_REPLICATE, 32, 8, 8, (32, 8)),  # divides: nothing changes
        # NxD (optimum-neuron 0.4.5 gqa.py get_shardable_head_counts and its docstring examples)
        (HeadRule.NXD_PAD_REPLICATE, 56, 8, 32, (64, 32)),  # REPLICATE_TO_TP_DEGREE
        (HeadRule.NXD_PAD_REPLICATE, 64, 8, 12, (72, 72)),  # CONVERT_TO_MHA
        (HeadRule.NXD_PAD_REPLICATE, 64, 8, 24, (72, 24)),
        (HeadRule.NXD_PAD_REPLICATE, 32, 8, 2, (32, 8)),
        (HeadRule.NXD_PAD_REPLICATE, 8, 2, 1, (8, 2)),
        (HeadRule.NXD_PAD_REPLICATE, 12, 12, 8, (16, 16)),
        (HeadRule.DIVIDE, 32, 8, 8, (32, 8)),
    ],
)
def test_heads_are_split_as_each_library_splits_them(
    rule: HeadRule, heads: int, kv: int, degree: int, expected: tuple[int, int]
) -> None:
    split = split_heads(rule, heads, kv, degree)
    assert split is not None and (split.padded_heads, split.padded_kv_heads) == expected
    assert split.padded_heads % degree == 0 and split.padded_kv_heads % degree == 0


def test_only_the_strict_rule_refuses_a_degree_for_its_heads() -> None:
    assert split_heads(HeadRule.DIVIDE, 32, 8, 24) is None
    assert split_heads(HeadRule.DIVIDE, 12, 12, 8) is None
    with pytest.raises(SizingError) as err:
        check_fit(preset("bge-base-en-v1.5"), "ml.inf2.24xlarge", 8, batch_size=8, sequence_length=512, dtype="bf16",
                  server=ContainerKind.HF_INFERENCE_NEURONX)  # fmt: skip
    assert "degree 8 does not divide the 12 attention heads and 12 KV heads of bge-base-en-v1.5 (" in str(err.value)
    assert "keeps whole heads per core)" in str(err.value)


def test_padding_costs_attention_weights_and_a_kv_cache_multiple() -> None:
    """Llama-3.1-70B at degree 24: Q 64 -> 72 heads, KV 8 -> 24: 2 x 8 + 2 x 16 extra heads of 8192 x 128 per layer."""
    fit = check_fit(LLAMA_70B, "ml.inf2.48xlarge", 24, server=TGI, compiled=True, **SHAPE)
    assert fit.heads is not None and (fit.heads.padded_heads, fit.heads.padded_kv_heads) == (72, 24)
    assert fit.padding_gib == pytest.approx(80 * 8192 * 128 * 48 * 2 / GIB) == pytest.approx(7.5)
    assert fit.weights_gib == pytest.approx(weights_gib(LLAMA_70B, "bf16") + 7.5)
    assert fit.kv_cache_gib == pytest.approx(3 * kv_cache_gib(LLAMA_70B, 4, 4096, "bf16")) == 15.0
    assert fit.used_gib == pytest.approx(193.3, abs=0.05) and fit.available_gib == 384
    int8 = check_fit(LLAMA_70B, "ml.inf2.48xlarge", 24, server=LMI, quantization="int8", **SHAPE)
    assert int8.padding_gib == pytest.approx(7.5 / 2)  # padded weights are quantized too


def test_degree_must_be_supported_within_the_cores_and_the_strict_rule_divides_the_heads() -> None:
    with pytest.raises(SizingError) as err:
        check_fit(LLAMA_8B, "ml.inf2.xlarge", 3, **SHAPE)
    message = str(err.value)
    assert "degree 3 is not a tensor-parallel degree inf2 supports (1, 2, 4, 8, 12, 24)" in message
    assert "degree 3 exceeds the 2 NeuronCores of ml.inf2.xlarge" in message
    assert "degree 3 does not divide the 32 attention heads and 8 KV heads of llama-3.1-8b" in message
    with pytest.raises(
        SizingError,
        match="degree 12 does not divide the 32 attention heads and 8 KV heads of "
        r"mistral-7b \(no server named keeps whole heads per core\); smallest fit: ml.inf2.xlarge at degree 2",
    ):
        check_fit(MISTRAL, "ml.inf2.24xlarge", 12, **SHAPE)
    # The servers pad and replicate instead: degree 12 holds Mistral's 32 / 8 heads as 36 / 36.
    fit = check_fit(MISTRAL, "ml.inf2.24xlarge", 12, server=TGI, **SHAPE)
    assert fit.heads is not None and (fit.heads.padded_heads, fit.heads.padded_kv_heads) == (36, 36)
    with pytest.raises(SizingError, match="degree must be at least 1, got 0"):
        check_fit(MISTRAL, "ml.inf2.24xlarge", 0, **SHAPE)


def test_70b_in_bf16_fits_inf2_48xlarge_at_degree_24_on_every_llm_server() -> None:
    """Published: Llama-3-70B bf16 at degree 24 on inf2.48xlarge (aws-neuron-sdk inf2 benchmark tables; optimum-neuron
    0.3 benchmarks)."""
    for server in (TGI, LMI, VLLM):
        found = [(f.instance_type, f.degree) for f in feasible_configurations(LLAMA_70B, server=server, **SHAPE)]
        assert found == [("ml.inf2.48xlarge", 24)], server
    trn1 = feasible_configurations(LLAMA_70B, server=VLLM, families=("trn1",), **SHAPE)
    assert [(f.instance_type, f.degree) for f in trn1] == [("ml.trn1.32xlarge", 16), ("ml.trn1.32xlarge", 32)]


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
