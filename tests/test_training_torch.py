"""The entry point's torch code on CPU: the batch collator, the vocab-parallel distillation loss, and merging LoRA
adapters into a tiny random Llama as the job does before writing /opt/ml/model.

Needs torch, transformers and peft (`pip install -e .[training-tests]`, torch CPU wheels from
https://download.pytorch.org/whl/cpu); skipped without them. What needs Neuron devices (the XLA step, real shards,
compilation) is not exercised here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")  # a module typed Any: the tensors below are annotated Any
peft = pytest.importorskip("peft")
transformers = pytest.importorskip("transformers")

from training import train_data, train_distill, train_export  # noqa: E402


def test_collator_stacks_blocks_and_keeps_eos_in_the_labels() -> None:
    eos = 2
    batch = train_data.PackedCollator()([{"input_ids": [5, 6, eos, 7]}, {"input_ids": [eos, 8, 9, 3]}])
    assert batch["input_ids"].shape == (2, 4) and batch["input_ids"].dtype == torch.long
    assert torch.equal(batch["labels"], batch["input_ids"])  # the end-of-sequence token is learned, not masked
    assert bool(batch["attention_mask"].all())
    with pytest.raises(train_data.DataError, match="blocks of different lengths"):
        train_data.PackedCollator()([{"input_ids": [1, 2]}, {"input_ids": [1]}])


def reference_kd(student: Any, teacher: Any, labels: Any, t: float) -> Any:
    s = torch.nn.functional.log_softmax(student[..., :-1, :] / t, dim=-1)
    p = torch.nn.functional.softmax(teacher[..., :-1, :] / t, dim=-1)
    per_token = torch.nn.functional.kl_div(s, p, reduction="none").sum(-1)
    mask = (labels[..., 1:] != -100).float()
    return (per_token * mask).sum() / mask.sum() * t * t


def test_distillation_loss_is_the_temperature_scaled_kl_over_labelled_positions() -> None:
    torch.manual_seed(0)
    student, teacher = torch.randn(2, 5, 11), torch.randn(2, 5, 11)
    labels = torch.tensor([[1, 2, 3, -100, 4], [5, -100, -100, 6, 7]])
    got = train_distill.kd_loss(student, teacher, labels, temperature=2.0)
    assert torch.allclose(got, reference_kd(student, teacher, labels, 2.0), atol=1e-6)
    assert float(train_distill.kd_loss(teacher, teacher, labels, 2.0)) == pytest.approx(0.0, abs=1e-6)


def test_distillation_loss_over_a_vocabulary_split_across_ranks_matches_the_whole() -> None:
    """Tensor parallelism emulated by a leading rank dimension: each rank holds V/TP logits of both models; the
    reductions sum and max over that dimension like the all-reduces over the tensor-parallel group."""
    torch.manual_seed(1)
    tp, vocab = 4, 12
    student = torch.randn(2, 6, vocab, requires_grad=True)
    teacher = torch.randn(2, 6, vocab)
    labels = torch.randint(0, vocab, (2, 6))
    labels[0, 3] = -100

    def split(x: Any) -> Any:
        return torch.stack(x.chunk(tp, dim=-1))  # [tp, batch, seq, vocab/tp]

    def reduce_sum(x: Any) -> Any:
        return x.sum(0, keepdim=True).expand_as(x)

    def reduce_max(x: Any) -> Any:
        return x.amax(0, keepdim=True).expand_as(x)

    sharded = train_distill.kd_loss(split(student), split(teacher), labels, 2.0, reduce_sum, reduce_max) / tp
    whole = reference_kd(student, teacher, labels, 2.0)
    assert torch.allclose(sharded, whole, atol=1e-5)
    (grad_sharded,) = torch.autograd.grad(sharded, student)
    (grad_whole,) = torch.autograd.grad(whole, student)
    assert torch.allclose(grad_sharded, grad_whole, atol=1e-5)


def tiny_llama(path: Path) -> object:
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
    )
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(path, safe_serialization=True)
    return model


def adapter(model: object, path: Path, seed: int) -> None:
    torch.manual_seed(seed)
    config = peft.LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        init_lora_weights=False,  # random B: the adapter changes the outputs
        task_type="CAUSAL_LM",
    )
    peft.get_peft_model(model, config).save_pretrained(path)


def logits(path_or_model: Any, ids: Any) -> Any:
    model = (
        transformers.AutoModelForCausalLM.from_pretrained(path_or_model, torch_dtype=torch.float32)
        if isinstance(path_or_model, Path)
        else path_or_model
    )
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_lora_adapters_are_merged_into_plain_weights_in_order(tmp_path: Path) -> None:
    base = tmp_path / "base"
    tiny_llama(base)
    first, second = tmp_path / "adapter-1", tmp_path / "adapter-2"
    adapter(transformers.AutoModelForCausalLM.from_pretrained(base), first, seed=1)
    # The second segment's adapter is trained on base + first (train_resume.py).
    once = train_export.merge_lora(base, [first], tmp_path / "once", dtype=torch.float32)
    adapter(transformers.AutoModelForCausalLM.from_pretrained(once), second, seed=2)

    merged = train_export.merge_lora(base, [first, second], tmp_path / "merged", dtype=torch.float32)
    assert sorted(p.name for p in merged.iterdir()) == ["config.json", "generation_config.json", "model.safetensors"]

    ids = torch.tensor([[1, 5, 9, 3, 7]])
    with_adapters = peft.PeftModel.from_pretrained(
        peft.PeftModel.from_pretrained(
            transformers.AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32), first
        ).merge_and_unload(),
        second,
    )
    expected = logits(with_adapters, ids)
    assert torch.allclose(logits(merged, ids), expected, atol=1e-5)
    assert not torch.allclose(logits(base, ids), expected, atol=1e-3)  # the adapters did change the model
