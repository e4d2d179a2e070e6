"""Model architecture presets: the published facts sizing depends on, and the errors for unknown or impossible ones."""

import json
import re
from pathlib import Path

import pytest

from config import load_config
from config.loader import ConfigError
from neuron.models import (
    MODEL_CONFIGS,
    PRESETS,
    ModelArchitecture,
    ModelConfigError,
    UnknownModelError,
    load_hf_config,
    preset,
    resolve,
)


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        ("llama-3.1-8b", ("decoder", 8_030_261_248, 32, 4096, 32, 8, 128, 131_072, 128_256)),
        ("llama-3.1-70b", ("decoder", 70_553_706_496, 80, 8192, 64, 8, 128, 131_072, 128_256)),
        ("mistral-7b", ("decoder", 7_248_023_552, 32, 4096, 32, 8, 128, 32_768, 32_768)),
        ("bge-base-en-v1.5", ("encoder", 109_482_240, 12, 768, 12, 12, 64, 512, 30_522)),
        ("flan-t5-large", ("encoder-decoder", 783_150_080, 24, 1024, 16, 16, 64, 512, 32_128)),
    ],
)
def test_presets_carry_the_published_config_facts(name: str, facts: tuple[object, ...]) -> None:
    arch = preset(name)
    assert (
        arch.kind,
        arch.parameters,
        arch.layers,
        arch.hidden_size,
        arch.attention_heads,
        arch.kv_heads,
        arch.head_dim,
        arch.max_positions,
        arch.vocab_size,
    ) == facts
    assert arch.source.startswith("https://huggingface.co/")


def test_every_preset_is_consistent_and_sourced() -> None:
    for name, arch in PRESETS.items():
        assert arch.name == name
        assert arch.attention_heads % arch.kv_heads == 0, name
        assert "config.json" in arch.source, name
    # Llama and Mistral: hidden size = heads x head dim; T5 keeps its encoder layers apart from the decoder's.
    for name in ("llama-3.1-8b", "llama-3.1-70b", "mistral-7b"):
        assert PRESETS[name].hidden_size == PRESETS[name].attention_heads * PRESETS[name].head_dim
    assert preset("flan-t5-large").encoder_layers == 24
    assert not preset("bge-base-en-v1.5").generates_text


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModelError) as err:
        preset("llama-4-400b")
    assert str(err.value).startswith("model preset 'llama-4-400b' is unknown; known presets: llama-3.1-8b, ")
    assert "mistral-7b" in str(err.value) and "custom model" in str(err.value)


def test_impossible_architecture_names_every_problem() -> None:
    with pytest.raises(ValueError) as err:
        ModelArchitecture(
            name="bad",
            kind="encoder-decoder",
            parameters=1_000_000_000,
            layers=0,
            hidden_size=1024,
            attention_heads=12,
            kv_heads=8,
            head_dim=64,
            max_positions=512,
            vocab_size=32_000,
        )
    assert str(err.value) == (
        "model architecture 'bad': layers must be at least 1, got 0; attention_heads (12) must be a multiple of "
        "kv_heads (8); an encoder-decoder model needs encoder_layers >= 1"
    )


# Published parameter counts (the safetensors total the Hugging Face Hub shows for each repository) of the presets and
# of more families; the config.json files are the models' published configs (tests/fixtures/configs for families the
# platform does not ship, neuron/model_configs for the presets and every measured model).
FIXTURES = Path(__file__).parent / "fixtures" / "configs"
PUBLISHED = [
    (MODEL_CONFIGS / "llama-3.1-8b.json", "llama-3.1-8b", 8_030_261_248),  # meta-llama/Llama-3.1-8B
    (MODEL_CONFIGS / "llama-3.1-70b.json", "llama-3.1-70b", 70_553_706_496),
    (MODEL_CONFIGS / "llama-3.2-3b.json", "llama-3.2-3b", 3_212_749_824),  # tied embeddings
    (MODEL_CONFIGS / "mistral-7b.json", "mistral-7b", 7_248_023_552),  # mistralai/Mistral-7B-v0.3
    (MODEL_CONFIGS / "bge-base-en-v1.5.json", "bge-base-en-v1.5", 109_482_240),  # BERT with pooler
    (MODEL_CONFIGS / "distilbert-sst2.json", "distilbert-sst2", 66_955_010),  # + pre_classifier and classifier
    (MODEL_CONFIGS / "flan-t5-large.json", "flan-t5-large", 783_150_080),  # gated-GELU, untied head
    (MODEL_CONFIGS / "llama-2-7b.json", None, 6_738_415_616),
    (MODEL_CONFIGS / "llama-2-13b.json", None, 13_015_864_320),
    (MODEL_CONFIGS / "llama-2-70b.json", None, 68_976_648_192),
    (MODEL_CONFIGS / "codellama-13b.json", None, 13_016_028_160),
    (MODEL_CONFIGS / "mistral-7b-v0.2.json", None, 7_241_732_096),
    (MODEL_CONFIGS / "qwen2.5-7b-instruct.json", None, 7_615_616_512),  # q/k/v biases
    (MODEL_CONFIGS / "qwen3-32b.json", None, 32_762_123_264),  # q/k norms
    (MODEL_CONFIGS / "qwen3-30b-a3b.json", None, 30_532_122_624),  # 128 experts, 8 active
    (MODEL_CONFIGS / "t5-3b.json", None, 2_851_598_336),  # ReLU, tied
    (MODEL_CONFIGS / "flan-t5-xl.json", None, 2_849_757_184),
    (MODEL_CONFIGS / "distilbert-base-uncased.json", None, 66_362_880),
    (FIXTURES / "llama-3.2-1b.json", None, 1_235_814_400),  # head_dim 64
    (FIXTURES / "mixtral-8x7b.json", None, 46_702_792_704),  # 8 experts + router
    (FIXTURES / "qwen2.5-72b.json", None, 72_706_203_648),
    (FIXTURES / "gemma-2-9b.json", None, 9_241_705_984),  # 4 norms per layer, tied by the family's default
]


@pytest.mark.parametrize(("path", "preset_name", "published"), PUBLISHED, ids=[p.stem for p, _, _ in PUBLISHED])
def test_parameters_counted_from_config_json_match_the_published_count(
    path: Path, preset_name: str | None, published: int
) -> None:
    arch = load_hf_config(path)
    assert abs(arch.parameters - published) / published < 0.01
    assert arch.parameters == published  # the closed forms are exact for these families
    if preset_name is not None:
        same = preset(preset_name)
        assert arch.parameters == same.parameters
        for fact in ("kind", "layers", "hidden_size", "attention_heads", "kv_heads", "head_dim", "vocab_size"):
            assert getattr(arch, fact) == getattr(same, fact), fact
        assert arch.max_positions == same.max_positions
        assert arch.encoder_layers == same.encoder_layers


def test_mixture_of_experts_counts_the_parameters_a_token_passes_through() -> None:
    mixtral = load_hf_config(FIXTURES / "mixtral-8x7b.json")
    per_layer_expert = 3 * 4096 * 14336
    assert mixtral.active == mixtral.parameters - 32 * 6 * per_layer_expert == 12_879_925_248  # "12.9B active"
    qwen = load_hf_config(MODEL_CONFIGS / "qwen3-30b-a3b.json")
    assert qwen.active == qwen.parameters - 48 * 120 * 3 * 2048 * 768 == 3_353_032_704  # "3.3B activated"
    scout = load_hf_config(MODEL_CONFIGS / "llama-4-scout-17b-16e.json")  # text model of a multimodal config
    assert (scout.layers, scout.attention_heads, scout.kv_heads) == (48, 40, 8)
    assert scout.active == pytest.approx(17e9, rel=0.02)  # "17B active"
    dense = load_hf_config(MODEL_CONFIGS / "llama-3.1-8b.json")
    assert dense.active_parameters is None and dense.active == dense.parameters


def test_a_config_json_the_counter_cannot_read_is_refused_with_the_reason(tmp_path: Path) -> None:
    config = json.loads((MODEL_CONFIGS / "llama-3.1-8b.json").read_text())
    cases = {
        "unknown": ({**config, "model_type": "mamba"}, "model_type 'mamba' is not a family the planner counts"),
        "missing": (
            {k: v for k, v in config.items() if k != "num_hidden_layers"},
            "num_hidden_layers is missing; a llama config needs it",
        ),
        "negative": ({**config, "hidden_size": -1}, "hidden_size must be a non-negative integer, got -1"),
        "inconsistent": (
            {**config, "num_key_value_heads": 5},
            "attention_heads (32) must be a multiple of kv_heads (5)",
        ),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name / "config.json"
        path.parent.mkdir()
        path.write_text(json.dumps(data))
        with pytest.raises(ModelConfigError, match=re.escape(message)):
            load_hf_config(path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelConfigError, match=r"bad\.json is not valid JSON"):
        load_hf_config(bad)
    with pytest.raises(ModelConfigError, match=r"cannot read the model config .*absent\.json"):
        load_hf_config(tmp_path / "absent.json")


def test_resolve_takes_a_preset_name_or_a_config_json_path(tmp_path: Path) -> None:
    assert resolve("llama-3.1-8b") is preset("llama-3.1-8b")
    folder = tmp_path / "My-Model"
    folder.mkdir()
    (folder / "config.json").write_text((FIXTURES / "gemma-2-9b.json").read_text())
    arch = resolve(str(folder / "config.json"))
    assert (arch.name, arch.parameters, arch.head_dim) == ("My-Model", 9_241_705_984, 256)
    assert str(folder / "config.json") in arch.source
    assert resolve(str(folder)) == arch  # a downloaded model folder
    with pytest.raises(UnknownModelError):
        resolve("gemma-2-9b")


def test_a_profile_names_a_config_json_as_its_architecture(tmp_path: Path) -> None:
    path = MODEL_CONFIGS / "qwen2.5-7b-instruct.json"
    config = load_config("dev", {"inference": {"models": {"chat": {"preset": None, "architecture": str(path)}}}})
    assert config.inference is not None
    arch = config.inference.models["chat"].arch
    assert (arch.name, arch.parameters, arch.attention_heads, arch.kv_heads) == (
        "qwen2.5-7b-instruct",
        7_615_616_512,
        28,
        4,
    )
    with pytest.raises(ConfigError) as err:
        load_config(
            "dev", {"inference": {"models": {"chat": {"preset": None, "architecture": str(tmp_path / "x.json")}}}}
        )
    assert "inference.models.chat.architecture" in str(err.value)
    assert "cannot read the model config" in str(err.value)
