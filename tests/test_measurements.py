"""Published Neuron measurements (neuron/benchmarks.csv): no configuration that ran is refused by the planner or the
pre-flight, and the throughput estimate fitted to them holds on the rows it was not fitted to."""

from __future__ import annotations

from typing import Any

import pytest

from config import load_config
from config.loader import ConfigError
from neuron import benchmarks
from neuron.benchmarks import Measurement
from neuron.catalog import ContainerKind, instance
from neuron.models import MODEL_CONFIGS
from neuron.planning import plan as preflight
from neuron.sizing import check_fit, feasible_configurations
from neuronctl import throughput

ROWS = benchmarks.load()
IN_CATALOG = [r for r in ROWS if r.in_catalog]


def _id(row: Measurement) -> str:
    return f"{row.config}-{row.instance_type}-tp{row.degree}-bs{row.batch_size}-{ROWS.index(row)}"


def test_the_file_holds_every_collected_row_with_its_source_and_date() -> None:
    assert len(ROWS) == 120
    for row in ROWS:
        assert row.source.startswith("github ") and row.date, row.model
        assert (MODEL_CONFIGS / f"{row.config}.json").is_file(), row.config
    # The only rows outside the catalog: Trainium2's one-chip instance, which the Neuron docs' trn2 page does not list
    # (aws-neuron-sdk trn2-arch.rst describes trn2.48xlarge only) and SageMaker does not offer in the catalog.
    assert {r.instance_type for r in ROWS if not r.in_catalog} == {"trn2.3xlarge"}
    assert len(IN_CATALOG) == 117


@pytest.mark.parametrize("row", IN_CATALOG, ids=_id)
def test_the_planner_accepts_every_published_configuration(row: Measurement) -> None:
    arch = row.architecture()
    shape: dict[str, Any] = {
        "batch_size": row.batch_size,
        "sequence_length": row.sequence_length,
        "dtype": row.dtype,
        "quantization": row.quantization,
        "server": row.server,
        "compiled": row.compiled,
    }
    fit = check_fit(arch, row.sagemaker_instance, row.degree, **shape)
    assert fit.fits
    shown = feasible_configurations(arch, families=(instance(row.sagemaker_instance).family,), **shape)
    assert (row.sagemaker_instance, row.degree) in [(f.instance_type, f.degree) for f in shown]


def _profile(row: Measurement) -> dict[str, Any]:
    """The published configuration as a profile's model, from a compiled export (a deployment of a measured
    configuration loads the export; compiling at start-up is a SageMaker time limit, not a fit)."""
    model: dict[str, Any] = {
        "preset": None,
        "architecture": str(MODEL_CONFIGS / f"{row.config}.json"),
        "source": {"prefix": "measured/"},  # the llama70b profile's s3-prefix source
        "continuous_batching": None,
        "compiled_artifacts": "compiled/measured/",
        "server": row.server.value,
        "tensor_parallel_degree": row.degree,
        "batch_size": row.batch_size,
        "quantization": row.quantization,
        "generation": None,
    }
    if row.server is ContainerKind.HF_INFERENCE_NEURONX:
        # The toolkit exports in fp32 with `--auto-cast none`, its one dtype (neuron.serving, HF_INFERENCE_NEURONX).
        model.update(
            dtype="fp32",
            sequence_length=row.sequence_length,
            task="feature-extraction",
            max_input_tokens=None,
            max_total_tokens=None,
        )
    else:
        prompt = min(row.input_tokens or row.sequence_length // 2, row.sequence_length - 1)
        model.update(
            dtype=row.dtype,
            max_input_tokens=prompt,
            max_total_tokens=row.sequence_length,
            generation={"max_new_tokens": row.sequence_length - prompt},
        )
    return {"inference": {"instance_type": row.sagemaker_instance, "models": {"chat": model}}}


# The endpoint serves on inf1 and inf2 (config.inference.SERVING_FAMILIES): the trn1 rows are checked by the planner
# test above, which is the same arithmetic.
ENDPOINT_ROWS = [r for r in IN_CATALOG if r.instance_type.startswith("inf2.")]


# AWS benchmarked Llama-2-7b/13b with transformers-neuronx at 8192 and 16384 tokens, past the 4096 positions the
# models were trained on; the profile refuses a sequence past max_position_embeddings (config.inference), a quality
# rule, not a memory one. Those rows stay refused, for that reason alone (the test below checks the reason).
PAST_POSITIONS = [r for r in ENDPOINT_ROWS if r.sequence_length > r.architecture().max_positions]


# T5 was measured with NeuronX Distributed (its tutorial), which no catalog image serves: the HF toolkit's Neuron
# pipeline has no seq2seq task and the other servers are decoder-only (neuron.serving.NO_SEQ2SEQ_SERVER). Those rows
# stay refused, for that reason alone (the test below checks the reason).
NO_SEQ2SEQ = [r for r in ENDPOINT_ROWS if r.architecture().kind == "encoder-decoder"]


@pytest.mark.parametrize("row", NO_SEQ2SEQ, ids=_id)
def test_a_published_seq2seq_configuration_is_refused_because_no_server_serves_it(row: Measurement) -> None:
    with pytest.raises(ConfigError, match="is an encoder-decoder model: no catalog server serves encoder-decoder"):
        load_config("llama70b", _profile(row), environ={})


@pytest.mark.parametrize("row", [r for r in ENDPOINT_ROWS if r not in PAST_POSITIONS + NO_SEQ2SEQ], ids=_id)
def test_the_preflight_accepts_every_published_configuration_on_an_endpoint_instance(row: Measurement) -> None:
    config = load_config("llama70b", _profile(row), environ={})
    assert config.inference is not None
    planned = preflight(config.inference)["chat"]
    assert (planned.fit.instance_type, planned.fit.degree) == (row.sagemaker_instance, row.degree)
    assert planned.arch.parameters == row.architecture().parameters


def test_published_head_counts_the_old_rule_refused_are_padded_not_refused() -> None:
    """Degree 24 with 32-, 40- and 64-head models, and Qwen2.5-7B's 28 / 4 heads at degree 8, all ran."""
    cases = {
        (r.config, r.degree)
        for r in IN_CATALOG
        if r.architecture().attention_heads % r.degree or r.architecture().kv_heads % r.degree
    }
    assert {
        ("llama-3-8b", 24),
        ("llama-2-7b", 24),
        ("llama-2-13b", 24),
        ("llama-3-70b", 24),
        ("qwen2.5-7b-instruct", 8),
        ("llama-3-8b", 32),
    } <= cases


def test_normalised_throughput_is_active_sequences_over_the_inter_token_latency() -> None:
    sync = next(r for r in ROWS if r.measurement == "guidellm" and r.active_sequences == 1 and r.replicas == 3)
    assert sync.decode_tokens_per_second == pytest.approx(1000 / (sync.itl_ms or 0))
    saturated = next(r for r in ROWS if r.measurement == "guidellm" and r.active_sequences is None)
    assert saturated.decode_tokens_per_second is None  # concurrency not published: kept, not fitted
    sdk = next(r for r in ROWS if r.measurement == "sampling-script" and r.batch_size == 8)
    assert sdk.decode_tokens_per_second == pytest.approx(8000 / (sdk.itl_ms or 0))


def test_the_hold_out_is_deterministic_about_one_row_in_four_and_never_fitted() -> None:
    held = [r for r in ROWS if r.held_out]
    assert held == [r for r in benchmarks.load() if r.held_out]
    assert 0.15 < len(held) / len(ROWS) < 0.35
    for model in throughput.models().values():
        refit = throughput.fit_library(model.library, [r for r in ROWS if not r.held_out])
        assert refit == model
        assert throughput.fit_library(model.library, ROWS) != model  # the held-out rows would change it


# The fitted coefficients (ITL: weights, KV, compute, layers, layers x log2 degree, int8 weights; TTFT: prefill
# compute, weights, layers) over neuron/benchmarks.csv's fitted rows. The fit is deterministic (no seed: the hold-out
# is by CRC-32), so a changed row, feature or solver shows here as a changed number; tolerance is float rounding only.
FITTED = {
    "nxd": (
        (0.820953872466537, 3.656781786226188, 0.0, 0.012038248672639024, 0.050367983296094244, 0.0),
        (12.180522330700635, 0.0, 0.0),
        16,
        12,
    ),
    "transformers-neuronx": (
        (1.2807862206818377, 1.8598694911965898, 14.001417427799687, 0.13777317909556766, 0.0, 0.9055856933913914),
        (6.672969409783679, 0.0, 0.34921428289477197),
        62,
        62,
    ),
}


def test_the_fit_is_pinned_to_its_coefficients() -> None:
    fitted = throughput.models()
    assert set(fitted) == set(FITTED)
    for library, (decode, prefill, decode_rows, prefill_rows) in FITTED.items():
        model = fitted[library]
        assert (model.decode_rows, model.prefill_rows) == (decode_rows, prefill_rows), library
        assert model.decode == pytest.approx(decode, rel=1e-9, abs=1e-12), library
        assert model.prefill == pytest.approx(prefill, rel=1e-9, abs=1e-12), library


def test_the_estimate_holds_on_rows_it_was_not_fitted_to() -> None:
    """The figures docs/measurements.md reports (`python -m neuronctl.throughput` prints them), exactly: rows, median
    and mean relative error, share within 15 %."""
    figures = {
        None: (26, 0.07468574234431957, 0.1003296697578267, 22 / 26),
        "transformers-neuronx": (21, 0.07922480793293268, 0.10715655486571286, 17 / 21),
        "nxd": (5, 0.06809198751688483, 0.07165675230470472, 1.0),
    }
    for library, (rows, median, mean, within_15) in figures.items():
        result = throughput.hold_out_error(library)
        assert len(result.rows) == rows, library
        assert (result.median, result.mean, result.within_15) == pytest.approx((median, mean, within_15), rel=1e-9)
    assert throughput.hold_out_error().median < 0.10  # the target docs/measurements.md states
    ttft = throughput.hold_out_ttft()
    errors = sorted(abs(estimated - measured) / measured for _, measured, estimated in ttft)
    assert len(ttft) == 25 and errors[12] == pytest.approx(0.2879558743211241, rel=1e-9)  # the median: 28.8 %
    assert sum(e <= 0.15 for e in errors) == 9  # 36 %


def test_nonnegative_fit_recovers_known_coefficients_and_drops_a_harmful_feature() -> None:
    features = [(x, y, 1.0) for x in (1.0, 2.0, 5.0, 9.0) for y in (0.5, 3.0)]
    targets = [2.0 * x + 0.5 * y + 1.0 for x, y, _ in features]
    assert throughput.fit_nonnegative(features, targets) == pytest.approx((2.0, 0.5, 1.0))
    anti = [2.0 * x + 1.0 for x, _, _ in features]
    noisy = [(x, y - x, c) for x, y, c in features]  # least squares would give this feature a negative weight
    assert min(throughput.fit_nonnegative(noisy, anti)) >= 0


def test_rows_past_the_trained_positions_are_refused_for_that_reason_only() -> None:
    assert {(r.config, r.sequence_length) for r in PAST_POSITIONS} == {
        ("llama-2-7b", 8192),
        ("llama-2-13b", 8192),
        ("llama-2-13b", 16384),
    }
    for row in PAST_POSITIONS:
        with pytest.raises(ConfigError) as err:
            load_config("llama70b", _profile(row), environ={})
        assert str(err.value).count(" - ") == 1
        assert f"exceeds the 4096 positions of {row.config}" in str(err.value)
        fit = check_fit(row.architecture(), row.sagemaker_instance, row.degree, batch_size=row.batch_size,
                        sequence_length=row.sequence_length, dtype=row.dtype, server=row.server)  # fmt: skip
        assert fit.fits  # the memory holds it
