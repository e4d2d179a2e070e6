"""Architecture facts of the models the platform serves: what sizing needs to know, with the source of each preset.

The numbers come from each model's published `config.json` on the Hugging Face Hub and its model card (parameter
count); a custom model states the same facts in the profile, or points at its `config.json` (`from_hf_config`), from
which every fact, the parameter count included, is derived offline. Sizing (`neuron.sizing`) and the synth pre-flight
read only these facts, so a model is sized the same way in the CDK app and in the operator CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
    # Mixture-of-experts: the parameters one token passes through (None = dense, all of them). Decoding reads these.
    active_parameters: int | None = None

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
        if self.active_parameters is not None and not 1 <= self.active_parameters <= self.parameters:
            problems.append(
                f"active_parameters ({self.active_parameters}) must be between 1 and parameters ({self.parameters})"
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

    @property
    def active(self) -> int:
        """Parameters one token passes through: all of a dense model, the routed share of a mixture of experts."""
        return self.parameters if self.active_parameters is None else self.active_parameters


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


# --------------------------------------------------------------------------------------------------------------------
# Any Hugging Face model: the facts and the parameter count from its config.json
# --------------------------------------------------------------------------------------------------------------------
# Parameters are counted the way the Transformers modeling code of each family builds its modules (one weight matrix
# per projection, the biases the family has, every norm's weight, embeddings once when the output head is tied), so the
# count equals the safetensors total the Hub shows; tests/test_models.py checks it against the published count of every
# preset and of more families. `model_type` selects the family; an unknown one is refused, not guessed.
class ModelConfigError(UserError):
    """A config.json that cannot be read or describes a family the counter does not know."""


ENCODER_TYPES = ("bert", "distilbert")
ENCODER_DECODER_TYPES = ("t5",)
# Decoder families with Llama's block (attention + SiLU-gated MLP + RMSNorm); what each adds is handled below.
DECODER_TYPES = (
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "mixtral",
    "gemma2",
    "llama4",
    "llama4_text",
    "afmoe",
)
SUPPORTED_MODEL_TYPES = DECODER_TYPES + ENCODER_TYPES + ENCODER_DECODER_TYPES
# `tie_word_embeddings` when the config omits it: the family's configuration class default (Transformers).
_TIED_BY_DEFAULT = {"gemma2": True, "t5": True}


@dataclass(frozen=True)
class ParameterCount:
    total: int
    active: int  # per token: all of a dense model; shared weights + top-k experts of a mixture of experts


class _Config:
    """Typed reads of one config.json with errors that name the file and the key."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = data, where

    def int(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key)
        if value is None:
            if default is None:
                raise ModelConfigError(f"{self.where}: {key} is missing; a {self.model_type} config needs it")
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ModelConfigError(f"{self.where}: {key} must be a non-negative integer, got {value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key)
        return default if value is None else bool(value)

    @property
    def model_type(self) -> str:
        return str(self.data.get("model_type", ""))


def _decoder_count(c: _Config) -> ParameterCount:
    kind = c.model_type
    vocab, hidden, layers = c.int("vocab_size"), c.int("hidden_size"), c.int("num_hidden_layers")
    heads = c.int("num_attention_heads")
    kv_heads = c.int("num_key_value_heads", heads)
    head_dim = c.int("head_dim", hidden // heads if heads else 0)
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * q + 2 * hidden * kv + q * hidden  # q, k, v, o projections
    if kind == "qwen2":
        attention += q + 2 * kv  # Qwen2 has biases on q, k and v (not o)
    elif c.flag("attention_bias", False):
        attention += q + 2 * kv + hidden
    if kind in ("qwen3", "qwen3_moe"):
        attention += 2 * head_dim  # q_norm and k_norm (RMSNorm over the head dimension)
    if kind == "afmoe":
        attention += hidden * q  # gated attention: a gate projection the size of q
    norms = (4 if kind in ("gemma2", "afmoe") else 2) * hidden
    total = active = 0
    for index in range(layers):
        mlp, mlp_active = _mlp(c, index, hidden)
        total += attention + norms + mlp
        active += attention + norms + mlp_active
    embeddings = vocab * hidden
    tied = c.flag("tie_word_embeddings", _TIED_BY_DEFAULT.get(kind, False))
    rest = embeddings * (1 if tied else 2) + hidden  # embeddings, output head unless tied, final norm
    return ParameterCount(total + rest, active + rest)


def _mlp(c: _Config, index: int, hidden: int) -> tuple[int, int]:
    """Parameters of layer `index`'s feed-forward block, and those one token passes through."""
    kind = c.model_type
    gated = 3 * hidden  # gate, up and down projections per unit of intermediate size
    if kind == "mixtral":
        experts, top_k, size = c.int("num_local_experts"), c.int("num_experts_per_tok"), c.int("intermediate_size")
        return experts * gated * size + hidden * experts, top_k * gated * size + hidden * experts
    if kind == "qwen3_moe":
        step = c.int("decoder_sparse_step", 1)
        dense_only = c.data.get("mlp_only_layers") or []
        if c.int("num_experts", 0) > 0 and index not in dense_only and step and (index + 1) % step == 0:
            experts, top_k, size = c.int("num_experts"), c.int("num_experts_per_tok"), c.int("moe_intermediate_size")
            return experts * gated * size + hidden * experts, top_k * gated * size + hidden * experts
    if kind in ("llama4", "llama4_text"):
        step = c.int("interleave_moe_layer_step", 1)
        moe_layers = c.data.get("moe_layers")
        is_moe = index in moe_layers if moe_layers is not None else step > 0 and (index + 1) % step == 0
        if is_moe and c.int("num_local_experts", 0) > 0:
            experts, top_k, size = c.int("num_local_experts"), c.int("num_experts_per_tok"), c.int("intermediate_size")
            shared = gated * size
            return experts * gated * size + shared + hidden * experts, top_k * gated * size + shared + hidden * experts
        size = c.int("intermediate_size_mlp", c.int("intermediate_size"))
        return gated * size, gated * size
    if kind == "afmoe" and index >= c.int("num_dense_layers", 0):
        experts, top_k, size = c.int("num_experts"), c.int("num_experts_per_tok"), c.int("moe_intermediate_size")
        shared = c.int("num_shared_experts", 0) * gated * size
        router = hidden * experts + experts  # router weight and its expert bias
        return experts * gated * size + shared + router, top_k * gated * size + shared + router
    size = c.int("intermediate_size")
    return gated * size, gated * size


def _encoder_count(c: _Config) -> int:
    distil = c.model_type == "distilbert"
    hidden = c.int("dim" if distil else "hidden_size")
    layers = c.int("n_layers" if distil else "num_hidden_layers")
    inner = c.int("hidden_dim" if distil else "intermediate_size")
    positions = c.int("max_position_embeddings")
    token_types = 0 if distil else c.int("type_vocab_size", 2)
    embeddings = (c.int("vocab_size") + positions + token_types) * hidden + 2 * hidden  # + LayerNorm
    layer = 4 * (hidden * hidden + hidden) + 2 * (hidden * inner) + inner + hidden + 2 * (2 * hidden)
    architectures = [str(a) for a in c.data.get("architectures") or []]
    labels = len(c.data.get("id2label") or {}) or 2
    head = 0
    if any(a.endswith("ForSequenceClassification") for a in architectures):
        # DistilBERT: pre_classifier + classifier; BERT: pooler + classifier.
        head = hidden * hidden + hidden + hidden * labels + labels
    elif not distil and any(a == "BertModel" for a in architectures):
        head = hidden * hidden + hidden  # the pooler
    return embeddings + layers * layer + head


def _t5_count(c: _Config) -> int:
    model, inner = c.int("d_model"), c.int("num_heads") * c.int("d_kv")
    ff = c.int("d_ff") * model * (3 if str(c.data.get("feed_forward_proj", "relu")).startswith("gated") else 2)
    attention = 4 * model * inner
    buckets = c.int("relative_attention_num_buckets", 32) * c.int("num_heads")
    encoder = c.int("num_layers") * (attention + ff + 2 * model) + buckets + model
    decoder = c.int("num_decoder_layers", c.int("num_layers")) * (2 * attention + ff + 3 * model) + buckets + model
    shared = c.int("vocab_size") * model
    tied = c.flag("tie_word_embeddings", True)
    return shared * (1 if tied else 2) + encoder + decoder


def _text_config(data: Mapping[str, Any], where: str) -> _Config:
    """The language model's part of the config (multimodal configs nest it under text_config)."""
    if not isinstance(data, Mapping):
        raise ModelConfigError(f"{where}: a config.json holds a JSON object, got {type(data).__name__}")
    text = data.get("text_config")
    if isinstance(text, Mapping) and "model_type" not in data.get("text_config", {}):
        text = {**text, "model_type": f"{data.get('model_type')}_text"}
    c = _Config(text if isinstance(text, Mapping) else data, where)
    if c.model_type not in SUPPORTED_MODEL_TYPES:
        raise ModelConfigError(
            f"{where}: model_type {c.model_type or '(missing)'!r} is not a family the planner counts; supported: "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} (or describe the model with its architecture facts in the profile)"
        )
    return c


def count_parameters(data: Mapping[str, Any], where: str = "config.json") -> ParameterCount:
    """Parameters of the model a config.json describes (language model only for multimodal configs)."""
    c = _text_config(data, where)
    if c.model_type in ENCODER_TYPES:
        n = _encoder_count(c)
        return ParameterCount(n, n)
    if c.model_type in ENCODER_DECODER_TYPES:
        n = _t5_count(c)
        return ParameterCount(n, n)
    return _decoder_count(c)


def from_hf_config(data: Mapping[str, Any], *, name: str, source: str) -> ModelArchitecture:
    """The architecture facts of a Hugging Face config.json, parameters counted from it."""
    c = _text_config(data, source)
    count = count_parameters(data, source)
    kind = c.model_type
    if kind in ENCODER_DECODER_TYPES:
        heads = c.int("num_heads")
        facts: dict[str, Any] = {
            "kind": "encoder-decoder",
            "layers": c.int("num_decoder_layers", c.int("num_layers")),
            "encoder_layers": c.int("num_layers"),
            "hidden_size": c.int("d_model"),
            "attention_heads": heads,
            "kv_heads": heads,
            "head_dim": c.int("d_kv"),
            "max_positions": c.int("n_positions", 512),  # relative positions: the length it was trained on
        }
    elif kind == "distilbert":
        heads, hidden = c.int("n_heads"), c.int("dim")
        facts = {
            "kind": "encoder",
            "layers": c.int("n_layers"),
            "hidden_size": hidden,
            "attention_heads": heads,
            "kv_heads": heads,
            "head_dim": hidden // heads,
            "max_positions": c.int("max_position_embeddings"),
        }
    else:
        heads, hidden = c.int("num_attention_heads"), c.int("hidden_size")
        facts = {
            "kind": "encoder" if kind in ENCODER_TYPES else "decoder",
            "layers": c.int("num_hidden_layers"),
            "hidden_size": hidden,
            "attention_heads": heads,
            "kv_heads": c.int("num_key_value_heads", heads),
            "head_dim": c.int("head_dim", hidden // heads),
            "max_positions": c.int("max_position_embeddings"),
        }
    try:
        return ModelArchitecture(
            name=name,
            parameters=count.total,
            vocab_size=c.int("vocab_size"),
            source=source,
            active_parameters=count.active if count.active != count.total else None,
            **facts,
        )
    except ValueError as err:
        raise ModelConfigError(str(err)) from None


def load_hf_config(path: str | Path, name: str | None = None) -> ModelArchitecture:
    """A model's facts from its config.json file; the name defaults to the folder (…/Llama-3.1-8B/config.json)."""
    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except OSError as err:
        raise ModelConfigError(f"cannot read the model config {file}: {err.strerror or err}") from None
    except json.JSONDecodeError as err:
        raise ModelConfigError(f"{file} is not valid JSON: {err}") from None
    default = file.parent.name if file.name == "config.json" and file.parent.name else file.stem
    return from_hf_config(data, name=name or default, source=f"{file} (config.json, parameters counted from it)")


# The presets: each model's published config.json, shipped in neuron/model_configs/ (also the configs of the measured
# models the throughput fit reads), with every fact and the parameter count derived from it by `from_hf_config`, so
# a preset's facts exist once. tests/test_models.py checks each count against the published one.
MODEL_CONFIGS = Path(__file__).with_name("model_configs")
PRESET_REPOSITORIES: dict[str, str] = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "llama-3.1-70b": "meta-llama/Llama-3.1-70B-Instruct",
    "llama-3.2-3b": "meta-llama/Llama-3.2-3B-Instruct",
    "mistral-7b": "mistralai/Mistral-7B-Instruct-v0.3",
    "bge-base-en-v1.5": "BAAI/bge-base-en-v1.5",
    "distilbert-sst2": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "flan-t5-large": "google/flan-t5-large",
}
PRESETS: dict[str, ModelArchitecture] = {
    name: from_hf_config(
        json.loads((MODEL_CONFIGS / f"{name}.json").read_text()),
        name=name,
        source=f"https://huggingface.co/{repo}/blob/main/config.json and model card (checked {CHECKED})",
    )
    for name, repo in PRESET_REPOSITORIES.items()
}


def resolve(model: str) -> ModelArchitecture:
    """A preset by name, or the model a config.json path (or a folder holding one) describes."""
    if model in PRESETS:
        return preset(model)
    if model.endswith(".json"):
        return load_hf_config(model)
    folder = Path(model)
    if (folder / "config.json").is_file():
        return load_hf_config(folder / "config.json")
    return preset(model)
