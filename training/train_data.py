"""Training data for train.py: JSON-lines records turned into fixed-length token blocks, in an order a resumed job can
skip into.

Neuron compiles one graph per input shape, so every batch has the same shape: documents are tokenized, joined with the
end-of-sequence token and cut into blocks of `max_seq_length` tokens (the remainder is dropped), as optimum-neuron's
fine-tuning examples do with `packing=True` (huggingface/optimum-neuron v0.4.1 examples/training/llama/
finetune_llama.py). The order is fixed here, not by the trainer: every epoch is a seeded permutation of the blocks and
the epochs are concatenated, so after `k` optimizer steps exactly the first `k x global batch` blocks were consumed
and a resumed job starts at that position (train_resume.py). The trainer reads the list sequentially.

Records: {"text": ...}; {"messages": [{"role": ..., "content": ...}, ...]} (rendered with the tokenizer's chat
template); {"prompt": ..., "completion": ...}. Files: *.jsonl / *.json (JSON lines) below the channel directory,
read in sorted path order. Standard library and the tokenizer only; torch only in `PackedCollator`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

TEXT_FIELDS = ("text", "messages", "prompt")
SUFFIXES = (".jsonl", ".json")


class DataError(ValueError):
    """A channel whose content train.py cannot use; the message names the file and line."""


def records(channel: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(file, line number, record) for every JSON line of every *.jsonl / *.json file below `channel`."""
    files = sorted(p for p in channel.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not files:
        raise DataError(f"no {' or '.join(SUFFIXES)} files below {channel}")
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataError(f"{path}:{number}: not JSON ({err.msg})") from None
                if not isinstance(record, dict):
                    raise DataError(f"{path}:{number}: a record must be a JSON object")
                yield str(path), number, record


def record_text(record: dict[str, Any], where: str, chat_template: Callable[[list[dict[str, str]]], str] | None) -> str:
    """The training text of one record."""
    text, messages, prompt, completion = (record.get(k) for k in ("text", "messages", "prompt", "completion"))
    if isinstance(text, str):
        return text
    if isinstance(messages, list):
        if chat_template is None:
            raise DataError(f"{where}: a `messages` record needs a tokenizer with a chat template")
        return chat_template(messages)
    if isinstance(prompt, str) and isinstance(completion, str):
        return prompt + completion
    raise DataError(f"{where}: no training text; give one of {', '.join(TEXT_FIELDS)} (prompt with completion)")


def texts(channel: Path, chat_template: Callable[[list[dict[str, str]]], str] | None = None) -> list[str]:
    return [record_text(r, f"{path}:{number}", chat_template) for path, number, r in records(channel)]


def pack(token_lists: Iterable[Sequence[int]], block: int, eos: int) -> list[list[int]]:
    """Documents joined with `eos` after each, cut into blocks of `block` tokens; the incomplete tail is dropped."""
    if block < 2:
        raise DataError(f"max_seq_length {block} is too short to train on")
    blocks: list[list[int]] = []
    buffer: list[int] = []
    for tokens in token_lists:
        buffer.extend(tokens)
        buffer.append(eos)
        while len(buffer) >= block:
            blocks.append(buffer[:block])
            buffer = buffer[block:]
    return blocks


def epoch_order(count: int, epochs: int, seed: int) -> list[int]:
    """Block indices for `epochs` passes, each a permutation seeded by (seed, epoch): the same on every rank and in
    every restart of the job."""
    order: list[int] = []
    for epoch in range(epochs):
        indices = list(range(count))
        random.Random(f"{seed}-{epoch}").shuffle(indices)
        order.extend(indices)
    return order


class PackedCollator:
    """Stacks equal-length blocks; labels are the inputs (the model shifts them). Unlike transformers'
    DataCollatorForLanguageModeling it does not mask the end-of-sequence token when it doubles as padding."""

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        lengths = {len(f["input_ids"]) for f in features}
        if len(lengths) != 1:
            raise DataError(f"blocks of different lengths {sorted(lengths)} in one batch; pack() makes them equal")
        input_ids = torch.tensor([f["input_ids"] for f in features], dtype=torch.long)
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": input_ids.clone()}
