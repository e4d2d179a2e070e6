"""Model architecture presets: the published facts sizing depends on, and the errors for unknown or impossible ones."""

import pytest

from neuron.models import PRESETS, ModelArchitecture, UnknownModelError, preset


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
def test_presets_carry_the_published_config_facts(name: str, facts: tuple) -> None:
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
