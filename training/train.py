"""Causal-LM pre-training / fine-tuning / distillation on Trainium, launched by torchrun on every node.

SageMaker's training toolkit starts this script with `torchrun` (hyperparameter sagemaker_torch_distributed_enabled)
with one process per NeuronCore on each node; torch-xla's `xla` process group spans all nodes over EFA. Tensor and
pipeline parallelism come from neuronx-distributed (NxD); the remaining cores form the data-parallel group.

Channels (SM_CHANNEL_<NAME>): `train` (JSON lines with a "text" field), optional `validation`, `model` (a Hugging Face
checkpoint directory to start from: the base or pre-trained model), optional `teacher` (distillation). Checkpoints go
to /opt/ml/checkpoints (SageMaker syncs them to S3 and restores them after a spot interruption); the final model is
saved uncompressed to /opt/ml/model.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
import torch_xla.core.xla_model as xm
import torch_xla.distributed.xla_backend  # noqa: F401  (registers the "xla" process-group backend)
from neuronx_distributed.parallel_layers import parallel_state
from transformers import AutoModelForCausalLM, AutoTokenizer

CHECKPOINT_DIR = Path(os.environ.get("SM_CHECKPOINT_DIR", "/opt/ml/checkpoints"))
MODEL_DIR = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=("pretrain", "fine-tune"), default="fine-tune")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=0, help="0 = run every epoch to the end")
    parser.add_argument("--batch-size", type=int, default=1, help="per data-parallel rank")
    parser.add_argument("--sequence-length", type=int, default=2048)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--distillation-alpha", type=float, default=0.5, help="weight of the teacher's KL term")
    parser.add_argument("--distillation-temperature", type=float, default=2.0)
    parser.add_argument("--tensor-parallel-degree", type=int, default=int(os.environ.get("TP_DEGREE", "1")))
    parser.add_argument("--pipeline-parallel-degree", type=int, default=int(os.environ.get("PP_DEGREE", "1")))
    return parser.parse_args()


def channel(name: str) -> Path | None:
    path = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    return Path(path) if path and Path(path).exists() else None


def batches(path: Path, tokenizer: AutoTokenizer, args: argparse.Namespace, rank: int, world: int) -> Iterator[dict]:
    """Fixed-shape batches (Neuron compiles one graph per shape) from this rank's share of the JSON-lines files."""
    texts: list[str] = []
    for index, line in enumerate(line for f in sorted(path.rglob("*.jsonl")) for line in f.open()):
        if index % world != rank:
            continue
        texts.append(json.loads(line)["text"])
        if len(texts) == args.batch_size:
            yield tokenizer(
                texts, max_length=args.sequence_length, padding="max_length", truncation=True, return_tensors="pt"
            )
            texts = []


def latest_checkpoint() -> Path | None:
    found = sorted(CHECKPOINT_DIR.glob("step-*/state.pt"), key=lambda p: int(p.parent.name.split("-")[1]))
    return found[-1] if found else None


def main() -> None:
    args = parse_args()
    dist.init_process_group("xla")
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=args.tensor_parallel_degree,
        pipeline_model_parallel_size=args.pipeline_parallel_degree,
    )
    device = xm.xla_device()
    dp_rank = parallel_state.get_data_parallel_rank()
    dp_size = parallel_state.get_data_parallel_size()

    start = channel("model")
    if start is None:
        raise SystemExit("no `model` channel: the workflow passes the base or pre-trained model as SM_CHANNEL_MODEL")
    tokenizer = AutoTokenizer.from_pretrained(start)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(start, torch_dtype=torch.bfloat16).to(device)
    teacher_path = channel("teacher")
    teacher = (
        AutoModelForCausalLM.from_pretrained(teacher_path, torch_dtype=torch.bfloat16).to(device).eval()
        if teacher_path
        else None
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)

    step = 0
    resume = latest_checkpoint()
    if resume is not None:  # a retried or spot-interrupted job continues where it stopped
        state = torch.load(resume, map_location="cpu")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        xm.master_print(f"resumed from {resume} at step {step}")

    train = channel("train")
    if train is None:
        raise SystemExit("no `train` channel")
    model.train()
    done, seen = False, 0
    for epoch in range(args.epochs):
        for batch in batches(train, tokenizer, args, dp_rank, dp_size):
            seen += 1
            if seen <= step:  # skip the batches the resumed checkpoint already trained on
                continue
            inputs = {k: v.to(device) for k, v in batch.items()}
            output = model(**inputs, labels=inputs["input_ids"])
            loss = output.loss
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(**inputs).logits
                t = args.distillation_temperature
                kl = (
                    F.kl_div(
                        F.log_softmax(output.logits / t, dim=-1),
                        F.softmax(teacher_logits / t, dim=-1),
                        reduction="batchmean",
                    )
                    * t
                    * t
                )
                loss = (1 - args.distillation_alpha) * loss + args.distillation_alpha * kl
            loss.backward()
            xm.optimizer_step(optimizer)  # all-reduces gradients across the data-parallel group, then steps
            optimizer.zero_grad()
            step += 1
            if step % 50 == 0:
                xm.master_print(f"epoch={epoch} step={step} loss={loss.item():.4f}")
            if step % args.checkpoint_every == 0:
                target = CHECKPOINT_DIR / f"step-{step}"
                target.mkdir(parents=True, exist_ok=True)
                xm.save(
                    {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step},
                    str(target / "state.pt"),
                )
            if args.max_steps and step >= args.max_steps:
                done = True
                break
        if done:
            break

    xm.rendezvous("training-done")
    if xm.is_master_ordinal(local=False):
        cpu_model = model.to("cpu")
        cpu_model.save_pretrained(MODEL_DIR, safe_serialization=True)
        tokenizer.save_pretrained(MODEL_DIR)
    xm.rendezvous("model-saved")


if __name__ == "__main__":
    main()
