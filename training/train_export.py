"""Turning what the trainer saved into a Hugging Face model directory: for the final model in /opt/ml/model (what the
compile stage and CreateModel read, uncompressed: config.json, *.safetensors, tokenizer files), and for the starting
weights of a resumed run.

With tensor or pipeline parallelism, optimum-neuron saves sharded state (`shards/`, for LoRA
`adapter_<name>/adapter_shards/`; huggingface/optimum-neuron v0.4.1 optimum/neuron/trainers/transformers.py
L1198-1208); `consolidate_model_parallel_checkpoints_to_unified_checkpoint` (optimum/neuron/models/training/
checkpointing.py L160-235, the function behind `optimum-cli neuron consolidate`) writes them back as one safetensors
model or adapter. LoRA adapters are then merged on the CPU with peft's `merge_and_unload`, as optimum-neuron's tutorial
does (docs/source/training_tutorials/finetune_llama.mdx L248-281, v0.4.1), so serving needs no adapter support.

Weights the job did not write (the `model` channel) are read from safetensors only (`use_safetensors=True`); the
adapters this job wrote are safetensors too. Nothing here calls torch.load on a file from outside the job.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_PARALLEL_SHARDS = "shards"  # optimum/neuron/models/training/modeling_utils.py L109 (v0.4.1)
ADAPTER_SHARDS = "adapter_shards"  # optimum/neuron/peft/peft_model.py L79 (v0.4.1)
DEFAULT_ADAPTER = "adapter_default"
ADAPTER_CONFIG = "adapter_config.json"
# Files of the base model's directory that describe it besides its weights, copied next to the trained weights.
MODEL_FILES = ("config.json", "generation_config.json")


def sharded(saved: Path) -> bool:
    """Whether the trainer saved `saved` as model-parallel shards (TP or PP > 1)."""
    return (saved / MODEL_PARALLEL_SHARDS).is_dir() or any(
        (p / ADAPTER_SHARDS).is_dir() for p in saved.glob("adapter_*")
    )


def adapter_dir(saved: Path) -> Path:
    """Consolidate the LoRA adapter `saved` holds (if sharded) and return its peft directory."""
    if sharded(saved):
        from optimum.neuron.models.training import consolidate_model_parallel_checkpoints_to_unified_checkpoint

        target = saved / DEFAULT_ADAPTER  # the tutorial's target: next to adapter_config.json
        consolidate_model_parallel_checkpoints_to_unified_checkpoint(saved, target, "safetensors")
        return target
    if (saved / ADAPTER_CONFIG).is_file():  # TP = PP = 1: peft's own save_pretrained layout
        return saved
    raise FileNotFoundError(f"{saved}: no LoRA adapter ({ADAPTER_CONFIG} or {DEFAULT_ADAPTER}/{ADAPTER_SHARDS})")


def full_weights(saved: Path, target: Path) -> None:
    """Write the full model `saved` holds as safetensors into `target` (consolidated if sharded)."""
    target.mkdir(parents=True, exist_ok=True)
    if sharded(saved):
        from optimum.neuron.models.training import consolidate_model_parallel_checkpoints_to_unified_checkpoint

        consolidate_model_parallel_checkpoints_to_unified_checkpoint(saved, target, "safetensors")
        return
    weights = sorted(saved.glob("*.safetensors")) + sorted(saved.glob("*.safetensors.index.json"))
    if not weights:
        raise FileNotFoundError(f"{saved}: no model shards and no *.safetensors")
    for path in weights:
        shutil.copy2(path, target / path.name)


def copy_model_files(base: Path, target: Path) -> None:
    """The base model's config (the architecture training does not change) next to the trained weights."""
    for name in MODEL_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, target / name)
    if not (target / "config.json").is_file():
        raise FileNotFoundError(f"{base}: no config.json to describe the trained weights")


def merge_lora(base: Path, adapters: Sequence[Path], target: Path, *, dtype: Any = None) -> Path:
    """Base weights with each adapter merged in order, saved as safetensors to `target` (CPU)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        base, torch_dtype=dtype or torch.bfloat16, use_safetensors=True, low_cpu_mem_usage=True
    )
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    return target


def save_tokenizer(tokenizer: Any, target: Path) -> None:
    tokenizer.save_pretrained(target)
