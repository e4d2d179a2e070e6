"""`neuronctl plan --train`: the training-memory pre-flight's rows for a profile's training jobs, and the splits that
fit a model.

Both come from `neuron.training_memory`, the arithmetic `config.training` runs at synth: a job shown as fitting here
passes the pre-flight, and the pre-flight's refusal names the same numbers and the same smallest fit.

    neuronctl plan --train                     the profile's lifecycle jobs (fine_tune, pretrain): rows and verdict
    neuronctl plan --train llama-3.1-8b --method full --seq 4096
                                               for each Trainium instance type and node count, the smallest split
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from neuron import training_memory
from neuron.catalog import TRAINING_IMAGE_FAMILIES, ContainerKind
from neuron.models import UnknownModelError, preset
from neuron.training_memory import TrainingFit, TrainingShape
from neuronctl import output
from neuronctl.errors import CliError, ExitCode

# train.py runs only in the HF training image (config/training.py TRAINING_CONTAINERS): its instance families.
FAMILIES = TRAINING_IMAGE_FAMILIES.get(ContainerKind.HF_TRAINING_NEURONX)


def fit_json(fit: TrainingFit) -> dict[str, Any]:
    s = fit.shape
    return {
        "model": s.model.name,
        "method": s.method,
        "teacher": s.teacher.name if s.teacher else None,
        "instance_type": s.instance_type,
        "instance_count": s.instance_count,
        "tensor_parallel_degree": s.tensor_parallel,
        "pipeline_parallel_degree": s.pipeline_parallel,
        "data_parallel_degree": s.data_parallel,
        "micro_batch_size": s.micro_batch,
        "sequence_length": s.sequence_length,
        "gradient_checkpointing": s.gradient_checkpointing,
        "zero_1": s.zero_1,
        "trainable_parameters": fit.trainable_parameters,
        **{name.replace(" ", "_") + "_gib": round(gib, 2) for name, gib in fit.rows},
        "host_required_gib": round(fit.host_required_gib, 2),
        "host_memory_gib": fit.host_memory_gib,
        "fits": fit.fits,
    }


def profile_jobs(config: Any) -> list[tuple[str, TrainingShape]]:
    lifecycle = config.lifecycle
    jobs = [("lifecycle.fine_tune", lifecycle.fine_tune)]
    if lifecycle.pretrain is not None:
        jobs.insert(0, ("lifecycle.pretrain", lifecycle.pretrain))
    return [(name, job.memory_shape) for name, job in jobs]


def model_shape(args: Any) -> TrainingShape:
    try:
        model = preset(args.model)
        teacher = preset(args.teacher) if args.teacher else None
    except UnknownModelError as err:
        raise CliError(str(err), ExitCode.USAGE) from None
    return TrainingShape(
        model=model,
        method=args.method or "lora",
        instance_type="ml.trn1.2xlarge",
        instance_count=1,
        tensor_parallel=1,
        pipeline_parallel=1,
        micro_batch=args.micro_batch,
        sequence_length=args.seq,
        gradient_checkpointing=True,
        zero_1=not args.no_zero_1,
        lora_rank=args.lora_rank,
        teacher=teacher,
    )


def _rows_table(fit: TrainingFit) -> str:
    return output.table(["per NeuronCore", "GiB"], [[name, f"{gib:.1f}"] for name, gib in fit.rows], right=(1,))


def _splits_table(fits: list[TrainingFit]) -> str:
    return output.table(
        ["instance", "nodes", "TP", "PP", "DP", "ckpt", "weights", "grads", "optim", "activ", "GiB used/avail"],
        [
            [
                f.shape.instance_type,
                f.shape.instance_count,
                f.shape.tensor_parallel,
                f.shape.pipeline_parallel,
                f.shape.data_parallel,
                "on" if f.shape.gradient_checkpointing else "off",
                f"{f.weights_gib:.1f}",
                f"{f.gradients_gib:.1f}",
                f"{f.optimizer_gib:.1f}",
                f"{f.activations_gib:.1f}",
                f"{f.used_gib:.1f}/{f.available_gib:.0f}",
            ]
            for f in fits
        ],
        right=(1, 2, 3, 4, 6, 7, 8, 9, 10),
    )


def cmd_plan_train(ctx: Any) -> int:
    a = ctx.args
    if a.model is None:
        return _profile(ctx)
    base = model_shape(a)
    fits = training_memory.feasible(base, FAMILIES)
    if a.json:
        output.dump_json({"configurations": [fit_json(f) for f in fits]})
        return ExitCode.OK if fits else ExitCode.REFUSED
    if not fits:
        raise CliError(
            f"{training_memory.suggestion(base, FAMILIES)} ({base.model.name}, {base.method})", ExitCode.REFUSED
        )
    method = f"LoRA r={base.lora_rank}" if base.method == "lora" else "full"
    teacher = f", teacher {base.teacher.name}" if base.teacher else ""
    print(
        f"{base.model.name} {method}{teacher}: micro-batch {base.micro_batch} x {base.sequence_length} tokens; "
        "for each instance type and node count, the split with the fewest NeuronCores per replica"
    )
    print(_splits_table(fits))
    output.note(
        "per NeuronCore: bf16 weights, fp32 gradients, ZeRO-1 optimizer state (fp32 master + AdamW) / DP, activations "
        "(+ fp32 logits), 10 % + 1 GiB headroom; the synth pre-flight's arithmetic (neuron/training_memory.py)"
    )
    return ExitCode.OK


def _profile(ctx: Any) -> int:
    config = ctx.config
    results = []
    for name, shape in profile_jobs(config):
        problems = training_memory.topology_problems(shape)
        fit = training_memory.measure(shape)
        results.append((name, shape, fit, problems))
    if ctx.args.json:
        output.dump_json(
            {
                "profile": config.profile,
                "jobs": {name: {**fit_json(fit), "refusals": problems} for name, _, fit, problems in results},
            }
        )
        return ExitCode.OK if all(f.fits and not p for _, _, f, p in results) else ExitCode.REFUSED
    refused = False
    for name, shape, fit, problems in results:
        print(f"{name}: {shape.describe()}")
        print(_rows_table(fit))
        if problems or not fit.fits:
            refused = True
            print(f"refused: {'; '.join(problems) or training_memory.suggestion(shape, FAMILIES)}")
        else:
            same = training_memory.smallest_fit(replace(shape), families=FAMILIES)
            smaller = same is not None and same.shape.cores < shape.cores
            print(
                f"fits: {fit.used_gib:.1f} of {fit.available_gib:.0f} GiB per NeuronCore"
                + (f"; smaller: {training_memory.option(same)}" if smaller and same else "")
            )
    return ExitCode.REFUSED if refused else ExitCode.OK
