"""Pre-training, fine-tuning (full or LoRA) and distillation of a causal LM on Trainium with optimum-neuron.

Runs in `huggingface-pytorch-training-neuronx:2.8.0-transformers4.55.4-neuronx-py310-sdk2.26.0-ubuntu22.04`, which
ships optimum-neuron[training] 0.4.1 (peft 0.17.0, trl 0.11.4), torch-neuronx 2.8 and the SageMaker training toolkit
(aws/deep-learning-containers ed7cbf3a huggingface/pytorch/training/docker/2.8/py3/sdk2.26.0/Dockerfile.neuronx
L29, L217, L260-280). The library is used as its own examples use it (huggingface/optimum-neuron v0.4.1
examples/training/llama/finetune_llama.py, examples/training/qwen3/finetune_qwen3.py; docs/source/
training_tutorials/finetune_llama.mdx): `HfArgumentParser((ScriptArguments, NeuronTrainingArguments))`,
`NeuronModelForCausalLM.from_pretrained(path, training_args.trn_config, torch_dtype=bfloat16)` (tensor and pipeline
parallel Llama/Qwen3/Granite; `from_config` for pre-training from scratch), `NeuronSFTConfig(**args.to_dict(), ...)`
and `NeuronSFTTrainer(peft_config=peft.LoraConfig(...))` for fine-tuning, the plain `NeuronTrainer` for pre-training.
No parallelism is written here: tensor/pipeline/data parallel, ZeRO-1, sequence parallel and gradient checkpointing
are NeuronTrainingArguments fields.

Launch: the toolkit (SAGEMAKER_TRAINING_MODULE sagemaker_pytorch_container.training:main, hyperparameter
sagemaker_torch_distributed_enabled) runs `torchrun --nnodes <hosts> --nproc_per_node <NeuronCores> train.py
--key value ...` (aws/sagemaker-pytorch-training-toolkit v3.0.0 torch_distributed.py L82-136). Hyperparameters arrive
as sorted `--key str(value)` pairs, booleans as `True`/`False` (aws/sagemaker-training-toolkit v5.1.0 mapping.py
L65-99), which HfArgumentParser's bool fields accept.

Channels (SM_CHANNEL_<NAME>): `model` (required: the Hugging Face directory to start from, or whose config a
from-scratch pre-training uses), `train` (required), `validation` (optional: a loss after training; optimum-neuron's
trainer refuses eval datasets, transformers.py L133-134), `teacher` (optional: distillation, train_distill.py).
Checkpoints: /opt/ml/checkpoints, resumed as far as the library allows (train_resume.py). The final model: a Hugging
Face directory (config.json, *.safetensors, tokenizer; LoRA merged) in /opt/ml/model, which SageMaker uploads
uncompressed (CompressionType NONE) for the compile stage and CreateModel (train_export.py).

What needs Neuron hardware to prove (the tests run the rest on CPU): compilation, the memory the pre-flight
estimates, the distillation step's graph, consolidation of real shards.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when run as a script

import train_data
import train_export
import train_resume

CHECKPOINT_DIR = Path("/opt/ml/checkpoints")
MODEL_DIR = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
# Not synced to S3 (SageMaker syncs only /opt/ml/checkpoints): the resumed run's starting weights, the final shards.
WORK_DIR = Path(os.environ.get("TRAIN_WORK_DIR", "/opt/ml/work"))
# The channels this script reads (SM_CHANNEL_<NAME>); `model` and `train` are required.
CHANNELS = ("model", "train", "validation", "teacher")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
READY_TIMEOUT_SECONDS = 4 * 3600
log = logging.getLogger("train")


@dataclass
class ScriptArguments:
    """train.py's own hyperparameters; every other one is an optimum-neuron NeuronTrainingArguments field."""

    mode: str = field(
        default="fine-tune", metadata={"help": "pretrain | fine-tune", "choices": ["pretrain", "fine-tune"]}
    )
    method: str = field(default="lora", metadata={"help": "full | lora", "choices": ["full", "lora"]})
    max_seq_length: int = field(default=2048, metadata={"help": "Tokens per packed block."})
    lora_r: int = field(default=16)
    lora_alpha: int | None = field(default=None, metadata={"help": "Default: 2 x lora_r."})
    lora_dropout: float = field(default=0.05)
    from_scratch: bool = field(default=False, metadata={"help": "pretrain: random weights from the model's config."})
    distillation_alpha: float = field(default=0.5, metadata={"help": "Weight of the teacher's KL term."})
    distillation_temperature: float = field(default=2.0)
    eval_max_batches: int = field(default=50, metadata={"help": "Validation batches after training (0 = none)."})


def parse_arguments(argv: list[str] | None = None) -> tuple[ScriptArguments, Any]:
    """(ScriptArguments, NeuronTrainingArguments) from `--key value` pairs; an unknown key is an error."""
    from optimum.neuron import NeuronTrainingArguments
    from transformers import HfArgumentParser

    # transformers types dataclass_types as a NewType over Any that no dataclass matches without a cast
    parser = HfArgumentParser((ScriptArguments, NeuronTrainingArguments))  # type: ignore[arg-type]
    script, training, remaining = parser.parse_args_into_dataclasses(args=argv, return_remaining_strings=True)
    if remaining:  # a hyperparameter no dataclass declares: a typo would otherwise be ignored
        parser.error(f"unrecognized arguments: {' '.join(remaining)}")
    problems = validate(script, training)
    if problems:
        parser.error("; ".join(problems))
    return script, training


def validate(script: ScriptArguments, training: Any) -> list[str]:
    problems = []
    if script.mode == "pretrain" and script.method != "full":
        problems.append("--mode pretrain trains every weight: use --method full")
    if script.from_scratch and script.mode != "pretrain":
        problems.append("--from_scratch applies to --mode pretrain only")
    if not 0.0 <= script.distillation_alpha <= 1.0:
        problems.append(f"--distillation_alpha {script.distillation_alpha} must be within [0, 1]")
    if script.distillation_temperature <= 0:
        problems.append(f"--distillation_temperature {script.distillation_temperature} must be positive")
    if not training.bf16:
        problems.append("--bf16 False: the memory pre-flight and the model loading assume bf16 weights")
    return problems


def channel(name: str, required: bool = False) -> Path | None:
    if name not in CHANNELS:
        raise ValueError(f"train.py reads no channel {name!r}; it reads {', '.join(CHANNELS)}")
    value = os.environ.get(f"SM_CHANNEL_{name.upper()}")
    path = Path(value) if value else None
    if path is None or not path.exists():
        if required:
            raise SystemExit(f"no `{name}` channel (SM_CHANNEL_{name.upper()}): the workflow must pass it")
        return None
    return path


def rank() -> tuple[int, int, int]:
    """(global rank, local rank, world size) as torchrun sets them."""
    return (
        int(os.environ.get("RANK", "0")),
        int(os.environ.get("LOCAL_RANK", "0")),
        int(os.environ.get("WORLD_SIZE", "1")),
    )


def once_per_node(marker: Path, work: Any) -> None:
    """Run `work` on local rank 0 and let the node's other ranks wait for its marker file."""
    _, local, _ = rank()
    if local == 0:
        if not marker.is_file():
            work()
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text("ready\n")
        return
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not marker.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {marker}")
        time.sleep(5)


def starting_weights(script: ScriptArguments, resume: train_resume.ResumePlan, base: Path, tokenizer: Any) -> Path:
    """The Hugging Face directory this run loads: the base model, or the resumed checkpoint's weights."""
    if not resume.resumed:
        return base
    assert resume.checkpoint is not None
    target = WORK_DIR / f"resume-{resume.segment}"

    def prepare() -> None:
        if script.method == "lora":
            adapter = train_export.adapter_dir(resume.checkpoint)
            chain = CHECKPOINT_DIR / train_resume.LORA_CHAIN / str(resume.segment)
            if chain.exists():
                shutil_rmtree(chain)
            copy_tree(adapter, chain)
            train_export.merge_lora(base, [*resume.lora_chain, chain], target)
        else:
            train_export.full_weights(resume.checkpoint, target)
        train_export.copy_model_files(base, target)
        train_export.save_tokenizer(tokenizer, target)

    once_per_node(target / ".ready", prepare)
    return target


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def copy_tree(source: Path, target: Path) -> None:
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns(train_export.ADAPTER_SHARDS))


def blocks(script: ScriptArguments, tokenizer: Any, path: Path) -> list[list[int]]:
    template = None
    if getattr(tokenizer, "chat_template", None):

        def template(messages: list[dict[str, str]]) -> str:
            return str(tokenizer.apply_chat_template(messages, tokenize=False))

    texts = train_data.texts(path, template)
    ids = tokenizer(texts, add_special_tokens=True)["input_ids"]
    packed: list[list[int]] = train_data.pack(ids, script.max_seq_length, tokenizer.eos_token_id)
    return packed


def loss_printer(start_step: int) -> Any:
    """A TrainerCallback printing `step=N loss=X` (global step) on the first rank: the job's MetricDefinitions."""
    from transformers import TrainerCallback

    class LossPrinter(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **_: Any) -> None:
            if rank()[0] == 0 and logs and "loss" in logs:
                print(f"step={start_step + state.global_step} loss={logs['loss']:.4f}", flush=True)

    return LossPrinter()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    script, training = parse_arguments(argv)

    import datasets
    import torch
    from optimum.neuron import NeuronSFTConfig, NeuronSFTTrainer, NeuronTrainer, NeuronTrainingArguments
    from optimum.neuron.models.training import NeuronModelForCausalLM
    from transformers import AutoConfig, AutoTokenizer

    base = channel("model", required=True)
    train = channel("train", required=True)
    teacher_path = channel("teacher")
    validation = channel("validation")
    assert base is not None and train is not None
    global_rank, _, world = rank()

    tokenizer = AutoTokenizer.from_pretrained(base)  # type: ignore[no-untyped-call]  # unannotated in transformers
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    resume = train_resume.plan(CHECKPOINT_DIR)
    start = starting_weights(script, resume, base, tokenizer)

    # Data in the fixed order, skipping what the resumed checkpoint already trained on.
    packed = blocks(script, tokenizer, train)
    dp = train_resume.data_parallel_degree(world, training.tensor_parallel_size, training.pipeline_parallel_size)
    batch = train_resume.global_batch(training.per_device_train_batch_size, training.gradient_accumulation_steps, dp)
    passes = max(1, math.ceil(training.num_train_epochs))
    total = train_resume.total_steps(len(packed) * passes, batch, training.max_steps)
    if total == 0:
        raise SystemExit(
            f"{train}: {len(packed)} blocks of {script.max_seq_length} tokens make no global batch of {batch} "
            "(per_device_train_batch_size x gradient_accumulation_steps x data-parallel ranks); add data"
        )
    epochs = train_resume.epochs_needed(total, batch, len(packed))
    order = train_data.epoch_order(len(packed), epochs, training.seed)
    skip, steps = train_resume.remaining(len(order), batch, total, resume.start_step)
    if steps == 0:
        log.info("all %d steps were done before this run; exporting the model", total)
    dataset = datasets.Dataset.from_dict({"input_ids": [packed[i] for i in order[skip : skip + steps * batch]]})
    log.info(
        "%d blocks of %d tokens, %d epoch(s), global batch %d (DP %d): steps %d..%d of %d%s",
        len(packed), script.max_seq_length, epochs, batch, dp, resume.start_step, total, total,
        f", resumed from {resume.checkpoint}" if resume.resumed else "",
    )  # fmt: skip

    segment = (
        train_resume.write_segment(CHECKPOINT_DIR, resume) if global_rank == 0 else resume.segment_dir(CHECKPOINT_DIR)
    )
    overrides = {
        "output_dir": str(segment),
        "max_steps": max(steps, 1),
        "warmup_steps": train_resume.remaining_warmup(training.warmup_steps, resume.start_step),
        # Optimizer state cannot be restored by optimum-neuron 0.4.1 (train_resume.py): do not write it.
        "save_only_model": True,
    }
    settings = {**training.to_dict(), **overrides}
    dtype = torch.bfloat16
    arguments = NeuronTrainingArguments(**settings)
    trn_config = arguments.trn_config
    if script.mode == "pretrain" and script.from_scratch and not resume.resumed:
        config = AutoConfig.from_pretrained(base, torch_dtype=dtype)
        model = NeuronModelForCausalLM.from_config(config, trn_config)
    else:
        # Weights from outside the job: safetensors only; optimum-neuron's loader also defaults to
        # torch.load(weights_only=True) (optimum/neuron/models/training/modeling_utils.py L691-692, v0.4.1).
        model = NeuronModelForCausalLM.from_pretrained(start, trn_config, torch_dtype=dtype, use_safetensors=True)

    sequential = {"_get_train_sampler": lambda self, train_dataset=None: None}  # keep train_data's order
    common: dict[str, Any] = {
        "model": model,
        "train_dataset": dataset,
        "data_collator": train_data.PackedCollator(),
        "callbacks": [loss_printer(resume.start_step)],
    }
    if script.mode == "pretrain":
        trainer_cls = type("PretrainTrainer", (NeuronTrainer,), sequential)
        trainer = trainer_cls(args=arguments, processing_class=tokenizer, **common)
    else:
        from peft import LoraConfig

        base_cls: type = type("FineTuneTrainer", (NeuronSFTTrainer,), sequential)
        if teacher_path is not None:
            import torch_xla.core.xla_model as xm
            import train_distill

            teacher = NeuronModelForCausalLM.from_pretrained(
                teacher_path, trn_config, torch_dtype=dtype, use_safetensors=True
            )
            teacher.requires_grad_(False)
            teacher = teacher.to(xm.xla_device()).eval()
            base_cls = train_distill.distillation_trainer(
                base_cls, teacher, script.distillation_alpha, script.distillation_temperature
            )
        peft_config = (
            LoraConfig(
                r=script.lora_r,
                lora_alpha=script.lora_alpha or 2 * script.lora_r,
                lora_dropout=script.lora_dropout,
                target_modules=list(LORA_TARGETS),
                bias="none",
                task_type="CAUSAL_LM",
            )
            if script.method == "lora"
            else None
        )
        sft = NeuronSFTConfig(
            **settings,
            max_seq_length=script.max_seq_length,
            packing=False,  # train_data packed the blocks already, in the order resume relies on
            dataset_kwargs={"skip_prepare_dataset": True},
        )
        trainer = base_cls(args=sft, peft_config=peft_config, tokenizer=tokenizer, **common)

    if steps:
        trainer.train()
    if validation is not None and script.eval_max_batches and training.pipeline_parallel_size == 1:
        report_validation(trainer, blocks(script, tokenizer, validation), script, training)

    saved = WORK_DIR / "final"
    trainer.save_model(str(saved))  # every rank takes part; sharded when TP or PP > 1
    if global_rank == 0:
        export(script, resume, base, saved, tokenizer)


def report_validation(trainer: Any, packed: list[list[int]], script: ScriptArguments, training: Any) -> None:
    """Mean loss over the first validation blocks, the same on every rank (each tensor-parallel rank needs them)."""
    import torch
    import torch_xla.core.xla_model as xm

    size = training.per_device_train_batch_size
    model = trainer.model
    model.eval()
    losses = []
    with torch.no_grad():
        for start in range(0, min(len(packed), size * script.eval_max_batches) - size + 1, size):
            batch = train_data.PackedCollator()([{"input_ids": b} for b in packed[start : start + size]])
            batch = {k: v.to(xm.xla_device()) for k, v in batch.items()}
            losses.append(model(**batch).loss.detach())
    if losses and rank()[0] == 0:
        print(f"validation_loss={torch.stack(losses).mean().item():.4f} batches={len(losses)}", flush=True)


def export(script: ScriptArguments, resume: train_resume.ResumePlan, base: Path, saved: Path, tokenizer: Any) -> None:
    """/opt/ml/model: the trained weights as a Hugging Face directory; LoRA adapters merged."""
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    if script.method == "lora":
        adapters = [*resume.lora_chain]
        if resume.resumed:
            adapters.append(CHECKPOINT_DIR / train_resume.LORA_CHAIN / str(resume.segment))
        adapters.append(train_export.adapter_dir(saved))
        train_export.merge_lora(base, adapters, MODEL_DIR)
    else:
        train_export.full_weights(saved, MODEL_DIR)
    train_export.copy_model_files(base, MODEL_DIR)
    train_export.save_tokenizer(tokenizer, MODEL_DIR)
    manifest = sorted(p.name for p in MODEL_DIR.iterdir())
    print(f"model saved to {MODEL_DIR}: {json.dumps(manifest)}", flush=True)


if __name__ == "__main__":
    main()
