"""Architecture facts of the models the platform serves: what sizing needs to know, with the source of each preset.

The numbers come from each model's published `config.json` on the Hugging Face Hub and its model card (parameter
count); a custom model states the same facts in the profile. Sizing (`neuron.sizing`) and the synth pre-flight read
only these facts, so a model is sized the same way in the CDK app and in the operator CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from neuron.errors import UserError

ModelKind = Literal["decoder", "encoder", "encoder-decoder"]
MODEL_KINDS: tuple[ModelKind, ...] = ("decoder", "encoder", "encoder-decoder")
CHECKED = "2026-11"


@dataclass(frozen=True)
class ModelArchitecture:
    """The shape of a transformer, as far as memory and tensor parallelism care.

    `layers` are the layers that keep a KV cache: all layers of a decoder, the decoder layers of an encoder-decoder
    model (`encoder_layers` holds the others), all layers of an encoder (which keeps keys and values of one layer at a
    time). `kv_heads` equals `attention_heads` for multi-head attention and is smaller for grouped-query attention.
    """

    name: str
    kind: ModelKind
    parameters: int
    layers: int
    hidden_size: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    max_positions: int
    vocab_size: int
    encoder_layers: int = 0
    source: str = "custom"

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in MODEL_KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(MODEL_KINDS)}")
        for name in (
            "parameters",
            "layers",
            "hidden_size",
            "attention_heads",
            "kv_heads",
            "head_dim",
            "max_positions",
            "vocab_size",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.kv_heads >= 1 and self.attention_heads % self.kv_heads:
            problems.append(
                f"attention_heads ({self.attention_heads}) must be a multiple of kv_heads ({self.kv_heads})"
            )
        if self.kind == "encoder-decoder" and self.encoder_layers < 1:
            problems.append("an encoder-decoder model needs encoder_layers >= 1")
        if problems:
            raise ValueError(f"model architecture {self.name!r}: " + "; ".join(problems))

    @property
    def generates_text(self) -> bool:
        return self.kind != "encoder"

    @property
    def billions(self) -> float:
        return self.parameters / 1e9


def _hub(repo: str) -> str:
    return f"https://huggingface.co/{repo}/blob/main/config.json and model card (checked {CHECKED})"


PRESETS: dict[str, ModelArchitecture] = {
    arch.name: arch
    for arch in (
        ModelArchitecture(
            name="llama-3.1-8b",
            kind="decoder",
            parameters=8_030_261_248,
            layers=32,
            hidden_size=4096,
            attention_heads=32,
            kv_heads=8,
            head_dim=128,
            max_positions=131_072,
            vocab_size=128_256,
            source=_hub("meta-llama/Llama-3.1-8B-Instruct"),
        ),
        ModelArchitecture(
            name="llama-3.1-70b",
            kind="decoder",
            parameters=70_553_706_496,
            layers=80,
            hidden_size=8192,
            attention_heads=64,
            kv_heads=8,
            head_dim=128,
            max_positions=131_072,
            vocab_size=128_256,
            source=_hub("meta-llama/Llama-3.1-70B-Instruct"),
        ),
        ModelArchitecture(
            name="llama-3.2-3b",
            kind="decoder",
            parameters=3_212_749_824,
            layers=28,
            hidden_size=3072,
            attention_heads=24,
            kv_heads=8,
            head_dim=128,
            max_positions=131_072,
            vocab_size=128_256,
            source=_hub("meta-llama/Llama-3.2-3B-Instruct"),
        ),
        ModelArchitecture(
            name="mistral-7b",
            kind="decoder",
            parameters=7_248_023_552,
            layers=32,
            hidden_size=4096,
            attention_heads=32,
            kv_heads=8,
            head_dim=128,
            max_positions=32_768,
            vocab_size=32_768,
            source=_hub("mistralai/Mistral-7B-Instruct-v0.3"),
        ),
        ModelArchitecture(
            name="bge-base-en-v1.5",
            kind="encoder",
            parameters=109_482_240,
            layers=12,
            hidden_size=768,
            attention_heads=12,
            kv_heads=12,
            head_dim=64,
            max_positions=512,
            vocab_size=30_522,
            source=_hub("BAAI/bge-base-en-v1.5"),
        ),
        ModelArchitecture(
            name="distilbert-sst2",
            kind="encoder",
            parameters=66_955_010,
            layers=6,
            hidden_size=768,
            attention_heads=12,
            kv_heads=12,
            head_dim=64,
            max_positions=512,
            vocab_size=30_522,
            source=_hub("distilbert/distilbert-base-uncased-finetuned-sst-2-english"),
        ),
        ModelArchitecture(
            # T5 has relative positions; 512 is the context it was trained on (`n_positions`).
            name="flan-t5-large",
            kind="encoder-decoder",
            parameters=783_150_080,
            layers=24,
            encoder_layers=24,
            hidden_size=1024,
            attention_heads=16,
            kv_heads=16,
            head_dim=64,
            max_positions=512,
            vocab_size=32_128,
            source=_hub("google/flan-t5-large"),
        ),
    )
}


class UnknownModelError(UserError):
    pass


def preset(name: str) -> ModelArchitecture:
    """The preset of that name, or an error listing the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownModelError(
            f"model preset {name!r} is unknown; known presets: {', '.join(PRESETS)} "
            "(or describe a custom model with its architecture facts)"
        ) from None
