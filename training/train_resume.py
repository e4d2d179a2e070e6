"""Resuming a training job after a spot interruption or a retry, within what optimum-neuron 0.4.1 allows.

optimum-neuron's `NeuronTrainer.train(resume_from_checkpoint=...)` raises "`resume_from_checkpoint` is not supported by
the NeuronTrainer." (huggingface/optimum-neuron v0.4.1 optimum/neuron/trainers/transformers.py L1036-1041; unchanged
at v0.4.5), and a checkpoint's optimizer state is not read back. So a restarted job resumes what can be restored:

- the weights: the newest `checkpoint-<step>` SageMaker restored to /opt/ml/checkpoints (CheckpointConfig), made a
  Hugging Face model directory (consolidated from its tensor-parallel shards; for LoRA, the adapter merged into the
  weights it was trained on);
- the position in the data: the first `step x global batch` blocks of the fixed order (train_data.epoch_order) are
  skipped and only the remaining optimizer steps run;
- NOT the AdamW moments, and the learning-rate schedule restarts over the remaining steps (warmup shortened by the
  steps done). The loss curve shows a short bump after a resume; the result is not bit-identical to an uninterrupted
  run. Checkpoints are written model-only (`save_only_model`), since their optimizer state could not be used.

Layout under /opt/ml/checkpoints (synced to S3 by SageMaker):

    segment-<k>/segment.json         {"start_step": S}: the global step segment k started at
    segment-<k>/checkpoint-<n>/      the trainer's checkpoints; global step = S + n
    lora-merged/<k>/                 LoRA only: the consolidated adapter that ended segment k-1; segment k trained a
                                     fresh adapter on base + lora-merged/1..k, and the final model merges them all

Standard library only: the job decides here, and the tests run it on CPU.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

SEGMENT = re.compile(r"^segment-(\d+)$")
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
SEGMENT_FILE = "segment.json"
TRAINER_STATE = "trainer_state.json"  # written last by NeuronTrainer._save_checkpoint (transformers.py L1259-1263)
LORA_CHAIN = "lora-merged"


@dataclass(frozen=True)
class ResumePlan:
    """Where this run starts: its segment and global step, and what it is built from."""

    segment: int
    start_step: int
    checkpoint: Path | None  # the checkpoint whose weights the run starts from; None = a fresh start
    lora_chain: tuple[Path, ...]  # adapters already merged into the starting weights, oldest first

    @property
    def resumed(self) -> bool:
        return self.checkpoint is not None

    def segment_dir(self, root: Path) -> Path:
        return root / f"segment-{self.segment}"


def _numbered(parent: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    if not parent.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in parent.iterdir() if p.is_dir() and (m := pattern.match(p.name))]
    return sorted(found)


def segment_start(segment_dir: Path) -> int:
    path = segment_dir / SEGMENT_FILE
    if not path.is_file():
        return 0
    value = json.loads(path.read_text())["start_step"]
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"{path}: start_step must be a non-negative integer, got {value!r}")
    return value


def complete(checkpoint: Path) -> bool:
    """A checkpoint the trainer finished writing (its state file is the last thing it writes)."""
    return (checkpoint / TRAINER_STATE).is_file()


def latest_checkpoint(root: Path) -> tuple[int, int, Path] | None:
    """(segment, global step, path) of the newest complete checkpoint, or None."""
    best: tuple[int, int, Path] | None = None
    for segment, segment_dir in _numbered(root, SEGMENT):
        start = segment_start(segment_dir)
        for local, path in _numbered(segment_dir, CHECKPOINT):
            if complete(path) and (best is None or (start + local, segment) > (best[1], best[0])):
                best = (segment, start + local, path)
    return best


def plan(root: Path) -> ResumePlan:
    """The plan of a run that finds `root` as SageMaker restored it."""
    latest = latest_checkpoint(root)
    if latest is None:
        return ResumePlan(segment=0, start_step=0, checkpoint=None, lora_chain=())
    segment, step, path = latest
    chain = tuple(p for k, p in _numbered(root / LORA_CHAIN, re.compile(r"^(\d+)$")) if 1 <= k <= segment)
    return ResumePlan(segment=segment + 1, start_step=step, checkpoint=path, lora_chain=chain)


def write_segment(root: Path, resume: ResumePlan) -> Path:
    directory = resume.segment_dir(root)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / SEGMENT_FILE).write_text(json.dumps({"start_step": resume.start_step}) + "\n")
    return directory


def global_batch(micro_batch: int, gradient_accumulation: int, data_parallel: int) -> int:
    """Blocks one optimizer step consumes across the job."""
    return micro_batch * gradient_accumulation * data_parallel


def total_steps(blocks: int, batch: int, max_steps: int) -> int:
    """Optimizer steps of the whole job: `max_steps` when set (> 0), else every full global batch of the blocks."""
    if max_steps > 0:
        return max_steps
    return blocks // batch


def remaining(blocks: int, batch: int, max_steps: int, done: int) -> tuple[int, int]:
    """(blocks to skip, optimizer steps left) for a run that starts after `done` steps."""
    total = total_steps(blocks, batch, max_steps)
    return min(done * batch, blocks), max(total - done, 0)


def remaining_warmup(warmup_steps: int, done: int) -> int:
    return max(warmup_steps - done, 0)


def data_parallel_degree(world_size: int, tensor_parallel: int, pipeline_parallel: int) -> int:
    model_parallel = tensor_parallel * pipeline_parallel
    if world_size % model_parallel:
        raise ValueError(
            f"tensor_parallel_size {tensor_parallel} x pipeline_parallel_size {pipeline_parallel} does not divide the "
            f"{world_size} processes"
        )
    return world_size // model_parallel


def epochs_needed(steps: int, batch: int, blocks: int) -> int:
    """Passes over the blocks that `steps` optimizer steps need (max_steps may ask for more than one epoch)."""
    return max(1, math.ceil(steps * batch / blocks)) if blocks else 1
