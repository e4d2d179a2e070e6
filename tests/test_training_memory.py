"""The training-memory pre-flight: its arithmetic, its refusals (with the numbers and the smallest fit), every shipped
profile passing it, and `neuronctl plan --train` showing the same rows."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from config import ConfigError, available_profiles, load_config
from neuron import training_memory as tm
from neuron.models import preset
from neuron.sizing import GIB
from neuronctl import cli

LLAMA_8B = preset("llama-3.1-8b")


def shape(**changes: object) -> tm.TrainingShape:
    base = tm.TrainingShape(
        model=LLAMA_8B,
        method="full",
        instance_type="ml.trn1.32xlarge",
        instance_count=1,
        tensor_parallel=8,
        pipeline_parallel=1,
        micro_batch=1,
        sequence_length=4096,
        gradient_checkpointing=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_state_bytes_per_parameter_follow_optimum_neurons_zero1_defaults() -> None:
    # bf16 weight 2 B + fp32 gradient 4 B on every data-parallel rank + 12 B (fp32 master, Adam m, v) / DP.
    fit = tm.measure(shape())  # TP 8 -> DP 4
    held = tm.stage_parameters(LLAMA_8B, 1) / 8
    assert fit.weights_gib * GIB == pytest.approx(held * 2)
    assert fit.gradients_gib * GIB == pytest.approx(held * 4)
    assert fit.optimizer_gib * GIB == pytest.approx(held * 12 / 4)
    # Without ZeRO-1 optimum-neuron turns master weights and fp32 accumulation off: bf16 grads, Adam on every rank.
    off = tm.measure(shape(zero_1=False))
    assert off.gradients_gib * GIB == pytest.approx(held * 2)
    assert off.optimizer_gib * GIB == pytest.approx(held * 8)


def test_lora_trains_only_the_adapters() -> None:
    assert tm.intermediate_size(LLAMA_8B) in (14336, 14337)  # config.json: 14336
    assert tm.lora_parameters(LLAMA_8B, 16) == 16 * 32 * (2 * 8192 + 2 * 5120 + 2 * (4096 + 14337) + 18433)
    lora = tm.measure(shape(method="lora"))
    full = tm.measure(shape())
    assert lora.trainable_parameters < LLAMA_8B.parameters / 100
    assert lora.gradients_gib < full.gradients_gib / 100 and lora.optimizer_gib < full.optimizer_gib / 100
    assert lora.activations_gib == full.activations_gib  # backpropagation still runs through every layer


def test_activations_follow_the_neuron_formulas_with_and_without_checkpointing() -> None:
    s, b, h, a, t, layers = 4096, 1, 4096, 32, 8, 32
    logits = b * s * LLAMA_8B.vocab_size / t * 4
    full_layer = s * b * h * (34 + 5 * a * s / h) / t
    assert tm.activation_bytes(shape(gradient_checkpointing=False)) == pytest.approx(layers * full_layer + logits)
    assert tm.activation_bytes(shape()) == pytest.approx(layers * 2 * s * b * h / t + full_layer + logits)
    # A teacher triples the logits (its own and the two softmaxes); PP keeps PP micro-batches in flight.
    teacher = tm.activation_bytes(shape(teacher=preset("llama-3.1-70b")))
    assert teacher == pytest.approx(tm.activation_bytes(shape()) + 2 * logits)
    piped = tm.activation_bytes(shape(pipeline_parallel=2, gradient_checkpointing=False))
    assert piped == pytest.approx(2 * 16 * full_layer + logits)


def test_published_configurations_fit() -> None:
    # optimum-neuron v0.4.1 examples: Llama-3.1-8B / Qwen3-8B LoRA on trn1.32xlarge, TP 8 (finetune_llama.sh L10-16).
    assert tm.measure(shape(method="lora", sequence_length=2048)).fits
    # NxD Training hf_llama3_8B_config.yaml: 4 x trn1.32xlarge, TP 32, seq 8192, ZeRO-1.
    assert tm.measure(shape(instance_count=4, tensor_parallel=32, sequence_length=8192)).fits
    # hf_llama3_70B_config.yaml: 16 x trn1.32xlarge, TP 32 x PP 8 fits in memory (its stages span nodes, which the
    # topology rule refuses for this job's final-model export, not for memory).
    seventy = shape(model=preset("llama-3.1-70b"), instance_count=16, tensor_parallel=32, pipeline_parallel=8)
    assert tm.measure(seventy).fits
    assert tm.topology_problems(seventy) == [
        "pipeline parallelism across nodes (the final model's stages would stay on different nodes)"
    ]


def test_the_old_default_full_fine_tune_on_one_trn1_2xlarge_is_refused_with_the_smallest_fit() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(
            "dev", {"lifecycle": {"fine_tune": {"method": "full", "gradient_checkpointing": False}}}, environ={}
        )
    assert str(err.value) == (
        "invalid configuration in dev.yaml (profile 'dev'):\n"
        "  - lifecycle.fine_tune.teacher_model = None: memory pre-flight: llama-3.1-8b full on 1 x ml.trn1.2xlarge, "
        "TP 2 x PP 1 x DP 1, micro-batch 1 x 2048 tokens, gradient checkpointing off does not fit: 91.3 of 16 GiB "
        "per NeuronCore (weights 7.5, gradients 15.0, optimizer state 44.9, activations 14.7, headroom 9.2). "
        "Smallest fit: method: full, instance_type ml.trn1.32xlarge, instance_count 1, tensor_parallel_degree 8, "
        "pipeline_parallel_degree 1, gradient_checkpointing false (14.3 of 16 GiB per NeuronCore); or LoRA (method: "
        "lora), instance_type ml.trn1.2xlarge, instance_count 1, tensor_parallel_degree 2, pipeline_parallel_degree "
        "1, gradient_checkpointing true (10.9 of 16 GiB per NeuronCore)"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(
            {"gradient_checkpointing": False},
            "llama-3.1-8b LoRA r=16 on 1 x ml.trn1.2xlarge, TP 2 x PP 1 x DP 1, micro-batch 1 x 2048 tokens, "
            "gradient checkpointing off does not fit: 25.8 of 16 GiB per NeuronCore",
            id="activations-without-checkpointing",
        ),
        pytest.param(
            {"micro_batch_size": 8, "sequence_length": 8192},
            "micro-batch 8 x 8192 tokens, gradient checkpointing on does not fit",
            id="batch-and-sequence",
        ),
        pytest.param(
            {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 1, "method": "full"},
            "llama-3.1-8b full on 1 x ml.trn1.32xlarge, TP 1 x PP 1 x DP 32, micro-batch 1 x 2048 tokens, gradient "
            "checkpointing on does not fit",
            id="tensor-degree-too-low",
        ),
        pytest.param(
            {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 8, "method": "full", "zero_1": False},
            None,
            id="zero1-off-still-fits-at-tp8",
        ),
        pytest.param(
            {"instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 2, "method": "full", "zero_1": False},
            "ZeRO-1 off does not fit",
            id="zero1-off",
        ),
        pytest.param(
            {"model": "llama-3.2-3b", "instance_type": "ml.trn1.32xlarge", "tensor_parallel_degree": 16},
            "memory pre-flight: llama-3.2-3b LoRA r=16 on 1 x ml.trn1.32xlarge, TP 16 x PP 1 x DP 2, micro-batch 1 x "
            "2048 tokens, gradient checkpointing on: tensor-parallel degree 16 does not divide the 24 attention heads",
            id="tp-divides-heads",
        ),
        pytest.param(
            {
                "instance_type": "ml.trn1.32xlarge",
                "instance_count": 2,
                "tensor_parallel_degree": 8,
                "pipeline_parallel_degree": 2,
            },
            "pipeline parallelism across nodes (the final model's stages would stay on different nodes)",
            id="no-pipeline-across-nodes",
        ),
        pytest.param(
            {
                "model": "llama-3.1-70b",
                "method": "full",
                "instance_type": "ml.trn1.32xlarge",
                "tensor_parallel_degree": 32,
            },
            "No full split of up to 16 nodes fits (pipeline stages stay within one node). Smallest fit: LoRA (method: "
            "lora), instance_type ml.trn1.32xlarge",
            id="no-full-split-for-70b",
        ),
    ],
)
def test_memory_rule(settings: dict[str, object], message: str | None) -> None:
    overrides = {"lifecycle": {"fine_tune": settings}}
    if message is None:
        assert load_config("dev", overrides, environ={}).lifecycle.fine_tune.memory_shape
        return
    with pytest.raises(ConfigError) as err:
        load_config("dev", overrides, environ={})
    assert message in str(err.value)


def test_distillation_sizes_the_teacher_and_refuses_it_with_a_pipeline() -> None:
    teacher = {"teacher_model": "llama-3.1-70b", "method": "full", "instance_type": "ml.trn1.32xlarge"}
    prefix = {"distillation_teacher_prefix": "base-models/llama-3.1-70b/"}
    with pytest.raises(ConfigError) as err:  # TP 8: 70B / 8 x 2 B = 16.4 GiB of teacher per core
        load_config("dev", {"lifecycle": {"fine_tune": {**teacher, "tensor_parallel_degree": 8}, **prefix}}, environ={})
    assert "teacher weights 16.4" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(
            "dev",
            {
                "lifecycle": {
                    "fine_tune": {**teacher, "tensor_parallel_degree": 8, "pipeline_parallel_degree": 4},
                    **prefix,
                }
            },
            environ={},
        )
    assert "distillation with pipeline parallelism (the teacher runs unpipelined)" in str(err.value)


def test_host_memory_for_the_final_export_is_checked() -> None:
    with pytest.raises(tm.TrainingMemoryError) as err:
        tm.check(
            shape(model=preset("llama-3.1-70b"), method="lora", instance_type="ml.trn1.2xlarge", tensor_parallel=2)
        )
    assert "the first node's host needs 133.4 GiB to consolidate the final model and has 32" in str(err.value)


@pytest.mark.parametrize("profile", available_profiles())
def test_every_shipped_profile_passes_the_preflight(profile: str) -> None:
    lifecycle = load_config(profile, environ={}).lifecycle
    for job in (lifecycle.pretrain, lifecycle.fine_tune):
        if job is not None:
            fit = tm.check(job.memory_shape)
            assert fit.used_gib <= fit.available_gib


def test_the_default_profile_fine_tunes_lora_on_the_8b_model_on_one_trn1_2xlarge() -> None:
    job = load_config("dev", environ={}).lifecycle.fine_tune
    assert (job.model, job.method, job.instance_type, job.instance_count, job.tensor_parallel_degree) == (
        "llama-3.1-8b",
        "lora",
        "ml.trn1.2xlarge",
        1,
        2,
    )
    fit = tm.check(job.memory_shape)
    assert round(fit.used_gib, 1) == 10.9  # the figure config/dev.yaml states


def test_plan_train_shows_the_preflight_rows_of_the_profiles_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--train", "-c", "dev", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)["jobs"]["lifecycle.fine_tune"]
    fit = tm.measure(load_config("dev", environ={}).lifecycle.fine_tune.memory_shape)
    assert (job["weights_gib"], job["activations_gib"], job["used_per_NeuronCore_gib"], job["fits"]) == (
        round(fit.weights_gib, 2),
        round(fit.activations_gib, 2),
        round(fit.used_gib, 2),
        True,
    )
    assert job["refusals"] == []
    assert cli.main(["plan", "--train", "-c", "dev"]) == 0
    text = capsys.readouterr().out
    assert "lifecycle.fine_tune: llama-3.1-8b LoRA r=16 on 1 x ml.trn1.2xlarge, TP 2" in text
    assert "used per NeuronCore  10.9" in text and "fits: 10.9 of 16 GiB per NeuronCore" in text


def test_plan_train_for_a_model_lists_the_smallest_split_per_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--train", "llama-3.1-8b", "--method", "full", "--seq", "4096", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["configurations"]
    first = rows[0]
    assert (first["instance_type"], first["instance_count"], first["tensor_parallel_degree"]) == (
        "ml.trn1.32xlarge",
        1,
        8,
    )
    assert all(r["fits"] for r in rows)
    assert {r["instance_type"] for r in rows} == {"ml.trn1.32xlarge", "ml.trn1n.32xlarge"}  # no trn2: image refused
    # The pre-flight accepts exactly such a row.
    load_config(
        "dev",
        {"lifecycle": {"fine_tune": {"method": "full", "instance_type": "ml.trn1.32xlarge", "sequence_length": 4096,
                                      "tensor_parallel_degree": 8}}},
        environ={},
    )  # fmt: skip
    assert cli.main(["plan", "--train", "llama-3.1-70b", "--method", "full"]) == 3
    assert "No full split of up to 16 nodes fits" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["plan"])
    assert usage.value.code == 2
